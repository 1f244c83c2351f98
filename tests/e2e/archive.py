"""Helpers of the end-to-end tests: run an example DAG for real, and read back and check an archive."""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pendulum
import pytest

from airflow_provider_srconnect import contract
from airflow_provider_srconnect.export import CONSOLE_LINES_KEY, HTTP_ENTRIES_KEY, LOGS_NOT_STORED_KEY
from tests.conftest import AIRFLOW_3
from tests.e2e.conftest import EXAMPLE_DAGS

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from airflow.models.dagrun import DagRun

#: What the export adds to an invocation record when it attaches its logs.
LOG_KEYS = frozenset({CONSOLE_LINES_KEY, HTTP_ENTRIES_KEY, LOGS_NOT_STORED_KEY})
Record = dict[str, Any]


def days_ago(days: int, hours: int = 0) -> pendulum.DateTime:
    """Midnight UTC ``days`` days before today, plus ``hours``: settled, and well inside SRC's retention."""
    return pendulum.today("UTC").subtract(days=days).add(hours=hours)


def load_dag(dag_id: str, customize: Callable[[Any], None] | None = None) -> Any:
    """Parse ``example_dags/`` as Airflow does (with the current environment) and return one DAG.

    Task retries are turned off, so a failing task fails the run at once instead of waiting out its
    retry delay; ``customize`` may change the DAG further before it runs.
    """
    try:
        from airflow.dag_processing.dagbag import DagBag
    except ImportError:  # Airflow 2
        from airflow.models.dagbag import DagBag  # type: ignore[no-redef]

    bag = DagBag(str(EXAMPLE_DAGS))
    assert bag.import_errors == {}
    dag = bag.dags[dag_id]
    for task in dag.tasks:
        task.retries = 0
    if customize is not None:
        customize(dag)
    return dag


@dataclass(frozen=True)
class Run:
    """A finished DAG run: its window and the final state of each task."""

    dag_run: DagRun
    start: pendulum.DateTime
    end: pendulum.DateTime
    states: dict[str, str | None]


def dag_test(dag: Any, logical_date: dt.datetime) -> DagRun:
    """``dag.test()`` for one logical date, on either Airflow line.

    Airflow 2 names the date ``execution_date``, and its ``dag.test()`` does not write the DAG to the
    metadata DB as the DAG processor would; the DAG's asset aliases need their rows there, so this does.
    """
    if AIRFLOW_3:
        return dag.test(logical_date=logical_date)
    dag.sync_to_db()
    return dag.test(execution_date=logical_date)


def run_dag(dag_id: str, logical_date: dt.datetime, customize: Callable[[Any], None] | None = None) -> Run:
    """Run one DAG run in-process with ``dag.test()`` (real scheduler loop, real tasks) and return it."""
    dag_run = dag_test(load_dag(dag_id, customize), logical_date)
    states = {ti.task_id: ti.state for ti in dag_run.get_task_instances()}
    assert dag_run.data_interval_start is not None and dag_run.data_interval_end is not None
    start = pendulum.instance(dag_run.data_interval_start).in_timezone("UTC")
    end = pendulum.instance(dag_run.data_interval_end).in_timezone("UTC")
    assert start < end, "an empty data interval: the DAG's schedule is not a data-interval timetable"
    return Run(dag_run, start, end, states)


@dataclass(frozen=True)
class Archived:
    """One run of a DAG and what it left in the bucket or folder."""

    run: Run
    data_key: str
    manifest_key: str
    data: bytes
    manifest: Record


def archive_prefix(prefix: str) -> Any:
    """A module-scoped autouse fixture ``prefix``: the module's archive prefix, set as the DAGs' Variable."""

    @pytest.fixture(scope="module", autouse=True, name="prefix")
    def fixture(e2e: Any) -> Iterator[str]:
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("AIRFLOW_VAR_SRCONNECT_PREFIX", prefix)
            yield prefix

    return fixture


def decode(data: bytes) -> list[Record]:
    """The records of a gzip NDJSON archive."""
    return [json.loads(line) for line in gzip.decompress(data).splitlines()]


def without_logs(record: Record) -> Record:
    """An archived record as the listing served it, without the logs the export attached."""
    return {key: value for key, value in record.items() if key not in LOG_KEYS}


def assert_archive(data: bytes, manifest: Record, expected: list[Record], run: Run, id_field: str) -> None:
    """The archive holds exactly ``expected`` (in order), and its manifest describes it and the window."""
    records = decode(data)
    assert len(records) == len(expected) > 0
    assert [r[id_field] for r in records] == [r[id_field] for r in expected]
    assert [without_logs(r) for r in records] == expected
    assert manifest["records"] == len(expected)
    assert manifest["bytes"] == len(data)
    assert manifest["sha256"] == hashlib.sha256(data).hexdigest()
    assert pendulum.parse(manifest["window"]["start"]) == run.start
    assert pendulum.parse(manifest["window"]["end"]) == run.end


def assert_logs_only_on_failed(records: list[Record]) -> None:
    """``include_logs="failed"``: logs on every failed invocation that has any, and on no other."""
    failed = [r for r in records if r[contract.InvocationField.EXECUTION_STATUS] in contract.FAILED_STATUSES]
    assert failed, "the window has no failed invocation, so the check would prove nothing"
    for record in records:
        if record[contract.InvocationField.EXECUTION_STATUS] not in contract.FAILED_STATUSES:
            assert not LOG_KEYS & record.keys(), record[contract.InvocationField.ID]
        elif not record.get(LOGS_NOT_STORED_KEY):
            console = record[contract.InvocationField.CONSOLE_LOGS]
            http = record[contract.InvocationField.HTTP_LOGS]
            assert (CONSOLE_LINES_KEY in record) == (console != 0)
            assert (HTTP_ENTRIES_KEY in record) == (http != 0)
            assert len(record.get(CONSOLE_LINES_KEY, [])) == console
            assert len(record.get(HTTP_ENTRIES_KEY, [])) == http
    assert any(LOG_KEYS & r.keys() for r in failed)
