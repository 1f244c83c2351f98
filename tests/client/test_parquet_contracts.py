"""Archives under every contract: records kept as SRC sent them; Parquet keeps other wire names in ``extra``."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from typing import Any

import pendulum
import pytest

from airflow_provider_srconnect import contract, schema
from airflow_provider_srconnect.hooks.srconnect import SRConnectHook
from airflow_provider_srconnect.sandbox import (
    DEFAULT_API_KEY,
    DEFAULT_EMAIL,
    DEFAULT_TEAM,
    SandboxConfig,
    SandboxServer,
)
from airflow_provider_srconnect.windows import LogWindow
from tests.client.conftest import OVERRIDES
from tests.test_formats import export, read_rows, rebuild, without_nulls

NOW = pendulum.datetime(2026, 11, 20, tz="UTC")
WINDOW = LogWindow(pendulum.datetime(2026, 11, 10, tz="UTC"), pendulum.datetime(2026, 11, 10, 8, tz="UTC"))


@pytest.fixture(params=sorted(OVERRIDES), ids=str)
def served(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, SRConnectHook]]:
    """A sandbox speaking the contract under test, and a hook whose connection carries the same override."""
    override = OVERRIDES[request.param]
    config = SandboxConfig(
        now=NOW, rate_limit_per_second=0, invocations_per_hour=20, audit_per_hour=10, contract=contract.load(override)
    )
    with SandboxServer(config) as server:
        extra = {"team_id": DEFAULT_TEAM, "rate_limit_per_second": 1000, "contract": override}
        conn = {"conn_type": "srconnect", "host": server.url, "login": DEFAULT_EMAIL, "password": DEFAULT_API_KEY}
        monkeypatch.setenv("AIRFLOW_CONN_SRCONNECT_ARCHIVE", json.dumps({**conn, "extra": extra}))
        yield request.param, SRConnectHook(srconnect_conn_id="srconnect_archive")


def lines(data: bytes) -> list[dict[str, Any]]:
    return [json.loads(line) for line in gzip.decompress(data).splitlines()]


def test_parquet_keeps_every_record_with_its_logs_under_any_contract(served):
    name, hook = served
    reference, _ = export(hook, WINDOW, include_logs="all")
    data, result = export(hook, WINDOW, include_logs="all", output_format="parquet")

    records = lines(reference)
    rows = read_rows(data)
    assert result.records == len(rows) == len(records) > 50
    assert any(r.get(schema.CONSOLE_LINES_KEY) for r in records) and any(
        r.get(schema.HTTP_ENTRIES_KEY) for r in records
    )
    assert any(line.get(schema.FULL_MESSAGE_KEY) for r in records for line in r.get(schema.CONSOLE_LINES_KEY, []))
    assert [without_nulls(rebuild(row, schema.INVOCATION)) for row in rows] == [without_nulls(r) for r in records]
    wire = hook.contract
    if name != "default":  # renamed fields are not lost: they wait in `extra`, under their wire names
        renamed = wire.records.invocation.id
        assert all(json.loads(row[schema.EXTRA])[renamed] == r[renamed] for row, r in zip(rows, records, strict=True))


def test_parquet_keeps_every_audit_record_under_any_contract(served):
    _, hook = served
    reference, _ = export(hook, WINDOW, log_type="audit")
    data, _ = export(hook, WINDOW, log_type="audit", output_format="parquet")

    records = lines(reference)
    assert len(records) > 20
    assert [without_nulls(rebuild(row, schema.AUDIT)) for row in read_rows(data)] == [without_nulls(r) for r in records]
