"""The example DAGs parse cleanly, read configuration only when tasks run, and are shaped as documented."""

from __future__ import annotations

import ast
from typing import Any

import pytest

from tests.conftest import REPO_ROOT

EXAMPLE_DAGS = REPO_ROOT / "example_dags"
DAG_IDS = {
    "srconnect_invocations_daily",
    "srconnect_audit_hourly_to_gcs",
    "srconnect_backfill",
    "srconnect_existing_dag_handoff",
    "srconnect_archive_consumer",
}
#: DAGs scheduled on assets (data-aware), not on a data-interval timetable.
ASSET_SCHEDULED = {"srconnect_archive_consumer"}


def _forbidden(*args: Any, **kwargs: Any) -> Any:
    raise AssertionError("a DAG file read a Variable or a Connection while it was parsed")


def parse(monkeypatch: pytest.MonkeyPatch) -> Any:
    """A DagBag of ``example_dags/``, parsed while Variable and Connection lookups are forbidden."""
    try:
        from airflow.dag_processing.dagbag import DagBag
    except ImportError:  # Airflow 2
        from airflow.models.dagbag import DagBag  # type: ignore[no-redef]
    from airflow.models.variable import Variable
    from airflow.providers.common.compat.sdk import BaseHook

    monkeypatch.setattr(Variable, "get", _forbidden)
    monkeypatch.setattr(BaseHook, "get_connection", _forbidden)
    try:
        from airflow.sdk import Variable as SdkVariable
    except ImportError:  # Airflow 2
        pass
    else:
        monkeypatch.setattr(SdkVariable, "get", _forbidden)
    return DagBag(str(EXAMPLE_DAGS))


@pytest.fixture
def dagbag(monkeypatch: pytest.MonkeyPatch, airflow_db: str) -> Any:
    """The example DAGs. Airflow 2 resolves an asset alias in a DAG's schedule through the DB when it parses it."""
    monkeypatch.delenv("SRCONNECT_ARCHIVE_DIR", raising=False)
    return parse(monkeypatch)


def test_example_dags_import_without_errors(dagbag: Any) -> None:
    assert dagbag.import_errors == {}
    assert set(dagbag.dag_ids) == DAG_IDS
    assert len(list(EXAMPLE_DAGS.glob("*.py"))) == len(DAG_IDS)


def test_every_dag_has_a_docstring_and_a_data_interval_schedule(dagbag: Any) -> None:
    from airflow.timetables.interval import CronDataIntervalTimetable as CoreTimetable

    timetables: tuple[type, ...] = (CoreTimetable,)
    try:
        from airflow.sdk import CronDataIntervalTimetable

        timetables += (CronDataIntervalTimetable,)
    except ImportError:  # Airflow 2 / 3.0
        pass
    for dag in dagbag.dags.values():
        docstring = ast.get_docstring(ast.parse((EXAMPLE_DAGS / f"{dag.dag_id}.py").read_text()))
        assert docstring and len(docstring.splitlines()) > 3, dag.dag_id
        if dag.dag_id in ASSET_SCHEDULED:
            continue
        # A bare cron string gives Airflow 3 runs an empty data interval, which the operators reject.
        assert isinstance(dag.timetable, timetables), dag.dag_id
        timezone = getattr(dag.timetable, "timezone", None) or dag.timetable._timezone  # SDK / core attribute
        assert str(getattr(timezone, "name", timezone)) == "UTC", dag.dag_id


def test_templated_values_go_only_to_templated_fields(dagbag: Any) -> None:
    """A Jinja string in a field Airflow does not render would reach the hook as literal text."""
    unrendered = [
        f"{dag.dag_id}.{task.task_id}.{name}"
        for dag in dagbag.dags.values()
        for task in dag.tasks
        for name, value in vars(task).items()
        if isinstance(value, str) and "{{" in value and name not in task.template_fields
    ]
    assert unrendered == []


def test_daily_dag_archives_to_s3_by_default_and_to_a_folder_in_local_mode(
    dagbag: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    from airflow_provider_srconnect.operators.srconnect import SRConnectFetchLogsOperator
    from airflow_provider_srconnect.sensors.srconnect import SRConnectWindowSettledSensor
    from airflow_provider_srconnect.transfers.srconnect_to_s3 import SRConnectToS3Operator

    dag = dagbag.dags["srconnect_invocations_daily"]
    archive = dag.get_task("archive_invocations")
    assert type(archive) is SRConnectToS3Operator
    assert archive.include_logs == "failed"
    assert isinstance(dag.get_task("wait_for_window_to_settle"), SRConnectWindowSettledSensor)
    assert archive.upstream_task_ids == {"wait_for_window_to_settle"}

    monkeypatch.setenv("SRCONNECT_ARCHIVE_DIR", str(tmp_path))
    local = parse(monkeypatch).dags["srconnect_invocations_daily"].get_task("archive_invocations")
    assert type(local) is SRConnectFetchLogsOperator
    assert local.include_logs == "failed"


def test_backfill_dag_catches_up_in_the_api_pool_and_skips_expired_days(dagbag: Any) -> None:
    dag = dagbag.dags["srconnect_backfill"]
    assert dag.catchup is True
    assert dag.max_active_runs == 4
    archives = [task for task in dag.tasks if task.task_id.startswith("archive_")]
    assert {task.log_type for task in archives} == {"invocations", "audit"}
    for task in archives:
        assert task.pool == "srconnect_api"
        assert task.on_expired == "skip"
    assert 'airflow pools set srconnect_api 4 "SRC API budget"' in (EXAMPLE_DAGS / "srconnect_backfill.py").read_text()


def test_handoff_dag_uploads_the_fetched_file(dagbag: Any) -> None:
    dag = dagbag.dags["srconnect_existing_dag_handoff"]
    upload = dag.get_task("upload_logs")
    assert type(upload).__name__ == "LocalFilesystemToS3Operator"
    assert upload.filename == "{{ ti.xcom_pull(task_ids='fetch_src_logs') }}"
    assert "fetch_src_logs" in upload.upstream_task_ids


def test_consumer_runs_on_the_archives_of_both_archive_dags(dagbag: Any) -> None:
    from airflow.providers.common.compat.sdk import AssetAlias

    consumer = dagbag.dags["srconnect_archive_consumer"]
    condition = getattr(consumer.timetable, "asset_condition", None) or consumer.timetable.dataset_condition
    emitted = {
        outlet.name
        for dag_id in ("srconnect_invocations_daily", "srconnect_audit_hourly_to_gcs")
        for task in dagbag.dags[dag_id].tasks
        for outlet in task.outlets
        if isinstance(outlet, AssetAlias)
    }
    assert emitted == {"srconnect_invocations_archive", "srconnect_audit_archive"}
    # Either alias: AssetAny / DatasetAny of the two (Airflow 2.11 holds each alias as a condition with its name).
    assert type(condition).__name__ in ("AssetAny", "DatasetAny")
    assert {alias.name for alias in condition.objects} == emitted
