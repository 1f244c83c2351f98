"""Run when SRC logs have been archived: a DAG scheduled on the archive (data-aware scheduling).

The archive transfers declare their archive in ``outlets``. With a bucket and prefix written as plain
text that is the archive folder as an Asset, ``s3://{bucket}/{prefix}/{log_type}`` (``gs://`` on GCS),
and a DAG can be scheduled on it directly, e.g. ``schedule=[Asset("s3://my-archive/srconnect/invocations")]``.
The example archive DAGs read their bucket and prefix from Variables when they run, which Airflow cannot
know when it parses them, so their tasks record that asset through an alias instead:
``srconnect_invocations_archive`` (``srconnect_invocations_daily``) and ``srconnect_audit_archive``
(``srconnect_audit_hourly_to_gcs``). This DAG is scheduled on either alias, so it runs after each archive.

Every asset event's extra says what was archived, for example

    {"window_start": "2026-11-26T00:00:00+00:00", "window_end": "2026-11-27T00:00:00+00:00",
     "log_type": "invocations", "records": 485, "bytes": 201002,
     "data_uri": "s3://srconnect-archive/srconnect/invocations/dt=2026-11-26/....jsonl.gz",
     "manifest_uri": "s3://srconnect-archive/srconnect/invocations/dt=2026-11-26/....manifest.json"}

The task below logs the archives of the events that triggered the run and returns them (XCom), where a
real DAG would load the objects into a warehouse. On Airflow 2.11 (Datasets) an alias resolves through
the metadata database when the DAG is parsed, as Airflow 2 does for every alias.
"""

from __future__ import annotations

import logging
from typing import Any

import pendulum
from airflow.providers.common.compat.sdk import AssetAlias

try:  # Airflow 3.1+
    from airflow.sdk import DAG, task
except ImportError:  # Airflow 2.11
    from airflow import DAG
    from airflow.decorators import task

log = logging.getLogger(__name__)


@task
def report_archives(**context: Any) -> list[dict[str, Any]]:
    """The archives whose events triggered this run (one per data object), logged and returned."""
    # Airflow 3 / Airflow 2.11; an event shows under its asset and under the alias it came through.
    events = context.get("triggering_asset_events") or context.get("triggering_dataset_events") or {}
    archives: dict[str, dict[str, Any]] = {}
    for asset_events in events.values():
        for event in asset_events:
            extra = dict(event.extra or {})
            if "data_uri" in extra:
                archives[extra["data_uri"]] = extra
    for extra in archives.values():
        log.info(
            "Archived %s %s records (%s bytes) of [%s, %s) at %s",
            extra["records"],
            extra["log_type"],
            extra["bytes"],
            extra["window_start"],
            extra["window_end"],
            extra["data_uri"],
        )
    return list(archives.values())


with DAG(
    dag_id="srconnect_archive_consumer",
    description="Runs after each archive of ScriptRunner Connect logs",
    schedule=AssetAlias("srconnect_invocations_archive") | AssetAlias("srconnect_audit_archive"),
    start_date=pendulum.datetime(2026, 11, 1, tz="UTC"),
    catchup=False,
    tags=["srconnect", "example"],
) as dag:
    report_archives()
