"""The documented queries, run by DuckDB over archives the example DAGs wrote (both formats), against the truth.

``srconnect_backfill`` archives two days of invocations and audit records to S3 (moto), once as gzip
JSON Lines and once as Parquet. The Parquet run reads each day in four sub-windows (four row groups) and
ends a file after three, so each day is two Parquet files, as a window past ``FILE_ROW_GROUPS`` is. The
objects are copied to a local folder with their keys, and DuckDB reads each log type's folder as a
Hive-partitioned table through the views of ``docs/schema.md``. Each query of ``docs/queries/`` must
give exactly what the sandbox's ``GroundTruth`` says, in both formats.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pytest

from airflow_provider_srconnect import _parquet, contract, schema
from airflow_provider_srconnect.export import FORMATS, archive_keys
from airflow_provider_srconnect.operators.srconnect import SRConnectExportOperator
from airflow_provider_srconnect.sandbox import DEFAULT_TEAM
from airflow_provider_srconnect.sql import duckdb_view
from airflow_provider_srconnect.windows import LogWindow
from tests.conftest import REPO_ROOT
from tests.e2e.archive import Run, days_ago, run_dag
from tests.e2e.conftest import E2E, S3_BUCKET

pytestmark = pytest.mark.e2e

DAG_ID = "srconnect_backfill"
QUERIES = REPO_ROOT / "docs" / "queries"
OUTPUT_FORMATS = ("jsonl.gz", "parquet")
DAYS_AGO = (3, 2)
#: The Parquet run: four sub-windows a day, a new file after three row groups.
PARQUET_STEP = dt.timedelta(hours=6)
PARQUET_FILE_ROW_GROUPS = 3
TASKS = {"wait_for_window_to_settle", "archive_invocations", "archive_audit"}
F = contract.InvocationField


def prefix_of(output_format: str) -> str:
    return "e2e-duckdb-" + output_format.replace(".", "-")


def in_format(output_format: str) -> Any:
    """Make the DAG's export tasks write ``output_format`` (Parquet: in sub-windows of ``PARQUET_STEP``)."""

    def apply(dag: Any) -> None:
        for task in dag.tasks:
            if isinstance(task, SRConnectExportOperator):
                task.output_format = output_format
                if output_format == "parquet":
                    task.step = PARQUET_STEP

    return apply


@contextmanager
def archiving(output_format: str) -> Iterator[None]:
    """The DAG archives under ``output_format``'s prefix; Parquet files end after ``PARQUET_FILE_ROW_GROUPS``."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AIRFLOW_VAR_SRCONNECT_PREFIX", prefix_of(output_format))
        mp.setattr(_parquet, "FILE_ROW_GROUPS", PARQUET_FILE_ROW_GROUPS)
        yield


def data_keys(output_format: str, log_type: str, window: LogWindow) -> list[str]:
    """A day's data objects: one gzip NDJSON object, or two Parquet files (four row groups, three a file)."""
    keys = archive_keys(prefix_of(output_format), log_type, window, output_format)
    return [keys.data] if output_format == "jsonl.gz" else [keys.data_file(0), keys.data_file(1)]


def run_days(output_format: str) -> list[Run]:
    runs = []
    with archiving(output_format):
        for days in DAYS_AGO:
            run = run_dag(DAG_ID, days_ago(days), in_format(output_format))
            assert run.states == dict.fromkeys(TASKS, "success")
            runs.append(run)
    return runs


def download(e2e: E2E, prefix: str, root: Path) -> list[str]:
    """Copy every object under ``prefix/`` to ``root``, keeping its key; return the keys."""
    keys = []
    for page in e2e.s3.get_paginator("list_objects_v2").paginate(Bucket=S3_BUCKET, Prefix=f"{prefix}/"):
        for item in page.get("Contents", []):
            target = root / item["Key"]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(e2e.s3.get_object(Bucket=S3_BUCKET, Key=item["Key"])["Body"].read())
            keys.append(item["Key"])
    return sorted(keys)


@dataclass(frozen=True)
class Archives:
    """The two archives, copied under ``root``, and the day windows they cover."""

    root: Path
    runs: list[Run]
    keys: dict[str, list[str]]

    def connect(self, output_format: str) -> duckdb.DuckDBPyConnection:
        con = duckdb.connect()
        for log_type in schema.RECORDS:
            con.execute(duckdb_view(log_type, output_format, str(self.root / prefix_of(output_format))))
        return con

    def windows(self) -> list[LogWindow]:
        return [LogWindow(run.start, run.end) for run in self.runs]


@pytest.fixture(scope="module")
def archives(e2e: E2E, tmp_path_factory: pytest.TempPathFactory) -> Archives:
    root = tmp_path_factory.mktemp("duckdb-archives")
    runs: list[Run] = []
    keys = {}
    for output_format in OUTPUT_FORMATS:
        runs = run_days(output_format)
        keys[output_format] = download(e2e, prefix_of(output_format), root)
    return Archives(root, runs, keys)


@pytest.fixture(scope="module")
def truth(e2e: E2E, archives: Archives) -> dict[str, list[list[dict[str, Any]]]]:
    """The ground truth of each day, per log type."""
    gt = e2e.sandbox.ground_truth
    return {
        "invocations": [gt.invocations(DEFAULT_TEAM, w.start, w.end) for w in archives.windows()],
        "audit": [gt.audit(DEFAULT_TEAM, w.start, w.end) for w in archives.windows()],
    }


def query(con: duckdb.DuckDBPyConnection, name: str) -> list[tuple[Any, ...]]:
    return con.execute((QUERIES / f"{name}.sql").read_text()).fetchall()


def test_each_format_is_written_as_a_dt_partitioned_table_with_manifests(archives: Archives) -> None:
    for output_format in OUTPUT_FORMATS:
        expected = []
        for window in archives.windows():
            for log_type in schema.RECORDS:
                keys = archive_keys(prefix_of(output_format), log_type, window, output_format)
                expected += [*data_keys(output_format, log_type, window), keys.manifest]
                body = json.loads((archives.root / keys.manifest).read_text())
                assert body["format"] == output_format and body["schemaVersion"] == schema.SCHEMA_VERSION
                assert body["dataObject"].endswith(FORMATS[output_format].suffix)
                uris = [f"s3://{S3_BUCKET}/{key}" for key in data_keys(output_format, log_type, window)]
                assert [one["uri"] for one in body["objects"]] == uris
        assert archives.keys[output_format] == sorted(expected)


@pytest.mark.parametrize("output_format", OUTPUT_FORMATS)
def test_failures_per_workspace_per_day(archives: Archives, truth: Any, output_format: str) -> None:
    expected: Counter[tuple[Any, str]] = Counter()
    for window, records in zip(archives.windows(), truth["invocations"], strict=True):
        for record in records:
            if record[F.EXECUTION_STATUS] in contract.FAILED_STATUSES:
                expected[(window.start.date(), record[F.WORKSPACE][contract.NamedField.NAME])] += 1
    assert len(expected) >= 4, "too few failures for the check to mean much"

    answer = query(archives.connect(output_format), "failures_per_workspace_per_day")

    assert answer == [(day, workspace, count) for (day, workspace), count in sorted(expected.items())]


@pytest.mark.parametrize("output_format", OUTPUT_FORMATS)
def test_slowest_invocations(archives: Archives, truth: Any, output_format: str) -> None:
    records = [r for day in truth["invocations"] for r in day if r[F.DURATION] is not None]
    slowest = sorted(records, key=lambda r: (-r[F.DURATION], r[F.ID]))[:10]

    answer = query(archives.connect(output_format), "slowest_invocations")

    assert [(row[0], contract.format_time(row[1]), row[2], row[3], row[4], row[5]) for row in answer] == [
        (
            r[F.ID],
            r[F.START_TIME],
            r[F.WORKSPACE][contract.NamedField.NAME],
            r[F.SCRIPT][contract.NamedField.NAME],
            r[F.EXECUTION_STATUS],
            r[F.DURATION],
        )
        for r in slowest
    ]


@pytest.mark.parametrize("output_format", OUTPUT_FORMATS)
def test_audit_actions_by_actor(archives: Archives, truth: Any, output_format: str) -> None:
    expected = Counter(
        (r[contract.AuditField.ACTOR][contract.ActorField.EMAIL], r[contract.AuditField.ACTION])
        for day in truth["audit"]
        for r in day
    )
    assert sum(expected.values()) > 100

    answer = query(archives.connect(output_format), "audit_actions_by_actor")

    assert answer == [(actor, action, count) for (actor, action), count in sorted(expected.items())]


@pytest.mark.parametrize("output_format", OUTPUT_FORMATS)
def test_console_errors_by_script(archives: Archives, output_format: str) -> None:
    """Console lines are not in the ground truth: the answer is counted from the JSON Lines archive itself
    (which the other end-to-end tests check against the sandbox), in both formats."""
    expected: Counter[str] = Counter()
    for key in archives.keys["jsonl.gz"]:
        if key.startswith(f"{prefix_of('jsonl.gz')}/invocations/") and key.endswith(".jsonl.gz"):
            for line in gzip.decompress((archives.root / key).read_bytes()).splitlines():
                record = json.loads(line)
                for console in record.get(schema.CONSOLE_LINES_KEY, []):
                    if console[contract.ConsoleLineField.LEVEL] == "ERROR":
                        expected[record[F.SCRIPT][contract.NamedField.NAME]] += 1
    assert expected, "no failed invocation had console logs: the check would prove nothing"

    answer = query(archives.connect(output_format), "console_errors_by_script")

    assert answer == sorted(expected.items(), key=lambda item: (-item[1], item[0]))


def test_a_parquet_rerun_of_a_day_writes_the_same_bytes(archives: Archives, e2e: E2E) -> None:
    keys = data_keys("parquet", "invocations", archives.windows()[0])
    before = [(archives.root / key).read_bytes() for key in keys]
    with archiving("parquet"):
        run = run_dag(DAG_ID, days_ago(DAYS_AGO[0]), in_format("parquet"))
    assert run.states == dict.fromkeys(TASKS, "success")
    assert [e2e.s3.get_object(Bucket=S3_BUCKET, Key=key)["Body"].read() for key in keys] == before
