"""Secret scan: run the daily example DAG with a known API key, then look for the key everywhere a user can.

Task logs (what the tasks printed, and any log files), XCom values, rendered template fields, the text of
the error a failed run raised, and every archived object (data and manifest) must hold neither the key nor
the base64 Authorization value built from it.
"""

from __future__ import annotations

import base64
import gzip
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_srconnect.sandbox import DEFAULT_TEAM, SandboxConfig, SandboxServer, User
from tests.conftest import AIRFLOW_HOME
from tests.e2e.archive import Run, archive_prefix, days_ago, run_dag
from tests.e2e.conftest import E2E, S3_BUCKET

pytestmark = pytest.mark.e2e

DAG_ID = "srconnect_invocations_daily"
PREFIX = "e2e-secrets"
EMAIL = "secret-scan@example.com"
API_KEY = "e2e-known-api-key-5c0ffee-91d2"
TOKEN = base64.b64encode(f"{EMAIL}:{API_KEY}".encode()).decode()
CONN_ID = "srconnect_secret_scan"

prefix = archive_prefix(PREFIX)


@pytest.fixture(scope="module")
def secret_sandbox() -> Iterator[SandboxServer]:
    """A sandbox whose only user holds the known key."""
    config = SandboxConfig(
        seed=11,
        invocations_per_hour=20,
        rate_limit_per_second=200,
        burst=50,
        users=(User(EMAIL, API_KEY, (DEFAULT_TEAM,)),),
    )
    with SandboxServer(config).start() as server:
        yield server


def use_the_known_key(dag: Any) -> None:
    for task in dag.tasks:
        task.srconnect_conn_id = CONN_ID


def stored_rows(run: Run) -> list[str]:
    """XCom values and rendered template fields that Airflow stored for the run, as text."""
    from airflow.models.renderedtifields import RenderedTaskInstanceFields
    from airflow.utils.session import create_session

    try:
        from airflow.models.xcom import XComModel as XComTable
    except ImportError:  # Airflow 2
        from airflow.models.xcom import XCom as XComTable  # type: ignore[no-redef]

    rows: list[str] = []
    with create_session() as session:
        for table in (XComTable, RenderedTaskInstanceFields):
            found = session.query(table).filter(table.dag_id == DAG_ID, table.run_id == run.dag_run.run_id).all()
            rows += [json.dumps(row.value if table is XComTable else row.rendered_fields, default=str) for row in found]
    return rows


def archived_objects(e2e: E2E) -> list[str]:
    texts = []
    for item in e2e.s3.list_objects_v2(Bucket=S3_BUCKET, Prefix=f"{PREFIX}/").get("Contents", []):
        body = e2e.s3.get_object(Bucket=S3_BUCKET, Key=item["Key"])["Body"].read()
        texts.append(gzip.decompress(body).decode() if item["Key"].endswith(".gz") else body.decode())
    return texts


def log_files() -> str:
    return "".join(p.read_text(errors="replace") for p in Path(AIRFLOW_HOME).rglob("*.log") if p.is_file())


def test_the_key_appears_in_no_log_xcom_rendered_field_error_or_archive(e2e, secret_sandbox, capfd, monkeypatch):
    connection = {
        "conn_type": "srconnect",
        "host": secret_sandbox.url,
        "login": EMAIL,
        "password": API_KEY,
        "extra": {"team_id": DEFAULT_TEAM, "rate_limit_per_second": 200, "burst": 50, "max_retries": 1},
    }
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", json.dumps(connection))

    archived = run_dag(DAG_ID, days_ago(3), use_the_known_key)
    secret_sandbox.faults.revoke(EMAIL)
    failed = run_dag(DAG_ID, days_ago(4), use_the_known_key)
    printed = capfd.readouterr()

    assert set(archived.states.values()) == {"success"} and "failed" in failed.states.values()
    places = {
        "task logs": printed.out + printed.err + log_files(),
        "XCom and rendered fields": "\n".join(stored_rows(archived) + stored_rows(failed)),
        "archive": "\n".join(archived_objects(e2e)),
    }
    # Each place really holds what a leak would sit next to, so the scan cannot pass by looking at nothing.
    assert "records so far" in places["task logs"] and "SRConnectAuthError" in places["task logs"]
    assert CONN_ID in places["XCom and rendered fields"] and "s3://" in places["XCom and rendered fields"]
    assert '"sha256"' in places["archive"] and secret_sandbox.stats.requests_total > 0
    for name, text in places.items():
        assert API_KEY not in text, f"the API key leaked into {name}"
        assert TOKEN not in text, f"the Authorization value leaked into {name}"
