"""Runs one contender on one case: a fresh sandbox, a fresh bucket, the contender's own process.

The result joins what the contender measured (job wall time, peak RSS, CPU) with what the servers
saw (calls by route, 429s, the sandbox's CPU) and what landed in S3 (records, a digest of the
decompressed data and one of the record ids, so that contenders and formats can be checked against
each other).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import itertools
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow_provider_srconnect.contract import InvocationField
from bench.servers import Calls, CountingSandbox
from bench.spec import Outcome, Spec

if TYPE_CHECKING:
    from bench.cases import Case, Window
    from bench.servers import MotoS3
    from bench.spec import ContenderName

REPO_ROOT = Path(__file__).resolve().parent.parent
#: A contender that takes longer than this is stopped (the whole benchmark must end by itself).
CHILD_TIMEOUT_S = 900
_buckets = itertools.count(1)
#: The record id: the benchmark exports invocation records.
ID = InvocationField.ID


@dataclass(frozen=True)
class Landed:
    """The data a contender wrote (a window's Parquet may be several files).

    ``content_sha256`` is the sha256 of the decompressed NDJSON (comparable between JSONL objects) or
    of the Parquet files' bytes, one after another; ``ids_sha256`` that of the record ids in file order,
    one a line (comparable between the formats).
    """

    records: int
    content_sha256: str
    compressed_bytes: int
    ids_sha256: str


@dataclass(frozen=True)
class Run:
    case: Case
    window: Window
    outcome: Outcome
    calls: Calls
    sandbox_cpu_s: float
    landed: Landed | None

    @property
    def t_min_s(self) -> float | None:
        """The issue's bound: max(0, P + k·N - burst) / rate; None without a rate limit."""
        if self.case.rate is None:
            return None
        return max(0, self.calls.api_calls - self.case.burst) / self.case.rate


def _parent_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _ids(digest: Any, lines: bytes) -> None:
    """Add the record id of each complete NDJSON line in ``lines`` to ``digest``."""
    for line in lines.splitlines():
        digest.update(json.loads(line)[ID].encode() + b"\n")


def inspect_jsonl(s3: Any, bucket: str, key: str) -> Landed:
    """Stream the object, gunzip it (every member) and count, hash and read the ids of its lines."""
    body = s3.get_object(Bucket=bucket, Key=key)["Body"]
    digest, ids = hashlib.sha256(), hashlib.sha256()
    lines = compressed = 0
    partial = b""
    inflate = zlib.decompressobj(wbits=31)
    for chunk in body.iter_chunks(1 << 20):
        compressed += len(chunk)
        while chunk:
            data = inflate.decompress(chunk)
            digest.update(data)
            lines += data.count(b"\n")
            whole, _, partial = (partial + data).rpartition(b"\n")
            _ids(ids, whole)
            chunk = inflate.unused_data
            if chunk:  # the next gzip member
                inflate = zlib.decompressobj(wbits=31)
    _ids(ids, partial)  # a last line without its newline (none, in a well-formed object)
    return Landed(lines, digest.hexdigest(), compressed, ids.hexdigest())


def inspect_parquet(s3: Any, bucket: str, key: str) -> Landed:
    """Read the window's files whole (a Parquet footer is at its end), ``key`` and then ``{name}-0001.parquet``
    and on: their rows and their ids, in order."""
    import pyarrow.parquet as pq

    stem = key.removesuffix(".parquet")
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=f"{stem}-").get("Contents", [])
    digest, ids = hashlib.sha256(), hashlib.sha256()
    rows = size = 0
    for one in [key, *sorted(item["Key"] for item in listed)]:
        data = s3.get_object(Bucket=bucket, Key=one)["Body"].read()
        table = pq.read_table(io.BytesIO(data), columns=[ID], use_threads=False)
        for batch in table.to_batches():
            ids.update(b"".join(value.encode() + b"\n" for value in batch.column(0).to_pylist()))
        digest.update(data)
        rows += table.num_rows
        size += len(data)
    return Landed(rows, digest.hexdigest(), size, ids.hexdigest())


def _empty(s3: Any, bucket: str) -> None:
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for item in page.get("Contents", []):
            s3.delete_object(Bucket=bucket, Key=item["Key"])
    s3.delete_bucket(Bucket=bucket)


def run_one(case: Case, window: Window, contender: ContenderName, moto: MotoS3) -> Run:
    s3 = moto.client()
    bucket = f"bench-{next(_buckets)}"
    s3.create_bucket(Bucket=bucket)
    start, end = window.text()
    with CountingSandbox(case.sandbox_config()) as sandbox, tempfile.TemporaryDirectory() as tmp:
        spec = Spec(
            contender=contender,
            sandbox_url=sandbox.url,
            s3_url=moto.url,
            bucket=bucket,
            key=case.name.replace(" ", "_").replace("/", "_") + case.suffix,
            start=start,
            end=end,
            include_logs=case.include_logs,
            rate=case.client_rate,
            burst=case.client_burst,
            log_workers=case.log_workers,
            output_format=case.output_format,
        )
        spec_path, outcome_path = Path(tmp, "spec.json"), Path(tmp, "outcome.json")
        spec.dump(spec_path)
        path = os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))
        env = {**os.environ, "PYTHONPATH": path}
        cpu_before = _parent_cpu()
        began = time.perf_counter()
        # On a timeout, subprocess.run has killed the child; the missing outcome says so.
        with open(Path(tmp, "child.log"), "wb") as log, contextlib.suppress(subprocess.TimeoutExpired):
            subprocess.run(
                [sys.executable, "-m", "bench.child", str(spec_path), str(outcome_path)],
                cwd=REPO_ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                timeout=CHILD_TIMEOUT_S,
                check=False,
            )
        sandbox_cpu = _parent_cpu() - cpu_before
        if outcome_path.exists():
            outcome = Outcome.load(outcome_path)
        else:
            tail = Path(tmp, "child.log").read_text(errors="replace")[-800:]
            outcome = Outcome(contender, ok=False, wall_s=time.perf_counter() - began, error=f"no outcome: {tail}")
        calls = sandbox.calls()
    inspect = inspect_parquet if case.output_format == "parquet" else inspect_jsonl
    landed = inspect(s3, bucket, outcome.key) if outcome.ok else None
    _empty(s3, bucket)
    return Run(case, window, outcome, calls, sandbox_cpu, landed)
