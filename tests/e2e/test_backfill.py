"""``srconnect_backfill`` in real Airflow: a day of invocations and audit to S3 in the pool; expired days skip.

30 consecutive days through a real scheduler and ``airflow backfill create``: ``test_backfill_scale.py``.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pendulum
import pytest

from airflow_provider_srconnect import contract
from airflow_provider_srconnect.export import archive_keys
from airflow_provider_srconnect.sandbox import DEFAULT_TEAM
from airflow_provider_srconnect.windows import LogWindow
from tests.e2e.archive import Run, archive_prefix, assert_archive, assert_logs_only_on_failed, days_ago, decode, run_dag
from tests.e2e.conftest import E2E, EXAMPLE_DAGS, S3_BUCKET

pytestmark = pytest.mark.e2e

DAG_ID = "srconnect_backfill"
PREFIX = "e2e-backfill"
ARCHIVES = ("archive_invocations", "archive_audit")


prefix = archive_prefix(PREFIX)


def read(e2e: E2E, key: str) -> bytes:
    return bytes(e2e.s3.get_object(Bucket=S3_BUCKET, Key=key)["Body"].read())


def keys_under(e2e: E2E, prefix: str) -> list[str]:
    listed = e2e.s3.list_objects_v2(Bucket=S3_BUCKET, Prefix=prefix)
    return sorted(o["Key"] for o in listed.get("Contents", []))


@pytest.fixture(scope="module")
def first(e2e: E2E) -> Run:
    """One catch-up run, for the day three days ago."""
    run = run_dag(DAG_ID, days_ago(3))
    assert run.states == {"wait_for_window_to_settle": "success", **dict.fromkeys(ARCHIVES, "success")}
    return run


def test_archive_tasks_run_in_the_src_api_pool(first: Run) -> None:
    pools = {ti.task_id: ti.pool for ti in first.dag_run.get_task_instances()}
    assert {pools[task] for task in ARCHIVES} == {"srconnect_api"}


def test_both_log_types_of_the_day_are_archived(first: Run, e2e: E2E) -> None:
    window = LogWindow(first.start, first.end)
    truth: dict[str, tuple[list[dict[str, Any]], str]] = {
        "invocations": (
            e2e.sandbox.ground_truth.invocations(DEFAULT_TEAM, first.start, first.end),
            contract.InvocationField.ID,
        ),
        "audit": (e2e.sandbox.ground_truth.audit(DEFAULT_TEAM, first.start, first.end), contract.AuditField.ID),
    }
    expected_keys = []
    for log_type, (records, id_field) in truth.items():
        keys = archive_keys(PREFIX, log_type, window)
        expected_keys += [keys.data, keys.manifest]
        data = read(e2e, keys.data)
        assert_archive(data, json.loads(read(e2e, keys.manifest)), records, first, id_field)
        if log_type == "invocations":
            assert_logs_only_on_failed(decode(data))
    assert keys_under(e2e, f"{PREFIX}/") == sorted(expected_keys)


def test_rerun_of_a_day_rewrites_the_same_bytes(first: Run, e2e: E2E) -> None:
    before = {key: read(e2e, key) for key in keys_under(e2e, f"{PREFIX}/") if key.endswith(".jsonl.gz")}
    again = run_dag(DAG_ID, days_ago(3))
    assert set(again.states.values()) == {"success"}
    after = {key: read(e2e, key) for key in keys_under(e2e, f"{PREFIX}/") if key.endswith(".jsonl.gz")}
    assert after == before
    assert len(after) == 2


def test_a_day_past_src_retention_is_skipped_not_failed(first: Run, e2e: E2E) -> None:
    expired = days_ago(0).subtract(months=contract.RETENTION_MONTHS, days=10)

    def deployed_long_ago(dag: Any) -> None:
        # Months from now the DAG's fixed start_date will be past retention; simulate that day today.
        start = pendulum.datetime(2025, 1, 1, tz="UTC")
        dag.start_date = start
        for task in dag.tasks:
            task.start_date = start

    run = run_dag(DAG_ID, expired, customize=deployed_long_ago)
    assert run.dag_run.state == "success"
    assert run.states == {"wait_for_window_to_settle": "success", **dict.fromkeys(ARCHIVES, "skipped")}
    assert keys_under(e2e, f"{PREFIX}/invocations/dt={run.start.format('YYYY-MM-DD')}/") == []


def test_documented_backfill_command_plans_one_run_per_day(first: Run) -> None:
    """The ``airflow backfill create`` line of the DAG's docstring works as written (as a dry run)."""
    source = (EXAMPLE_DAGS / f"{DAG_ID}.py").read_text()
    match = re.search(r"^ *(airflow backfill create .*)$", source, re.MULTILINE)
    assert match, "the docstring lost its backfill command"
    argv = shlex.split(match.group(1))
    first_day, last_day = argv[argv.index("--from-date") + 1], argv[argv.index("--to-date") + 1]
    airflow = Path(sys.executable).with_name("airflow")
    done = subprocess.run(
        [str(airflow), *argv[1:], "--dry-run"], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    planned = re.findall(r"^\| (\d{4}-\d{2}-\d{2}) 00:00:00\+00:00 ", done.stdout, re.MULTILINE)
    # One run per day of the range, except days that already have a run (the other tests' runs).
    from airflow.models.dagrun import DagRun

    existing = {run.logical_date.date().isoformat() for run in DagRun.find(dag_id=DAG_ID)}
    days = pendulum.interval(pendulum.parse(first_day), pendulum.parse(last_day)).range("days")
    assert planned == [day.to_date_string() for day in days if day.to_date_string() not in existing]
    assert len(planned) > 150
