"""Add the SRC export to a DAG you already have, and let your own transfer task upload it.

Three tasks join the DAG's own: ``SRConnectWindowSettledSensor`` waits until no invocation of the run's
window can still be running, then ``SRConnectFetchLogsOperator`` writes the window's invocation logs to a
local gzip NDJSON file (its manifest beside it, ``.jsonl.gz`` replaced by ``.manifest.json``) and
returns the file's path as its XCom value, where any existing transfer picks it up. Here it is the amazon provider's
``LocalFilesystemToS3Operator``, which uploads the data file and then the manifest to

    s3://{bucket}/{prefix}/invocations/dt=YYYY-MM-DD/invocations.jsonl.gz
    s3://{bucket}/{prefix}/_manifests/invocations/dt=YYYY-MM-DD/invocations.manifest.json

the provider's own archive layout (data objects alone in the table folder).

The file is written on the worker's disk, under the Variable ``srconnect_local_dir`` (default
``/tmp/srconnect``), so the fetch and the upload must run where they see the same disk: any executor
on one machine, or one Celery queue / a shared volume on several.

Other configuration, read when a task runs: Variables ``srconnect_s3_bucket`` (default
``srconnect-archive``) and ``srconnect_prefix`` (default ``srconnect``); DAG params
``srconnect_conn_id`` and ``aws_conn_id``.
"""

from __future__ import annotations

import pendulum
from airflow.providers.amazon.aws.transfers.local_to_s3 import LocalFilesystemToS3Operator

from airflow_provider_srconnect.operators.srconnect import SRConnectFetchLogsOperator
from airflow_provider_srconnect.sensors.srconnect import SRConnectWindowSettledSensor

try:  # Airflow 3.1+
    from airflow.sdk import DAG, CronDataIntervalTimetable
except ImportError:  # Airflow 2.11
    from airflow import DAG
    from airflow.timetables.interval import CronDataIntervalTimetable

# [START howto_operator_srconnect_fetch_logs_paths]
LOCAL_DIR = "{{ var.value.get('srconnect_local_dir', '/tmp/srconnect') }}"
DAY = "{{ data_interval_start | ds }}"
PREFIX = "{{ var.value.get('srconnect_prefix', 'srconnect') }}"
#: The provider's archive layout: data objects in the table folder, manifests under _manifests/.
KEY = "invocations/dt=" + DAY + "/invocations"
FETCHED = "{{ ti.xcom_pull(task_ids='fetch_src_logs') }}"
#: The fetch writes its manifest beside the file, ".jsonl.gz" replaced by ".manifest.json".
FETCHED_MANIFEST = "{{ ti.xcom_pull(task_ids='fetch_src_logs') | replace('.jsonl.gz', '.manifest.json') }}"
# [END howto_operator_srconnect_fetch_logs_paths]

with DAG(
    dag_id="srconnect_existing_dag_handoff",
    description="An existing daily DAG that also hands SRC invocation logs to LocalFilesystemToS3Operator",
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
    start_date=pendulum.datetime(2026, 11, 1, tz="UTC"),
    catchup=False,
    params={"srconnect_conn_id": "srconnect_default", "aws_conn_id": "aws_default"},
    tags=["srconnect", "example"],
) as dag:
    # ... the DAG's existing tasks ...

    # The export reads the window as it is: wait until none of its invocations can still be running.
    wait_for_window = SRConnectWindowSettledSensor(
        task_id="wait_for_window_to_settle",
        srconnect_conn_id="{{ params.srconnect_conn_id }}",
        mode="reschedule",
        poke_interval=5 * 60,
        timeout=2 * 60 * 60,
    )
    # [START howto_operator_srconnect_fetch_logs]
    fetch_src_logs = SRConnectFetchLogsOperator(
        task_id="fetch_src_logs",
        srconnect_conn_id="{{ params.srconnect_conn_id }}",
        path=LOCAL_DIR + "/{{ dag.dag_id }}/" + DAY + "/invocations.jsonl.gz",
    )
    upload_logs = LocalFilesystemToS3Operator(
        task_id="upload_logs",
        filename=FETCHED,
        dest_key=PREFIX + "/" + KEY + ".jsonl.gz",
        dest_bucket="{{ var.value.get('srconnect_s3_bucket', 'srconnect-archive') }}",
        aws_conn_id="{{ params.aws_conn_id }}",
        replace=True,
    )
    upload_manifest = LocalFilesystemToS3Operator(
        task_id="upload_manifest",
        filename=FETCHED_MANIFEST,
        dest_key=PREFIX + "/_manifests/" + KEY + ".manifest.json",
        dest_bucket="{{ var.value.get('srconnect_s3_bucket', 'srconnect-archive') }}",
        aws_conn_id="{{ params.aws_conn_id }}",
        replace=True,
    )
    wait_for_window >> fetch_src_logs >> upload_logs >> upload_manifest
    # [END howto_operator_srconnect_fetch_logs]
