"""One day archived through three wire contracts, changing only the connection extra ``contract``.

The sandbox serves the default contract and then each fixture of ``tests/contracts/`` on the same host and
port; the backfill example DAG archives that day's invocations (every log attached) and audit records to
moto's S3 under real Airflow. Each archive must equal what the sandbox served: no record lost, duplicated
or altered, and every console line, HTTP entry and large message as the sandbox holds it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from airflow_provider_srconnect import contract
from airflow_provider_srconnect.export import (
    CONSOLE_LINES_KEY,
    FULL_MESSAGE_KEY,
    HTTP_ENTRIES_KEY,
    LOGS_NOT_STORED_KEY,
    archive_keys,
)
from airflow_provider_srconnect.sandbox import (
    DEFAULT_API_KEY,
    DEFAULT_EMAIL,
    DEFAULT_TEAM,
    SandboxConfig,
    SandboxServer,
)
from airflow_provider_srconnect.windows import LogWindow
from tests.conftest import REPO_ROOT, free_port
from tests.e2e.archive import Run, assert_archive, days_ago, decode, run_dag, without_logs
from tests.e2e.conftest import E2E, S3_BUCKET

pytestmark = pytest.mark.e2e

DAG_ID = "srconnect_backfill"
ARCHIVES = ("archive_invocations", "archive_audit")
CONTRACTS = {
    "default": {},
    **{path.stem: json.loads(path.read_text()) for path in sorted((REPO_ROOT / "tests" / "contracts").glob("*.json"))},
}


@pytest.fixture(scope="module")
def port(e2e: E2E) -> int:
    """One port for every contract: the connection's host never changes, only its extra."""
    return free_port()


@pytest.fixture(scope="module", params=sorted(CONTRACTS))
def served(request: pytest.FixtureRequest, port: int) -> Iterator[tuple[str, contract.Contract, SandboxServer]]:
    """The sandbox serving one contract, and the default connection pointed at it with that override."""
    name = request.param
    override = CONTRACTS[name]
    wire = contract.load(override)
    config = SandboxConfig(seed=11, invocations_per_hour=20, rate_limit_per_second=200, burst=50, contract=wire)
    extra: dict[str, Any] = {"team_id": DEFAULT_TEAM, "rate_limit_per_second": 200, "burst": 50, "max_retry_wait": 30}
    if override:
        extra["contract"] = override
    conn = {"conn_type": "srconnect", "host": "", "login": DEFAULT_EMAIL, "password": DEFAULT_API_KEY, "extra": extra}
    with SandboxServer(config, host="127.0.0.1", port=port) as server, pytest.MonkeyPatch.context() as mp:
        conn["host"] = server.url
        mp.setenv("AIRFLOW_CONN_SRCONNECT_DEFAULT", json.dumps(conn))
        mp.setenv("AIRFLOW_VAR_SRCONNECT_PREFIX", f"e2e-contract-{name}")
        yield name, wire, server


@pytest.fixture(scope="module")
def run(served: tuple[str, contract.Contract, SandboxServer]) -> Run:
    def every_log(dag: Any) -> None:
        dag.get_task("archive_invocations").include_logs = "all"

    run = run_dag(DAG_ID, days_ago(2), every_log)
    assert run.states == {"wait_for_window_to_settle": "success", **dict.fromkeys(ARCHIVES, "success")}
    return run


def archived(e2e: E2E, name: str, log_type: str, run: Run) -> tuple[bytes, dict[str, Any]]:
    keys = archive_keys(f"e2e-contract-{name}", log_type, LogWindow(run.start, run.end))
    data = e2e.s3.get_object(Bucket=S3_BUCKET, Key=keys.data)["Body"].read()
    manifest = json.loads(e2e.s3.get_object(Bucket=S3_BUCKET, Key=keys.manifest)["Body"].read())
    return bytes(data), manifest


def test_audit_archive_equals_what_the_sandbox_served(
    e2e: E2E, served: tuple[str, contract.Contract, SandboxServer], run: Run
) -> None:
    name, wire, server = served
    data, manifest = archived(e2e, name, "audit", run)
    truth = server.ground_truth.audit(DEFAULT_TEAM, run.start, run.end)
    assert_archive(data, manifest, truth, run, wire.records.audit.id)


def test_invocation_archive_equals_what_the_sandbox_served(
    e2e: E2E, served: tuple[str, contract.Contract, SandboxServer], run: Run
) -> None:
    name, wire, server = served
    data, manifest = archived(e2e, name, "invocations", run)
    truth = server.ground_truth.invocations(DEFAULT_TEAM, run.start, run.end)
    assert_archive(data, manifest, truth, run, wire.records.invocation.id)
    fields = wire.records.invocation
    records = decode(data)
    assert not any(r.get(LOGS_NOT_STORED_KEY) for r in records), "a settled day has every invocation's logs"
    large: list[str] = []
    for record in records:
        invocation = record[fields.id]
        logs = server.ground_truth.logs(DEFAULT_TEAM, invocation)
        assert record.get(CONSOLE_LINES_KEY, []) == [
            {**line, **({FULL_MESSAGE_KEY: logs.large_message} if logs.large_message_line == i else {})}
            for i, line in enumerate(logs.console)
        ], invocation
        assert record.get(HTTP_ENTRIES_KEY, []) == logs.http, invocation
        assert (CONSOLE_LINES_KEY in record) == (record[fields.console_logs] != 0)
        assert (HTTP_ENTRIES_KEY in record) == (record[fields.http_logs] != 0)
        if logs.large_message_id is not None:
            large.append(logs.large_message_id)
    assert large, "the day has no large message, so that part of the check proves nothing"
    # Server values are data: ids SRC may send with '+', '/', '=', a space or non-ASCII archive like any other.
    assert any(set(message_id) & set("+/= é") for message_id in large), large
    assert [without_logs(r) for r in records] == truth


def test_the_archive_keeps_the_servers_field_names(
    e2e: E2E, served: tuple[str, contract.Contract, SandboxServer], run: Run
) -> None:
    name, wire, _ = served
    record = decode(archived(e2e, name, "invocations", run)[0])[0]
    fields = wire.records.invocation
    assert {fields.id, fields.start_time, fields.execution_status} <= record.keys()
    assert record[fields.execution_status] in wire.enums.statuses.values()


def test_contract_fixtures_differ_from_the_default_in_every_group() -> None:
    assert {"pages", "offset"} <= set(CONTRACTS)
    groups = set(contract.Contract.__dataclass_fields__)
    for name, override in CONTRACTS.items():
        if name != "default":
            assert set(contract.load(override).changes_from(contract.DEFAULT)) == groups, name
