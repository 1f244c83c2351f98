"""Backfill months of SRC history: daily invocation and audit archives to S3, inside the API budget.

The same archive as ``srconnect_invocations_daily`` (same keys, so the two never disagree), built to
run many days at once:

- ``catchup=True``: every day since ``start_date`` gets a run;
- ``max_active_runs=4`` and the pool ``srconnect_api``: the pool's slots bound how many exports read
  from SRC at a time, the connection's budget bounds their request rate. Create the pool first (a task
  in a missing pool never starts)::

      airflow pools set srconnect_api 4 "SRC API budget"    # 4 slots: a 10 requests/s plan

  Size both from the plan's limit per user (README, "Backfills and rate limits"): about 80 % of it as
  ``rate_limit_per_second`` and half that many slots. Free plan (5 requests/s): 4 and 2; 10 requests/s:
  8 and 4; 20 requests/s: 16 and 8. Give the connection the extra
  ``"rate_limit_storage": "sqlite:////var/lib/airflow/srconnect-budget.db"`` (LocalExecutor: one
  machine) or ``"redis://host:6379/0"`` (Celery or Kubernetes executors: several machines), so that
  every task shares one budget instead of each assuming the whole rate.
- ``on_expired="skip"``: SRC keeps logs for six months. A day that has fallen out of retention is
  skipped (nothing can be archived any more), not failed; a day only partly inside is archived from the
  retention horizon on and the manifest says so.

Backfill a range explicitly (dates inclusive; Airflow 3: a running scheduler executes it, and only
while the DAG is unpaused, ``airflow dags unpause srconnect_backfill``)::

    airflow backfill create --dag-id srconnect_backfill --from-date 2026-06-01 --to-date 2026-11-25 --max-active-runs 4

On Airflow 2.11: ``airflow dags backfill srconnect_backfill -s 2026-06-01 -e 2026-11-25``.

Why a fixed ``start_date``: Airflow needs a constant start date (one computed from "today" at parse
time moves on every parse and breaks scheduling), yet a constant cannot stay within the last six
months. The constant below was the oldest day still inside SRC's retention when this example was
written (November 2026). Set it to the day your team started using SRC, or to the first day you still
need; as time passes, the oldest catch-up days only fall out of retention and are skipped quickly
without a request, so an old start date costs a few skipped runs, never failures.

Configuration, read when a task runs: Variables ``srconnect_s3_bucket`` (default
``srconnect-archive``) and ``srconnect_prefix`` (default ``srconnect``); DAG params
``srconnect_conn_id`` and ``aws_conn_id``.
"""

from __future__ import annotations

import datetime as dt

import pendulum

from airflow_provider_srconnect.sensors.srconnect import SRConnectWindowSettledSensor
from airflow_provider_srconnect.transfers.srconnect_to_s3 import SRConnectToS3Operator

try:  # Airflow 3.1+
    from airflow.sdk import DAG, CronDataIntervalTimetable
except ImportError:  # Airflow 2.11
    from airflow import DAG
    from airflow.timetables.interval import CronDataIntervalTimetable

# [START howto_srconnect_backfill_target]
SRC_POOL = "srconnect_api"
TARGET = {
    "srconnect_conn_id": "{{ params.srconnect_conn_id }}",
    "aws_conn_id": "{{ params.aws_conn_id }}",
    "s3_bucket": "{{ var.value.get('srconnect_s3_bucket', 'srconnect-archive') }}",
    "prefix": "{{ var.value.get('srconnect_prefix', 'srconnect') }}",
    "on_expired": "skip",
    "pool": SRC_POOL,
    # No asset events from a backfill: months of days would trigger each downstream DAG once a day, and
    # on Airflow 3.3 parallel tasks that first record the same new asset through an alias (a templated
    # bucket) race to create it: one fails. The daily DAGs declare the archive; see docs/assets-and-lineage.md.
    "outlets": [],
}
# [END howto_srconnect_backfill_target]

# [START howto_srconnect_backfill_dag]
with DAG(
    dag_id="srconnect_backfill",
    description="Backfill-ready daily archive of ScriptRunner Connect invocation and audit logs",
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
    start_date=pendulum.datetime(2026, 6, 1, tz="UTC"),
    catchup=True,
    max_active_runs=4,
    params={"srconnect_conn_id": "srconnect_default", "aws_conn_id": "aws_default"},
    default_args={"retries": 3, "retry_delay": dt.timedelta(minutes=10), "retry_exponential_backoff": True},
    tags=["srconnect", "archive", "backfill"],
) as dag:
    # A past day is settled already: the sensor then succeeds at once, without a request.
    wait_for_window = SRConnectWindowSettledSensor(
        task_id="wait_for_window_to_settle",
        srconnect_conn_id="{{ params.srconnect_conn_id }}",
        mode="reschedule",
        poke_interval=5 * 60,
        timeout=2 * 60 * 60,
    )
    archive_invocations = SRConnectToS3Operator(
        task_id="archive_invocations", log_type="invocations", include_logs="failed", **TARGET
    )
    archive_audit = SRConnectToS3Operator(task_id="archive_audit", log_type="audit", **TARGET)
    wait_for_window >> archive_invocations
    # [END howto_srconnect_backfill_dag]
