"""``srconnect_invocations_daily`` in real Airflow: sandbox → settled sensor → S3 (moto), or a local folder."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from airflow_provider_srconnect import contract
from airflow_provider_srconnect.export import archive_keys
from airflow_provider_srconnect.sandbox import DEFAULT_TEAM
from airflow_provider_srconnect.windows import LogWindow
from tests.e2e.archive import (
    Archived,
    archive_prefix,
    assert_archive,
    assert_logs_only_on_failed,
    days_ago,
    decode,
    run_dag,
)
from tests.e2e.conftest import E2E, S3_BUCKET

pytestmark = pytest.mark.e2e

DAG_ID = "srconnect_invocations_daily"
PREFIX = "e2e-daily"
TASKS = {"wait_for_window_to_settle", "archive_invocations"}


prefix = archive_prefix(PREFIX)


def run_to_s3(e2e: E2E) -> Archived:
    run = run_dag(DAG_ID, days_ago(2))
    assert run.states == dict.fromkeys(TASKS, "success")
    keys = archive_keys(PREFIX, "invocations", LogWindow(run.start, run.end))
    listed = e2e.s3.list_objects_v2(Bucket=S3_BUCKET, Prefix=f"{PREFIX}/")
    assert sorted(o["Key"] for o in listed["Contents"]) == sorted([keys.data, keys.manifest])
    data = e2e.s3.get_object(Bucket=S3_BUCKET, Key=keys.data)["Body"].read()
    manifest = json.loads(e2e.s3.get_object(Bucket=S3_BUCKET, Key=keys.manifest)["Body"].read())
    return Archived(run, keys.data, keys.manifest, data, manifest)


@pytest.fixture(scope="module")
def first(e2e: E2E) -> Archived:
    """The DAG run once for the day before yesterday."""
    return run_to_s3(e2e)


# The three tests marked airflow2 share one DAG run: CI's end-to-end check on Airflow 2.11 too.
@pytest.mark.airflow2
def test_archives_one_utc_day_under_the_documented_keys(first: Archived) -> None:
    assert first.run.end - first.run.start == dt.timedelta(days=1)
    day = first.run.start.format("YYYY-MM-DD")
    label = f"{first.run.start.format('YYYYMMDD')}T000000Z_{first.run.end.format('YYYYMMDD')}T000000Z"
    assert first.data_key == f"{PREFIX}/invocations/dt={day}/{label}.jsonl.gz"
    assert first.manifest_key == f"{PREFIX}/_manifests/invocations/dt={day}/{label}.manifest.json"
    assert first.manifest["dataObject"] == f"s3://{S3_BUCKET}/{first.data_key}"


@pytest.mark.airflow2
def test_archive_holds_exactly_the_windows_invocations(first: Archived, e2e: E2E) -> None:
    truth = e2e.sandbox.ground_truth.invocations(DEFAULT_TEAM, first.run.start, first.run.end)
    assert_archive(first.data, first.manifest, truth, first.run, contract.InvocationField.ID)


@pytest.mark.airflow2
def test_logs_are_attached_to_failed_invocations_only(first: Archived) -> None:
    assert first.manifest["includeLogs"] == "failed"
    assert_logs_only_on_failed(decode(first.data))


def test_rerun_of_the_window_rewrites_the_same_bytes(first: Archived, e2e: E2E) -> None:
    again = run_to_s3(e2e)
    assert (again.data_key, again.manifest_key) == (first.data_key, first.manifest_key)
    assert again.data == first.data
    assert again.manifest["sha256"] == first.manifest["sha256"]


def test_local_mode_writes_the_same_archive_to_a_folder(first: Archived, e2e: E2E) -> None:
    archive_dir = e2e.local_dir / "daily-archive"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SRCONNECT_ARCHIVE_DIR", str(archive_dir))
        run = run_dag(DAG_ID, days_ago(2))
    assert run.states == dict.fromkeys(TASKS, "success")
    # The S3 key of the data object under the folder; the manifest beside it (the fetch operator's way).
    files = sorted(p.relative_to(archive_dir).as_posix() for p in archive_dir.rglob("*") if p.is_file())
    assert files == [first.data_key, first.data_key.removesuffix(".jsonl.gz") + ".manifest.json"]
    data = Path(archive_dir, first.data_key).read_bytes()
    manifest = json.loads(Path(archive_dir, files[1]).read_text())
    assert data == first.data  # the same window gives the same bytes, whatever the destination
    assert manifest["dataObject"] == str(archive_dir / first.data_key)
    truth = e2e.sandbox.ground_truth.invocations(DEFAULT_TEAM, run.start, run.end)
    assert_archive(data, manifest, truth, run, contract.InvocationField.ID)
