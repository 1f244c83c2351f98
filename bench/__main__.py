"""``python -m bench``: the whole benchmark of issue 5 in one run (``bench/run`` is the same, with the venv).

Prints progress, then the results table and the targets, and writes ``bench/results.json`` and
``bench/results.md``. ``--quick`` runs every case at a small size, to check the setup in about two minutes.
``--only SUBSTRING`` runs the cases whose name holds it (and the serialise measurement only if its name,
"serialise + gzip", does): ``--only "no limit"`` gives JSONL and Parquet side by side at every size.
``--sizes 10000,100000,1000000,3000000`` sets the records of the unlimited windows (the baselines run up
to 100k).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench import report
from bench.cases import Case, window_of
from bench.runner import REPO_ROOT, Run, run_one
from bench.servers import MotoS3
from bench.spec import CONTENDERS

HERE = Path(__file__).resolve().parent
#: Invocations in the window of the log cases, and the API latency the sandbox adds to each call.
LOG_INVOCATIONS = 200
LATENCY_MS = 150.0
#: Records of the invocation-only window listed at 20 req/s with the same latency (pages only).
PAGED_RECORDS = 10_000
#: Sandbox density of the volume cases (invocations per hour; each page costs the sandbox O(page + hour)).
VOLUME_PER_HOUR = 20_000
#: Records of the unlimited windows; the baselines stop at BASELINES_UP_TO (their memory grows with N).
VOLUME_SIZES = (10_000, 100_000, 1_000_000)
QUICK_SIZES = (2_000, 10_000, 30_000)
BASELINES_UP_TO = 100_000
ALL = CONTENDERS
#: The name ``--only`` matches for the serialise measurement.
SERIALISE = "serialise + gzip"


def label(records: int) -> str:
    """10000 → "10k", 3000000 → "3M"."""
    for unit, suffix in ((1_000_000, "M"), (1_000, "k")):
        if records >= unit and records % unit == 0:
            return f"{records // unit}{suffix}"
    return f"{records:,}"


def cases(quick: bool, sizes: tuple[int, ...] | None = None) -> list[Case]:
    n = 40 if quick else LOG_INVOCATIONS
    paged = 2_000 if quick else PAGED_RECORDS
    sizes = sizes or (QUICK_SIZES if quick else VOLUME_SIZES)
    logs = [
        Case(f"logs, {rate:g} req/s", "all", n, 60, LATENCY_MS, rate, int(rate), ALL, days_back=3)
        for rate in (5.0, 20.0)
    ]
    # The same window with the previous default of 4 log workers: what the default of 8 gains.
    logs.append(
        dataclasses.replace(logs[-1], name="logs, 20 req/s, 4 log workers", contenders=("ours",), log_workers=4)
    )
    # Issue 15: a client budget of 20 req/s against a plan of 10: the budget must learn the real limit.
    logs.append(
        dataclasses.replace(
            logs[1], name="logs, 10 req/s, budget 20", rate=10.0, burst=10, budget=(20.0, 20), contenders=("ours",)
        )
    )
    pages = Case(
        f"no logs, 20 req/s, {label(paged)}", "none", paged, VOLUME_PER_HOUR, LATENCY_MS, 20.0, 20, ALL, days_back=6
    )
    volume = [
        Case(
            f"no logs, no limit, {label(size)}",
            "none",
            size,
            VOLUME_PER_HOUR,
            0.0,
            None,
            1,
            ALL if size < sizes[-1] and size <= BASELINES_UP_TO else ("ours",),
            days_back=max(6, math.ceil(size / VOLUME_PER_HOUR / 24) + 2),  # the window ends days before now
        )
        for size in sizes
    ]
    # Issue 7: the same windows archived as Parquet (ours only), checked against ours' JSONL by record id.
    parquet = [
        dataclasses.replace(
            case, name=f"{case.name}, parquet", contenders=("ours",), output_format="parquet", reference=case.name
        )
        for case in volume
    ]
    return [*logs, pages, *volume, *parquet]


def serialise(records: int) -> dict[str, Any] | None:
    """The serialise + gzip path alone, in a process of its own."""
    done = subprocess.run(
        [sys.executable, "-m", "bench.serialize", "--records", str(records)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if done.returncode != 0:
        print(f"bench: serialise failed: {done.stderr[-500:]}", file=sys.stderr)
        return None
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes: checks the setup, measures little")
    parser.add_argument("--out", type=Path, default=HERE / "results.json", help="the JSON results (and .md beside)")
    parser.add_argument(
        "--only", metavar="SUBSTRING", help=f"run only the cases whose name holds it ('{SERIALISE}' is one)"
    )
    parser.add_argument(
        "--sizes",
        type=lambda text: tuple(sorted(int(n) for n in text.split(","))),
        metavar="N,N,...",
        help=f"records of the unlimited windows (default {','.join(map(str, VOLUME_SIZES))})",
    )
    args = parser.parse_args(argv)
    plan = cases(args.quick, args.sizes)
    measure_serialise = args.only is None or args.only in SERIALISE
    if args.only is not None:
        plan = [case for case in plan if args.only in case.name]
        if not plan and not measure_serialise:
            names = ", ".join(repr(case.name) for case in cases(args.quick, args.sizes))
            parser.error(f"--only {args.only!r} matches none of {names} or {SERIALISE!r}")
    began = time.monotonic()
    machine = report.machine()
    print(
        f"bench: {machine['cpus']} CPUs ({machine['cpu_model']}), Python {machine['python']}, "
        f"load average {machine['load_average'][0]:.2f}",
        flush=True,
    )

    windows = {}
    generation: dict[str, float] = {}
    for case in sorted(plan, key=lambda c: -c.records):  # the largest first: its time is the cold cost
        windows[case.name], generation[case.name] = window_of(case)
        print(
            f"bench: window of '{case.name}': {windows[case.name].records:,} records, "
            f"generated by the sandbox in {generation[case.name]:.1f} s",
            flush=True,
        )

    serialised = serialise(20_000 if args.quick else 100_000) if measure_serialise else None
    if serialised:
        print(f"bench: serialise + gzip: {serialised['records_per_s']:,.0f} records/s", flush=True)

    runs: list[Run] = []
    with MotoS3() as moto:
        for case in plan:
            for contender in case.contenders:
                run = run_one(case, windows[case.name], contender, moto)
                runs.append(run)
                o = run.outcome
                status = f"{o.wall_s:.1f} s, peak RSS {o.peak_rss_mb:.0f} MB" if o.ok else f"FAILED {o.error[:200]}"
                print(f"bench: {case.name} / {contender}: {status}", flush=True)

    elapsed = time.monotonic() - began
    machine["load_average_end"] = os.getloadavg()
    table = report.table(runs)
    checks = report.targets(runs, serialised)
    if serialised:
        serialise_text = report.serialise_table(serialised)
    else:
        serialise_text = f"{SERIALISE}: " + ("failed" if measure_serialise else f"not run (--only {args.only!r})")
    parts = [
        table,
        report.phases_table(runs),
        report.formats_table(runs),
        serialise_text,
        report.targets_text(checks),
        f"Total {elapsed / 60:.1f} min on {machine['cpus']} CPUs ({machine['cpu_model']}), Python "
        f"{machine['python']}; load average {machine['load_average'][0]:.2f} at the start, "
        f"{machine['load_average_end'][0]:.2f} at the end.",
    ]
    text = "\n\n".join(part for part in parts if part)  # a table with no rows is left out
    print("\n" + text)
    extra = {
        "machine": machine,
        "elapsed_s": elapsed,
        "quick": args.quick,
        "only": args.only,
        "generation_s": generation,
    }
    report.write_json(args.out, runs, serialised, extra)
    args.out.with_suffix(".md").write_text(text + "\n")
    print(f"\nbench: wrote {args.out} and {args.out.with_suffix('.md')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
