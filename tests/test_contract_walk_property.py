"""Property: for any contract drawn from the schema, the hook's page walk over the sandbox is the ground truth.

Each example starts the sandbox serving a random contract (every pagination style and end signal, wrappers,
renamed fields, time formats, inclusive or exclusive ``to``, comma or repeated filters, short pages
mid-stream or not) and points a connection at it with that contract as its extra. The hook must yield
exactly the ground truth's records, in order, for an odd window and a small page size: no record lost,
repeated or altered.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airflow_provider_srconnect import contract
from airflow_provider_srconnect.hooks.srconnect import SRConnectHook
from airflow_provider_srconnect.sandbox import (
    DEFAULT_API_KEY,
    DEFAULT_EMAIL,
    DEFAULT_TEAM,
    SandboxConfig,
    SandboxServer,
)
from tests.sandbox.contracts import overrides

NOW = dt.datetime(2026, 5, 20, 12, tzinfo=dt.UTC)
#: A window with odd bounds (not whole seconds), so rounding to each time format's unit is exercised.
START = dt.datetime(2026, 5, 18, 22, 59, 59, 999_500, tzinfo=dt.UTC)
END = dt.datetime(2026, 5, 19, 2, 0, 0, 250_000, tzinfo=dt.UTC)


def walk_with_hook(override: dict[str, Any], short_pages: bool, page_size: int) -> None:
    wire = contract.load(override)
    size = min(page_size, wire.pagination.size_max)
    config = SandboxConfig(
        seed=3,
        invocations_per_hour=12,
        audit_per_hour=4,
        rate_limit_per_second=None,
        now=NOW,
        contract=wire,
        short_pages=short_pages,
    )
    with SandboxServer(config, host="127.0.0.1", port=0) as server, pytest.MonkeyPatch.context() as mp:
        conn = {
            "conn_type": "srconnect",
            "host": server.url,
            "login": DEFAULT_EMAIL,
            "password": DEFAULT_API_KEY,
            "extra": {"team_id": DEFAULT_TEAM, "rate_limit_per_second": 1000, "burst": 100, "contract": override},
        }
        mp.setenv("AIRFLOW_CONN_SRCONNECT_PROPERTY", json.dumps(conn))
        hook = SRConnectHook(srconnect_conn_id="srconnect_property")
        invocations = list(hook.iter_invocation_logs(START, END, page_size=size))
        audit = list(hook.iter_audit_logs(START, END, page_size=size))
        truth = server.ground_truth
        expected_invocations = truth.invocations(DEFAULT_TEAM, START, END)
        expected_audit = truth.audit(DEFAULT_TEAM, START, END)
    ids = wire.records
    assert [r[ids.invocation.id] for r in invocations] == [r[ids.invocation.id] for r in expected_invocations]
    assert invocations == expected_invocations
    assert [r[ids.audit.id] for r in audit] == [r[ids.audit.id] for r in expected_audit]
    assert audit == expected_audit
    assert len(expected_invocations) > 2 * size, "too few records for the walk to need several pages"


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(override=overrides(), short_pages=st.booleans(), page_size=st.integers(min_value=3, max_value=9))
def test_the_hooks_walk_over_any_contract_is_the_ground_truth(
    override: dict[str, Any], short_pages: bool, page_size: int
) -> None:
    walk_with_hook(override, short_pages, page_size)
