"""One contender in a process of its own: ``python -m bench.child SPEC.json OUTCOME.json``.

It imports and configures the contender, then times the job alone and reports its own peak RSS
(``VmHWM``: this process only) and CPU time. A failed job is reported, not raised.
"""

from __future__ import annotations

import atexit
import importlib
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

from bench.spec import Outcome, Spec

_PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_mb() -> float:
    """The resident size now, in MiB."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * _PAGE / 2**20


def peak_rss_mb() -> float:
    """The peak resident size of this process image so far, in MiB (``VmHWM``).

    Not ``ru_maxrss``: Linux carries the parent's peak over into a child across fork and exec, so a
    child of the orchestrator (which holds the sandbox's records) would report the orchestrator's size.
    """
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def import_cost_mb(*modules: str) -> float:
    """The resident MiB that importing ``modules`` adds: a fixed cost, counted apart from the job."""
    before = rss_mb()
    for name in modules:
        importlib.import_module(name)
    return rss_mb() - before


def cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def isolate_airflow() -> None:
    """A throwaway Airflow home (removed at exit) and no cloud credentials from the caller's environment."""
    home = tempfile.mkdtemp(prefix="srconnect-bench-airflow-")
    atexit.register(shutil.rmtree, home, ignore_errors=True)
    os.environ.update(
        AIRFLOW_HOME=home,
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AWS_EC2_METADATA_DISABLED="true",
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="us-east-1",
    )
    os.environ.pop("AWS_PROFILE", None)


def run(spec: Spec) -> Outcome:
    outcome = Outcome(spec.contender, ok=False)
    try:
        module = importlib.import_module(f"bench.contenders.{spec.contender}")
        job = module.prepare(spec)
    except Exception as error:
        outcome.error = f"prepare: {type(error).__name__}: {error}"
        return outcome
    if spec.output_format == "parquet":  # the writer would import these inside the job
        outcome.library_mb = import_cost_mb("pyarrow.json", "pyarrow.parquet")
    outcome.rss_before_mb = rss_mb()
    cpu_before = cpu_s()
    started = time.perf_counter()
    outcome.started_at = time.time()
    try:
        outcome.records, outcome.key = job()
        outcome.ok = True
    except Exception as error:
        outcome.error = f"{type(error).__name__}: {str(error)[:500]}"
        from airflow_provider_srconnect.exceptions import SRConnectRateLimitError

        outcome.rate_limit_errors_surfaced = int(isinstance(error, SRConnectRateLimitError))
    outcome.wall_s = time.perf_counter() - started
    outcome.ended_at = time.time()
    outcome.cpu_s = cpu_s() - cpu_before
    outcome.peak_rss_mb = peak_rss_mb()
    return outcome


def main(argv: list[str]) -> int:
    spec_path, outcome_path = (Path(arg) for arg in argv)
    isolate_airflow()
    run(Spec.load(spec_path)).dump(outcome_path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
