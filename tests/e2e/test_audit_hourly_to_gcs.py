"""``srconnect_audit_hourly_to_gcs`` in real Airflow: sandbox → the fake-gcs-server binary."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from airflow_provider_srconnect import contract
from airflow_provider_srconnect.export import archive_keys
from airflow_provider_srconnect.sandbox import DEFAULT_TEAM
from airflow_provider_srconnect.windows import LogWindow
from tests.e2e.archive import Archived, archive_prefix, assert_archive, days_ago, run_dag
from tests.e2e.conftest import E2E, GCS_BUCKET

pytestmark = pytest.mark.e2e

DAG_ID = "srconnect_audit_hourly_to_gcs"
PREFIX = "e2e-audit"


prefix = archive_prefix(PREFIX)


def run_to_gcs(e2e: E2E) -> Archived:
    run = run_dag(DAG_ID, days_ago(2, hours=15))
    assert run.states == {"archive_audit": "success"}
    keys = archive_keys(PREFIX, "audit", LogWindow(run.start, run.end))
    bucket = e2e.gcs.bucket(GCS_BUCKET)
    assert sorted(blob.name for blob in bucket.list_blobs(prefix=f"{PREFIX}/")) == sorted([keys.data, keys.manifest])
    data = bucket.blob(keys.data).download_as_bytes(raw_download=True)
    manifest = json.loads(bucket.blob(keys.manifest).download_as_bytes())
    return Archived(run, keys.data, keys.manifest, data, manifest)


@pytest.fixture(scope="module")
def first(e2e: E2E) -> Archived:
    """The DAG run once, for 14:00-15:00 UTC the day before yesterday."""
    return run_to_gcs(e2e)


def test_archives_one_utc_hour_under_the_documented_keys(first: Archived) -> None:
    assert first.run.end - first.run.start == dt.timedelta(hours=1)
    assert first.run.start == days_ago(2, hours=14)
    day = first.run.start.format("YYYY-MM-DD")
    label = f"{first.run.start.format('YYYYMMDD')}T140000Z_{first.run.end.format('YYYYMMDD')}T150000Z"
    assert first.data_key == f"{PREFIX}/audit/dt={day}/{label}.jsonl.gz"
    assert first.manifest["dataObject"] == f"gs://{GCS_BUCKET}/{first.data_key}"
    assert first.manifest["logType"] == "audit"


def test_archive_holds_exactly_the_hours_audit_events(first: Archived, e2e: E2E) -> None:
    truth = e2e.sandbox.ground_truth.audit(DEFAULT_TEAM, first.run.start, first.run.end)
    assert_archive(first.data, first.manifest, truth, first.run, contract.AuditField.ID)


def test_rerun_of_the_hour_rewrites_the_same_bytes(first: Archived, e2e: E2E) -> None:
    again = run_to_gcs(e2e)
    assert (again.data_key, again.manifest_key) == (first.data_key, first.manifest_key)
    assert again.data == first.data
    assert again.manifest["sha256"] == first.manifest["sha256"]
