"""``srconnect_existing_dag_handoff`` in real Airflow: fetch to a local file, then LocalFilesystemToS3Operator."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_srconnect import contract
from airflow_provider_srconnect.sandbox import DEFAULT_TEAM
from tests.e2e.archive import Run, archive_prefix, assert_archive, days_ago, run_dag
from tests.e2e.conftest import E2E, S3_BUCKET

pytestmark = pytest.mark.e2e

DAG_ID = "srconnect_existing_dag_handoff"
PREFIX = "e2e-handoff"
TASKS = ("wait_for_window_to_settle", "fetch_src_logs", "upload_logs", "upload_manifest")


@dataclass(frozen=True)
class Handed:
    """One run of the DAG: the local file it fetched and what the upload left in S3."""

    run: Run
    local_file: Path
    key: str
    data: bytes
    manifest: dict[str, Any]


prefix = archive_prefix(PREFIX)


def run_handoff(e2e: E2E) -> Handed:
    run = run_dag(DAG_ID, days_ago(4))
    assert run.states == dict.fromkeys(TASKS, "success")
    day = run.start.format("YYYY-MM-DD")
    key = f"{PREFIX}/invocations/dt={day}/invocations.jsonl.gz"
    listed = e2e.s3.list_objects_v2(Bucket=S3_BUCKET, Prefix=f"{PREFIX}/")
    manifest_key = f"{PREFIX}/_manifests/invocations/dt={day}/invocations.manifest.json"
    assert sorted(o["Key"] for o in listed["Contents"]) == [manifest_key, key]
    data = e2e.s3.get_object(Bucket=S3_BUCKET, Key=key)["Body"].read()
    manifest = json.loads(e2e.s3.get_object(Bucket=S3_BUCKET, Key=manifest_key)["Body"].read())
    return Handed(run, e2e.local_dir / DAG_ID / day / "invocations.jsonl.gz", key, data, manifest)


@pytest.fixture(scope="module")
def first(e2e: E2E) -> Handed:
    """The DAG run once, for the day four days ago."""
    return run_handoff(e2e)


def test_upload_is_the_fetched_file(first: Handed) -> None:
    assert first.local_file.read_bytes() == first.data
    fetched = first.run.dag_run.get_task_instance("fetch_src_logs").xcom_pull(task_ids="fetch_src_logs")
    assert fetched == str(first.local_file)


def test_uploaded_archive_holds_exactly_the_days_invocations(first: Handed, e2e: E2E) -> None:
    truth = e2e.sandbox.ground_truth.invocations(DEFAULT_TEAM, first.run.start, first.run.end)
    assert_archive(first.data, first.manifest, truth, first.run, contract.InvocationField.ID)
    assert first.manifest["includeLogs"] == "none"


def test_rerun_uploads_the_same_bytes(first: Handed, e2e: E2E) -> None:
    again = run_handoff(e2e)
    assert again.key == first.key
    assert hashlib.sha256(again.data).hexdigest() == hashlib.sha256(first.data).hexdigest()
    assert again.manifest["sha256"] == first.manifest["sha256"]
