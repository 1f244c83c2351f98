"""``python -m bench.writer``: the Parquet writer alone (no HTTP, no upload) at several row-group sizes.

Each size runs in a process of its own. Sandbox records, parsed afresh from JSON a page of 100 at a time
(as the hook hands them over) and each with an id of its own, go through ``ParquetRecordWriter`` into a
spooled temporary file, as in an export. The process reports its peak RSS above the moment pyarrow was
imported, and its resident size after the file was closed: what the writer holds is one row group in
Arrow plus the footer, which describes every row group and stays in memory until the file ends.

    .venv/bin/python -m bench.writer --records 1000000 --row-group-rows 2048,8192,32768
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from typing import Any

from bench.child import import_cost_mb, peak_rss_mb, rss_mb

PAGE = 100
SAMPLE = 4096


def _pages() -> list[str]:
    """``SAMPLE`` sandbox invocation records as JSON text, ``PAGE`` records a text."""
    from airflow_provider_srconnect.sandbox.config import SandboxConfig
    from airflow_provider_srconnect.sandbox.window import Dataset, Moment

    dataset = Dataset(SandboxConfig(invocations_per_hour=3_600))
    start = int(dt.datetime(2026, 1, 1, tzinfo=dt.UTC).timestamp() * 1000)
    moment = Moment.at(dt.datetime(2026, 6, 1, tzinfo=dt.UTC))
    sample = list(itertools.islice(dataset.invocations("team", start, start + 10**11, moment), SAMPLE))
    return [json.dumps(sample[at : at + PAGE]) for at in range(0, SAMPLE, PAGE)]


def _records(pages: list[str], count: int) -> Iterator[dict[str, Any]]:
    """``count`` records parsed afresh a page at a time, each with an id of its own."""
    from airflow_provider_srconnect import contract

    made = 0
    for text in itertools.cycle(pages):
        for record in json.loads(text):
            if made == count:
                return
            record[contract.InvocationField.ID] = f"inv-{made:012d}"
            made += 1
            yield record


def one(records: int, row_group_rows: int) -> dict[str, float]:
    """Write ``records`` with row groups of ``row_group_rows``; measure this process."""
    from airflow_provider_srconnect._parquet import ParquetRecordWriter
    from airflow_provider_srconnect.export import DigestWriter

    source = _records(_pages(), records)
    import_cost_mb("pyarrow.json", "pyarrow.parquet")  # the writer's imports, before the baseline
    base = rss_mb()
    began = time.perf_counter()
    with tempfile.SpooledTemporaryFile(max_size=4 << 20) as spool:
        with ParquetRecordWriter(DigestWriter(spool), "invocations", row_group_rows=row_group_rows) as writer:
            for record in source:
                writer.write(record)
        return {
            "row_group_rows": row_group_rows,
            "row_groups": writer.row_groups,
            "seconds": time.perf_counter() - began,
            "peak_mb": peak_rss_mb() - base,
            "after_mb": rss_mb() - base,
        }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.writer", description=__doc__)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--row-group-rows", default="2048,8192,32768", help="comma-separated sizes")
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    sizes = [int(n) for n in args.row_group_rows.split(",")]
    if args.one:
        print(json.dumps(one(args.records, sizes[0])))
        return 0
    print(f"| row group records | row groups | writer peak MB | held after close MB | s ({args.records:,} records) |")
    print("|---|---|---|---|---|")
    for size in sizes:
        command = [sys.executable, "-m", "bench.writer", "--one", "--records", str(args.records)]
        out = subprocess.run([*command, "--row-group-rows", str(size)], check=True, capture_output=True, text=True)
        r = json.loads(out.stdout)
        print(
            f"| {size:,} | {r['row_groups']:,} | {r['peak_mb']:+.0f} | {r['after_mb']:+.0f} | {r['seconds']:.1f} |",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
