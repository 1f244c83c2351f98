"""Archive yesterday's SRC invocation logs to S3, once a day.

Each run covers its data interval, one UTC day ``[00:00, 24:00)``. It first waits until no invocation
that started in that day can still be running (SRC stops invocations after 15 minutes), then writes

    s3://{bucket}/{prefix}/invocations/dt=YYYY-MM-DD/{start}_{end}.jsonl.gz   (gzip NDJSON)
    s3://{bucket}/{prefix}/invocations/dt=YYYY-MM-DD/{start}_{end}.manifest.json

with the console and HTTP logs of the failed invocations attached to their records. A rerun of a day
writes the same keys.

Configuration, read when a task runs (never while the file is parsed):

- Variables ``srconnect_s3_bucket`` (default ``srconnect-archive``) and ``srconnect_prefix``
  (default ``srconnect``);
- DAG params ``srconnect_conn_id`` and ``aws_conn_id``, which a manual run may override.

Local mode: when the environment variable ``SRCONNECT_ARCHIVE_DIR`` is set where the DAG is parsed, the
archive task writes the data file under that folder instead of S3,
``$SRCONNECT_ARCHIVE_DIR/{prefix}/invocations/dt=YYYY-MM-DD/{start}_{end}.jsonl.gz``, with its
``.manifest.json`` beside it (``SRConnectFetchLogsOperator``'s convention; on S3 the manifest goes under
``{prefix}/_manifests/``): a local file and the S3 object of the same day have the same relative key (and
the same bytes). Give an absolute path;
``scripts/demo`` uses this mode. The date in the key is the window's start day, not the run's logical date:
``airflow dags test srconnect_invocations_daily 2026-11-27`` archives 2026-11-26.
"""

from __future__ import annotations

import datetime as dt
import os

import pendulum

from airflow_provider_srconnect.export import archive_keys
from airflow_provider_srconnect.operators.srconnect import SRConnectFetchLogsOperator
from airflow_provider_srconnect.sensors.srconnect import SRConnectWindowSettledSensor
from airflow_provider_srconnect.transfers.srconnect_to_s3 import SRConnectToS3Operator
from airflow_provider_srconnect.windows import LogWindow

try:  # Airflow 3.1+
    from airflow.sdk import DAG, CronDataIntervalTimetable
except ImportError:  # Airflow 2.11
    from airflow import DAG
    from airflow.timetables.interval import CronDataIntervalTimetable

ARCHIVE_DIR = os.environ.get("SRCONNECT_ARCHIVE_DIR")


def local_archive_path(prefix: str, start: pendulum.DateTime, end: pendulum.DateTime) -> str:
    """The file of local mode: the S3 key layout (``archive_keys``) under ``SRCONNECT_ARCHIVE_DIR``."""
    return os.path.join(ARCHIVE_DIR or ".", archive_keys(prefix, "invocations", LogWindow(start, end)).data)


# [START howto_srconnect_daily_dag]
with DAG(
    dag_id="srconnect_invocations_daily",
    description="Daily archive of ScriptRunner Connect invocation logs",
    # A cron string alone gives Airflow 3 runs an empty data interval; this timetable gives the whole day.
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
    start_date=pendulum.datetime(2026, 11, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    params={"srconnect_conn_id": "srconnect_default", "aws_conn_id": "aws_default"},
    user_defined_macros={"local_archive_path": local_archive_path},
    default_args={"retries": 2, "retry_delay": dt.timedelta(minutes=5)},
    tags=["srconnect", "archive"],
) as dag:
    # [END howto_srconnect_daily_dag]
    # [START howto_sensor_srconnect_window_settled]
    wait_for_window = SRConnectWindowSettledSensor(
        task_id="wait_for_window_to_settle",
        srconnect_conn_id="{{ params.srconnect_conn_id }}",
        mode="reschedule",
        poke_interval=5 * 60,
        timeout=2 * 60 * 60,
    )
    # [END howto_sensor_srconnect_window_settled]
    if ARCHIVE_DIR:
        # [START howto_operator_srconnect_fetch_logs_local_mode]
        archive = SRConnectFetchLogsOperator(
            task_id="archive_invocations",
            srconnect_conn_id="{{ params.srconnect_conn_id }}",
            include_logs="failed",
            path="{{ local_archive_path(var.value.get('srconnect_prefix', 'srconnect'), "
            "data_interval_start, data_interval_end) }}",
        )
        # [END howto_operator_srconnect_fetch_logs_local_mode]
    else:
        # [START howto_operator_srconnect_to_s3]
        archive = SRConnectToS3Operator(
            task_id="archive_invocations",
            srconnect_conn_id="{{ params.srconnect_conn_id }}",
            aws_conn_id="{{ params.aws_conn_id }}",
            s3_bucket="{{ var.value.get('srconnect_s3_bucket', 'srconnect-archive') }}",
            prefix="{{ var.value.get('srconnect_prefix', 'srconnect') }}",
            include_logs="failed",
        )
        # [END howto_operator_srconnect_to_s3]
    wait_for_window >> archive
