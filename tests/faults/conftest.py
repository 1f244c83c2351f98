"""The fault matrix's world: moto's S3 server for the folder, a fresh sandbox per test, and the expected archive.

Every export is real: ``SRConnectToS3Operator.execute`` against the sandbox over HTTP and moto over HTTP,
with both connections given as ``AIRFLOW_CONN_*`` variables. The expected archive is built from the
sandbox's own generators (records and log files), never from the provider.
"""

from __future__ import annotations

import gzip
import hashlib
import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pendulum
import pytest

from airflow_provider_srconnect import contract
from airflow_provider_srconnect.export import CONSOLE_LINES_KEY, FULL_MESSAGE_KEY, HTTP_ENTRIES_KEY, IncludeLogs
from airflow_provider_srconnect.sandbox import (
    DEFAULT_API_KEY,
    DEFAULT_EMAIL,
    DEFAULT_TEAM,
    SandboxConfig,
    SandboxServer,
    logfiles,
)
from airflow_provider_srconnect.transfers.srconnect_to_s3 import SRConnectToS3Operator
from tests.e2e.conftest import s3_endpoint
from tests.hooks.conftest import sleeps

__all__ = ["s3_endpoint", "sleeps"]

Record = dict[str, Any]
SRC_CONN = "srconnect_faults"
AWS_CONN = "aws_faults"
PREFIX = "faults"
#: Two settled hours three days ago (real clock): 20 to 60 invocations (4 to 12 pages), all finished, so
#: every log is stored.
WINDOW_START = pendulum.today("UTC").subtract(days=3).add(hours=6)
WINDOW_END = WINDOW_START.add(hours=2)
PAGE_SIZE = 5
#: Fast, bounded retries; a test that needs other values passes them to ``connect``.
RETRY_EXTRA = {"max_retries": 10, "max_retry_wait": 30, "timeout": 10}
_buckets = itertools.count(1)


def sandbox_config(latency_ms: float = 0) -> SandboxConfig:
    """The sandbox of every case: real clock, deterministic data, no server-side limit (429s only from storms)."""
    return SandboxConfig(seed=23, invocations_per_hour=20, rate_limit_per_second=0, latency_ms=latency_ms)


@dataclass
class Matrix:
    """One case: a running sandbox, its connection, an empty bucket of its own, and the export to run."""

    server: SandboxServer
    s3: Any
    bucket: str
    monkeypatch: pytest.MonkeyPatch
    extra: dict[str, Any] = field(default_factory=dict)

    def connect(self, **extra: Any) -> None:
        """Point the SRC connection at the current sandbox, with these extras over the defaults."""
        self.extra = {
            "team_id": DEFAULT_TEAM,
            "rate_limit_per_second": 1000,
            "burst": 100,
            **RETRY_EXTRA,
            **extra,
        }
        conn = {
            "conn_type": "srconnect",
            "host": self.server.url,
            "login": DEFAULT_EMAIL,
            "password": DEFAULT_API_KEY,
            "extra": self.extra,
        }
        self.monkeypatch.setenv(f"AIRFLOW_CONN_{SRC_CONN.upper()}", json.dumps(conn))

    def export(self, include_logs: IncludeLogs = "none") -> dict[str, Any]:
        """Run the real export of the window and return its XCom value."""
        op = SRConnectToS3Operator(
            task_id="archive",
            srconnect_conn_id=SRC_CONN,
            aws_conn_id=AWS_CONN,
            s3_bucket=self.bucket,
            prefix=PREFIX,
            include_logs=include_logs,
            page_size=PAGE_SIZE,
        )
        result: dict[str, Any] = op.execute({"data_interval_start": WINDOW_START, "data_interval_end": WINDOW_END})
        return result

    def keys(self) -> list[str]:
        """Every key in the bucket."""
        listing = self.s3.list_objects_v2(Bucket=self.bucket)
        return sorted(item["Key"] for item in listing.get("Contents", []))

    def expected(self, include_logs: IncludeLogs = "none") -> list[Record]:
        """The window as the sandbox serves it, with the logs the export should attach."""
        truth = self.server.ground_truth.invocations(DEFAULT_TEAM, WINDOW_START, WINDOW_END)
        assert truth, "an empty window would prove nothing"
        wanted = [
            include_logs == "all"
            or (include_logs == "failed" and r[contract.InvocationField.EXECUTION_STATUS] in contract.FAILED_STATUSES)
            for r in truth
        ]
        return [self._with_logs(r) if want else r for r, want in zip(truth, wanted, strict=True)]

    def _with_logs(self, record: Record) -> Record:
        found = self.server.app.dataset.find_invocation(record[contract.InvocationField.ID])
        assert found is not None and found[1] is not None
        raw, seed = found[1], self.server.config.seed
        extra: Record = {}
        if record[contract.InvocationField.CONSOLE_LOGS]:
            lines = logfiles.console_file(seed, DEFAULT_TEAM, raw)[contract.DEFAULT.log_files.console_wrapper]
            for line in lines:
                if line.get(contract.DEFAULT.log_files.console.large_message_id):
                    line[FULL_MESSAGE_KEY] = logfiles.large_message(seed, raw)
            extra[CONSOLE_LINES_KEY] = lines
        if record[contract.InvocationField.HTTP_LOGS]:
            extra[HTTP_ENTRIES_KEY] = logfiles.http_file(seed, raw)[contract.DEFAULT.log_files.http_wrapper]
        return {**record, **extra}

    def assert_recovered(self, xcom: dict[str, Any], include_logs: IncludeLogs = "none") -> None:
        """The archive holds exactly the window (ids in order, field for field) and its manifest matches."""
        data_key = xcom["data_uri"].removeprefix(f"s3://{self.bucket}/")
        manifest_key = xcom["manifest_uri"].removeprefix(f"s3://{self.bucket}/")
        assert self.keys() == sorted([data_key, manifest_key])
        data = self.s3.get_object(Bucket=self.bucket, Key=data_key)["Body"].read()
        manifest = json.loads(self.s3.get_object(Bucket=self.bucket, Key=manifest_key)["Body"].read())
        records = [json.loads(line) for line in gzip.decompress(data).splitlines()]
        expected = self.expected(include_logs)
        ids = contract.InvocationField.ID
        assert [r[ids] for r in records] == [r[ids] for r in expected]
        assert records == expected
        digest = hashlib.sha256(data).hexdigest()
        assert manifest["sha256"] == digest == xcom["sha256"]
        assert manifest["records"] == len(expected) and manifest["bytes"] == len(data)

    def assert_nothing_written(self) -> None:
        """No object at all in the case's bucket: neither data nor manifest."""
        assert self.keys() == []


@pytest.fixture
def matrix(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Matrix]:
    """A started sandbox, both connections and a fresh bucket; the sandbox is stopped afterwards."""
    aws = {
        "conn_type": "aws",
        "login": "testing",
        "password": "testing",
        "extra": {"endpoint_url": s3_endpoint, "region_name": "us-east-1"},
    }
    monkeypatch.setenv(f"AIRFLOW_CONN_{AWS_CONN.upper()}", json.dumps(aws))
    s3 = boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    bucket = f"srconnect-faults-{next(_buckets)}"
    s3.create_bucket(Bucket=bucket)
    case = Matrix(SandboxServer(sandbox_config()).start(), s3, bucket, monkeypatch)
    case.connect()
    try:
        yield case
    finally:
        case.server.stop()


def fired(server: SandboxServer, kind: str) -> int:
    """How often the sandbox injected the fault ``kind`` (e.g. ``reset``, ``download:reset``)."""
    return server.stats.faults.get(kind, 0)
