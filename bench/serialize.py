"""The serialise + gzip path alone, on one core: ``python -m bench.serialize [--records N]``.

Times ``export.write_window`` (encode, gzip, sha256) over invocation records as the sandbox serves
them, built beforehand and handed over by a stub hook: no HTTP, no threads. Also times each stage
alone, so the table shows where the time goes. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import statistics
import sys
import time
import zlib
from typing import Any

import pendulum

from airflow_provider_srconnect.export import ExportRequest, encode_record, write_window
from airflow_provider_srconnect.sandbox import SandboxConfig
from airflow_provider_srconnect.sandbox.data import HOUR_MS
from airflow_provider_srconnect.sandbox.window import Dataset
from airflow_provider_srconnect.windows import LogWindow
from bench.child import peak_rss_mb
from bench.spec import TEAM

#: gzip's level in the export (``GzipFile``'s default).
GZIP_LEVEL = 9
BLOCK = 1 << 16


class _Null:
    """A sink that only counts."""

    def __init__(self) -> None:
        self.size = 0

    def write(self, data: Any) -> int:
        n = memoryview(data).nbytes
        self.size += n
        return n


def records(count: int, per_hour: int = 20_000) -> list[dict[str, Any]]:
    """``count`` invocation records as the sandbox serves them (days in the past: none running)."""
    dataset = Dataset(SandboxConfig(seed=5, invocations_per_hour=per_hour))
    moment = dataset.moment()
    start = (moment.end_ms - 8 * 86_400_000) // HOUR_MS * HOUR_MS
    out: list[dict[str, Any]] = []
    for record in dataset.invocations(TEAM, start, moment.end_ms, moment):
        out.append(record)
        if len(out) == count:
            break
    return out


def _best(repeat: int, fn: Any) -> tuple[float, float]:
    times = []
    for _ in range(repeat):
        began = time.process_time()
        fn()
        times.append(time.process_time() - began)
    return min(times), statistics.median(times)


def measure(count: int, repeat: int) -> dict[str, Any]:
    prepared = records(count)
    window = LogWindow(pendulum.instance(dt.datetime(2000, 1, 1, tzinfo=dt.UTC)), pendulum.now("UTC"))
    request = ExportRequest()
    sink = _Null()
    best, median = _best(repeat, lambda: write_window(None, window, request, sink, iter(prepared)))  # type: ignore[arg-type]
    ndjson = b"".join(encode_record(r) for r in prepared)

    def gzip_only() -> None:
        deflate = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 31)
        for at in range(0, len(ndjson), BLOCK):
            deflate.compress(ndjson[at : at + BLOCK])
        deflate.flush()

    stages = {
        "encode": _best(repeat, lambda: [encode_record(r) for r in prepared])[0],
        "gzip": _best(repeat, gzip_only)[0],
        # An upper bound: the export hashes the compressed bytes, this hashes the uncompressed ones.
        "sha256": _best(repeat, lambda: hashlib.sha256(ndjson).digest())[0],
    }
    return {
        "records": count,
        "ndjson_bytes": len(ndjson),
        "cpu_s_best": best,
        "cpu_s_median": median,
        "records_per_s": count / best,
        "mb_per_s": len(ndjson) / best / 1e6,
        "stages_cpu_s": stages,
        "peak_rss_mb": peak_rss_mb(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.serialize", description=__doc__)
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    print(json.dumps(measure(args.records, args.repeat)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
