"""Archive the SRC audit log to Google Cloud Storage, once an hour.

Each run covers its data interval, one UTC hour, and writes

    gs://{bucket}/{prefix}/audit/dt=YYYY-MM-DD/{start}_{end}.jsonl.gz   (gzip NDJSON)
    gs://{bucket}/{prefix}/audit/dt=YYYY-MM-DD/{start}_{end}.manifest.json

Audit events (who changed which script, environment or key) are final when they are written, so
unlike invocations they need no settlement sensor: the run starts as soon as its hour has ended.

Configuration, read when the task runs (never while the file is parsed):

- Variables ``srconnect_gcs_bucket`` (default ``srconnect-archive``) and ``srconnect_prefix``
  (default ``srconnect``);
- DAG params ``srconnect_conn_id`` and ``gcp_conn_id``, which a manual run may override.
"""

from __future__ import annotations

import datetime as dt

import pendulum

from airflow_provider_srconnect.transfers.srconnect_to_gcs import SRConnectToGCSOperator

try:  # Airflow 3.1+
    from airflow.sdk import DAG, CronDataIntervalTimetable
except ImportError:  # Airflow 2.11
    from airflow import DAG
    from airflow.timetables.interval import CronDataIntervalTimetable

# [START howto_srconnect_hourly_dag]
with DAG(
    dag_id="srconnect_audit_hourly_to_gcs",
    description="Hourly archive of the ScriptRunner Connect audit log to GCS",
    # A cron string alone gives Airflow 3 runs an empty data interval; this timetable gives the whole hour.
    schedule=CronDataIntervalTimetable("0 * * * *", timezone="UTC"),
    start_date=pendulum.datetime(2026, 11, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    params={"srconnect_conn_id": "srconnect_default", "gcp_conn_id": "google_cloud_default"},
    default_args={"retries": 2, "retry_delay": dt.timedelta(minutes=5)},
    tags=["srconnect", "archive"],
) as dag:
    # [END howto_srconnect_hourly_dag]
    # [START howto_operator_srconnect_to_gcs]
    SRConnectToGCSOperator(
        task_id="archive_audit",
        log_type="audit",
        srconnect_conn_id="{{ params.srconnect_conn_id }}",
        gcp_conn_id="{{ params.gcp_conn_id }}",
        gcs_bucket="{{ var.value.get('srconnect_gcs_bucket', 'srconnect-archive') }}",
        prefix="{{ var.value.get('srconnect_prefix', 'srconnect') }}",
    )
    # [END howto_operator_srconnect_to_gcs]
