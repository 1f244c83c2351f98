"""An archive run triggers the consumer DAG through its asset, under a real Airflow 3 scheduler.

In a fresh SQLite Airflow home whose DAGs folder holds ``srconnect_audit_hourly_to_gcs`` and
``srconnect_archive_consumer`` (both unchanged from ``example_dags/``), this test starts an
``airflow api-server --apps execution`` and an ``airflow scheduler`` (LocalExecutor). Both DAGs are
unpaused, so the scheduler runs the archive DAG for its latest hour (no settlement sensor: audit events
are final), and then:

- the archive task records an event of ``gs://{bucket}/{prefix}/audit`` through the alias
  ``srconnect_audit_archive`` (the example names its bucket at run time), whose extra holds the run's
  window, the log type, and the record count, bytes and object URIs that the manifest in GCS also states;
- the scheduler creates an asset-triggered run of the consumer from that event, and the consumer's
  task runs and returns the event's extra.

About 80 s on 2 cores, most of it the Airflow CLI and server start; Airflow 3 only (the components are
Airflow 3's). On both Airflow lines, an in-process ``dag.test()`` run of ``srconnect_invocations_daily``
records the event of its S3 archive (a Dataset event on Airflow 2.11) with the same extra.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pendulum
import pytest

from airflow_provider_srconnect.export import archive_keys
from airflow_provider_srconnect.sandbox import DEFAULT_TEAM
from airflow_provider_srconnect.windows import LogWindow
from tests.conftest import free_port
from tests.e2e.archive import days_ago, run_dag
from tests.e2e.conftest import E2E, EXAMPLE_DAGS, GCS_BUCKET, S3_BUCKET
from tests.e2e.stack import Stack, processes_of, wait_for_http
from tests.e2e.test_backfill_scale import AIRFLOW_3, API_STARTUP_TIMEOUT, CLI_TIMEOUT, failed_task_logs

pytestmark = pytest.mark.e2e
airflow_3_only = pytest.mark.skipif(
    not AIRFLOW_3, reason="the scheduler, API server and asset-triggered runs of this test are Airflow 3's"
)

PRODUCER = "srconnect_audit_hourly_to_gcs"
CONSUMER = "srconnect_archive_consumer"
ALIAS = "srconnect_audit_archive"
PREFIX = "e2e-assets"
DAILY = "srconnect_invocations_daily"
DAILY_PREFIX = "e2e-assets-daily"
#: The producer's run, the asset event and the consumer's run, after the components have started.
RUNS_TIMEOUT = 240.0


@dataclass(frozen=True)
class Outcome:
    """What the metadata DB holds once the consumer has run."""

    producer: dict[str, Any]  # the archive DAG's first run
    asset: dict[str, Any]
    event: dict[str, Any]  # the asset event of that run
    aliases: list[str]  # the aliases the event came through
    consumer: dict[str, Any]  # the consumer's run that consumed the event
    consumer_tasks: dict[str, str | None]
    consumer_result: Any  # the consumer task's return value (XCom)


def query(db_path: Path, sql: str, *args: Any) -> list[dict[str, Any]]:
    db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=30)
    db.row_factory = sqlite3.Row
    try:
        return [dict(row) for row in db.execute(sql, args).fetchall()]
    finally:
        db.close()


def json_column(value: Any) -> Any:
    """A JSON column as stored by SQLite: text (sometimes JSON of a JSON text)."""
    while isinstance(value, (str, bytes)):
        value = json.loads(value)
    return value


def read_outcome(db_path: Path) -> Outcome | None:
    """The outcome once a consumer run that consumed the producer's first event has finished; else None."""
    producers = query(db_path, "SELECT * FROM dag_run WHERE dag_id = ? ORDER BY id", PRODUCER)
    if not producers:
        return None
    producer = producers[0]
    events = query(
        db_path,
        "SELECT * FROM asset_event WHERE source_dag_id = ? AND source_run_id = ? ORDER BY id",
        PRODUCER,
        producer["run_id"],
    )
    if not events:
        return None
    event = events[0]
    consumers = query(
        db_path,
        "SELECT dag_run.* FROM dag_run JOIN dagrun_asset_event ON dagrun_asset_event.dag_run_id = dag_run.id "
        "WHERE dag_run.dag_id = ? AND dagrun_asset_event.event_id = ?",
        CONSUMER,
        event["id"],
    )
    if not consumers or consumers[0]["state"] not in ("success", "failed"):
        return None
    consumer = consumers[0]
    [asset] = query(db_path, "SELECT * FROM asset WHERE id = ?", event["asset_id"])
    aliases = query(
        db_path,
        "SELECT asset_alias.name FROM asset_alias JOIN asset_alias_asset_event "
        "ON asset_alias_asset_event.alias_id = asset_alias.id WHERE asset_alias_asset_event.event_id = ?",
        event["id"],
    )
    tasks = query(
        db_path,
        "SELECT task_id, state FROM task_instance WHERE dag_id = ? AND run_id = ?",
        CONSUMER,
        consumer["run_id"],
    )
    results = query(
        db_path,
        "SELECT value FROM xcom WHERE dag_id = ? AND run_id = ? AND key = 'return_value'",
        CONSUMER,
        consumer["run_id"],
    )
    return Outcome(
        producer=producer,
        asset=asset,
        event={**event, "extra": json_column(event["extra"])},
        aliases=sorted(a["name"] for a in aliases),
        consumer=consumer,
        consumer_tasks={t["task_id"]: t["state"] for t in tasks},
        consumer_result=json_column(results[0]["value"]) if results else None,
    )


@pytest.fixture(scope="module")
def outcome(e2e: E2E, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Outcome]:
    home = tmp_path_factory.mktemp("airflow-assets-home")
    dags = home / "dags"
    dags.mkdir()
    for dag_id in (PRODUCER, CONSUMER):
        shutil.copy(EXAMPLE_DAGS / f"{dag_id}.py", dags)
    api_port = free_port()
    # Everything but Airflow's own settings (moto, STORAGE_EMULATOR_HOST...), then this home's settings and
    # the e2e fixture's connections.
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env.update(
        {k: v for k, v in os.environ.items() if k.startswith("AIRFLOW_CONN_")},
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__CORE__DAGS_FOLDER=str(dags),
        AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION="False",
        AIRFLOW__CORE__FERNET_KEY=os.environ["AIRFLOW__CORE__FERNET_KEY"],
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{home}/airflow.db?timeout=60",
        AIRFLOW__CORE__EXECUTOR="LocalExecutor",
        AIRFLOW__CORE__PARALLELISM="2",
        AIRFLOW__API__HOST="127.0.0.1",
        AIRFLOW__API__PORT=str(api_port),
        AIRFLOW__CORE__EXECUTION_API_SERVER_URL=f"http://127.0.0.1:{api_port}/execution/",
        AIRFLOW__API_AUTH__JWT_SECRET=base64.urlsafe_b64encode(os.urandom(32)).decode(),
        AIRFLOW_VAR_SRCONNECT_GCS_BUCKET=GCS_BUCKET,
        AIRFLOW_VAR_SRCONNECT_PREFIX=PREFIX,
    )
    airflow = Stack(home, env, CLI_TIMEOUT)
    db_path = home / "airflow.db"
    try:
        airflow.cli(("db", "migrate"))
        with contextlib.closing(sqlite3.connect(db_path)) as db:
            db.execute("PRAGMA journal_mode=WAL")
        airflow.cli(("dags", "reserialize"))
        api = airflow.start("api-server", "api-server", "--apps", "execution", "--workers", "1")
        wait_for_http(f"http://127.0.0.1:{api_port}/execution/", api, "airflow api-server", API_STARTUP_TIMEOUT)
        scheduler = airflow.start("scheduler", "scheduler", "--skip-serve-logs")
        deadline = time.monotonic() + RUNS_TIMEOUT
        while (found := read_outcome(db_path)) is None:
            failed = query(db_path, "SELECT dag_id, run_id FROM dag_run WHERE state = 'failed'")
            assert not failed, f"runs failed: {failed}\n{failed_task_logs(home)}"
            assert scheduler.poll() is None, f"the scheduler exited:\n{airflow.log_tail('scheduler')}"
            assert time.monotonic() < deadline, (
                f"no consumer run finished within {RUNS_TIMEOUT} s: "
                f"{query(db_path, 'SELECT dag_id, run_type, state FROM dag_run')}\n{airflow.log_tail('scheduler')}"
            )
            time.sleep(2)
    finally:
        airflow.stop()
    assert processes_of(home) == [], "an Airflow process outlived the test"
    if found.consumer["state"] != "success":
        pytest.fail(f"the consumer run failed:\n{failed_task_logs(home)}")
    yield found


def utc(value: str) -> pendulum.DateTime:
    parsed = pendulum.parse(value, tz="UTC")
    assert isinstance(parsed, pendulum.DateTime)
    return parsed.in_timezone("UTC")


@airflow_3_only
def test_the_archive_run_records_an_event_of_its_archive_through_the_alias(outcome: Outcome) -> None:
    assert outcome.producer["state"] == "success" and outcome.producer["run_type"] == "scheduled"
    assert outcome.asset["uri"] == f"gs://{GCS_BUCKET}/{PREFIX}/audit"
    assert outcome.aliases == [ALIAS]
    assert outcome.event["source_task_id"] == "archive_audit"


@airflow_3_only
def test_the_events_extra_holds_the_window_and_what_the_manifest_says(outcome: Outcome, e2e: E2E) -> None:
    start = utc(outcome.producer["data_interval_start"])
    end = utc(outcome.producer["data_interval_end"])
    assert end - start == pendulum.duration(hours=1)
    keys = archive_keys(PREFIX, "audit", LogWindow(start, end))
    manifest = json.loads(e2e.gcs.bucket(GCS_BUCKET).blob(keys.manifest).download_as_bytes())
    truth = e2e.sandbox.ground_truth.audit(DEFAULT_TEAM, start, end)

    assert outcome.event["extra"] == {
        "window_start": start.isoformat(),
        "window_end": end.isoformat(),
        "log_type": "audit",
        "records": len(truth),
        "bytes": manifest["bytes"],
        "data_uri": f"gs://{GCS_BUCKET}/{keys.data}",
        "manifest_uri": f"gs://{GCS_BUCKET}/{keys.manifest}",
    }
    assert manifest["records"] == len(truth) and manifest["dataObject"] == outcome.event["extra"]["data_uri"]


@airflow_3_only
def test_the_event_triggers_the_consumer_which_runs_and_reads_the_extra(outcome: Outcome) -> None:
    assert outcome.consumer["run_type"] == "asset_triggered"
    assert outcome.consumer_tasks == {"report_archives": "success"}
    assert outcome.event["extra"] in outcome.consumer_result


def asset_event_extras(uri: str) -> list[dict[str, Any]]:
    """The extras of the events of the asset (Dataset on Airflow 2.11) at ``uri``, oldest first."""
    from airflow.utils.session import create_session

    if AIRFLOW_3:
        from airflow.models.asset import AssetEvent as Event
        from airflow.models.asset import AssetModel as Model

        key = Event.asset_id
    else:
        from airflow.models.dataset import DatasetEvent as Event  # type: ignore[no-redef]
        from airflow.models.dataset import DatasetModel as Model

        key = Event.dataset_id  # type: ignore[attr-defined]
    with create_session() as session:
        events = session.query(Event).join(Model, key == Model.id).filter(Model.uri == uri).order_by(Event.id)
        return [dict(event.extra) for event in events]


def test_a_dag_test_run_of_the_daily_archive_records_its_s3_archive_event(e2e: E2E) -> None:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AIRFLOW_VAR_SRCONNECT_PREFIX", DAILY_PREFIX)
        run = run_dag(DAILY, days_ago(3))
    assert set(run.states.values()) == {"success"}
    keys = archive_keys(DAILY_PREFIX, "invocations", LogWindow(run.start, run.end))
    size = e2e.s3.head_object(Bucket=S3_BUCKET, Key=keys.data)["ContentLength"]
    truth = e2e.sandbox.ground_truth.invocations(DEFAULT_TEAM, run.start, run.end)

    assert asset_event_extras(f"s3://{S3_BUCKET}/{DAILY_PREFIX}/invocations") == [
        {
            "window_start": run.start.isoformat(),
            "window_end": run.end.isoformat(),
            "log_type": "invocations",
            "records": len(truth),
            "bytes": size,
            "data_uri": f"s3://{S3_BUCKET}/{keys.data}",
            "manifest_uri": f"s3://{S3_BUCKET}/{keys.manifest}",
        }
    ]
