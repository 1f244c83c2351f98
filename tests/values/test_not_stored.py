"""Not stored, said once and clearly: a run whose logs were wanted and are not archived is flagged, whatever its
counts, and the manifest counts it. A run not ended (RUNNING) is flagged without asking SRC for its logs.

With a fake hook under every contract, and against the sandbox at a "now" inside the window, where it
reports invocations still running, some of them with no log counted yet.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pendulum
import pytest

from airflow_provider_srconnect import contract, schema
from airflow_provider_srconnect.destinations.local import LocalDestination
from airflow_provider_srconnect.export import Archived, ExportRequest, archive_keys, manifest
from airflow_provider_srconnect.hooks.srconnect import SRConnectHook
from airflow_provider_srconnect.publish import Job, publish
from airflow_provider_srconnect.sandbox import (
    DEFAULT_API_KEY,
    DEFAULT_EMAIL,
    DEFAULT_TEAM,
    SandboxConfig,
    SandboxServer,
)
from airflow_provider_srconnect.schema import CONSOLE_LINES_KEY, HTTP_ENTRIES_KEY, LOGS_NOT_STORED_KEY
from airflow_provider_srconnect.windows import LogWindow
from tests.client.conftest import OVERRIDES
from tests.values.archive import CONTRACTS, FORMATS, WINDOW, Logs, ValuesHook, archive, read_back, through_parquet

LOG_KEYS = {CONSOLE_LINES_KEY, HTTP_ENTRIES_KEY, LOGS_NOT_STORED_KEY}
LOG = logging.getLogger("test-not-stored")


@pytest.fixture(params=sorted(CONTRACTS), ids=str)
def wire(request: pytest.FixtureRequest) -> contract.Contract:
    return CONTRACTS[request.param]


def record(wire: contract.Contract, ident: str, status: str, console: int, http: int) -> dict[str, Any]:
    f = wire.records.invocation
    return {
        f.id: ident,
        f.start_time: contract.format_time(WINDOW.start, wire.records.time_format),
        f.execution_status: wire.enums.statuses[status],
        f.console_logs: console,
        f.http_logs: http,
    }


def by_id(records: list[dict[str, Any]], wire: contract.Contract) -> dict[str, dict[str, Any]]:
    """The log keys of each record, by id (nulls dropped as Parquet reads a missing key as null)."""
    ident = wire.records.invocation.id
    read = [through_parquet(r, schema.INVOCATION) for r in records]
    return {r[ident]: {k: v for k, v in r.items() if k in LOG_KEYS} for r in read}


def manifest_count(request: ExportRequest, result: Any) -> int:
    moment = pendulum.datetime(2026, 11, 20, tz="UTC")
    body = manifest(WINDOW, request, Archived((("uri", result),)), started=moment, finished=moment)
    return int(json.loads(body)["logsNotStored"])


@pytest.mark.parametrize("output_format", FORMATS)
@pytest.mark.parametrize("include_logs", ["all", "failed"])
def test_a_running_invocation_is_flagged_whatever_its_counts_and_asked_nothing(wire, include_logs, output_format):
    records = [
        record(wire, "running, nothing counted", contract.STATUS_RUNNING, 0, 0),
        record(wire, "running, logs counted", contract.STATUS_RUNNING, 3, 2),
        record(wire, "finished, logged nothing", contract.STATUS_FINISHED, 0, 0),
        record(wire, "finished", contract.STATUS_FINISHED, 1, 1),
        record(wire, "failed", "FUNCTION_ERROR", 1, 1),
        record(wire, "failed, not stored", "TIMED_OUT", 0, 1),  # SRC's 404
    ]
    logs = {
        "finished": Logs([{"n": 1}], [{"fetchId": 1}]),
        "failed": Logs([{"n": 2}], [{"fetchId": 2}]),
        "failed, not stored": Logs(stored=False),
    }
    hook = ValuesHook(wire, records, logs)
    request = ExportRequest(include_logs=include_logs, output_format=output_format)

    data, result = archive(hook, output_format, include_logs=include_logs)

    got = by_id(read_back(data, output_format), wire)
    flag = {LOGS_NOT_STORED_KEY: True}
    assert got["running, nothing counted"] == got["running, logs counted"] == got["failed, not stored"] == flag
    assert got["finished, logged nothing"] == {}, "no flag and no logs: it logged nothing"
    assert got["failed"] == {CONSOLE_LINES_KEY: [{"n": 2}], HTTP_ENTRIES_KEY: [{"fetchId": 2}]}
    assert got["finished"] == (
        {CONSOLE_LINES_KEY: [{"n": 1}], HTTP_ENTRIES_KEY: [{"fetchId": 1}]} if include_logs == "all" else {}
    )
    assert not any(ident.startswith("running") for _, ident in hook.log_requests), "nothing asked for a running one"
    assert result.logs_not_stored == manifest_count(request, result) == 3


def test_without_logs_nothing_is_flagged(wire):
    records = [record(wire, "running", contract.STATUS_RUNNING, 0, 0), record(wire, "failed", "DENIED", 0, 0)]
    data, result = archive(ValuesHook(wire, records), "jsonl.gz")
    assert by_id(read_back(data, "jsonl.gz"), wire) == {"running": {}, "failed": {}}
    assert result.logs_not_stored == manifest_count(ExportRequest(), result) == 0


# --- Against the sandbox: a window up to "now" --------------------------------------------------------

NOW = pendulum.datetime(2026, 11, 20, 12, tz="UTC")
RECENT = LogWindow(NOW.subtract(hours=1), NOW)
#: A seed and rate whose last hour holds runs still going at NOW, one with no console line and no HTTP call yet.
SEED, PER_HOUR = 12, 300


@pytest.fixture(params=sorted(OVERRIDES), ids=str)
def served(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[contract.Contract, SandboxServer, SRConnectHook]]:
    """A sandbox speaking the contract under test at NOW, and a hook whose connection carries the same override."""
    override = OVERRIDES[request.param]
    wire = contract.load(override)
    config = SandboxConfig(seed=SEED, now=NOW, rate_limit_per_second=0, invocations_per_hour=PER_HOUR, contract=wire)
    with SandboxServer(config, host="127.0.0.1", port=0) as server:
        extra = {"team_id": DEFAULT_TEAM, "rate_limit_per_second": 1000, "contract": override}
        conn = {"conn_type": "srconnect", "host": server.url, "login": DEFAULT_EMAIL, "password": DEFAULT_API_KEY}
        monkeypatch.setenv("AIRFLOW_CONN_SRCONNECT_VALUES", json.dumps({**conn, "extra": extra}))
        yield wire, server, SRConnectHook(srconnect_conn_id="srconnect_values")


@pytest.mark.parametrize(
    ("include_logs", "output_format"), [("all", "jsonl.gz"), ("all", "parquet"), ("failed", "jsonl.gz")]
)
def test_the_sandboxs_running_invocations_are_flagged_and_counted(served, tmp_path, include_logs, output_format):
    wire, server, hook = served
    f = wire.records.invocation
    running = wire.enums.statuses[contract.STATUS_RUNNING]
    truth = server.ground_truth.invocations(DEFAULT_TEAM, RECENT.start, RECENT.end)
    still = {r[f.id] for r in truth if r[f.execution_status] == running}
    assert any(r[f.id] in still and r[f.console_logs] == 0 and r[f.http_logs] == 0 for r in truth), (
        "the window must hold a running invocation with no logs counted: the case that read as 'emitted no logs'"
    )
    keys = archive_keys("p", "invocations", RECENT, output_format)
    request = ExportRequest(include_logs=include_logs, output_format=output_format)

    archived = publish(hook, Job(RECENT, request, keys), LocalDestination(tmp_path), None, LOG)

    records = read_back((tmp_path / keys.data).read_bytes(), output_format)
    assert [r[f.id] for r in records] == [r[f.id] for r in truth]
    failed = {wire.enums.statuses[name] for name in contract.FAILED_STATUSES}
    for got, sent in zip(records, truth, strict=True):
        keys_of_logs = {key for key, value in got.items() if key in LOG_KEYS and value is not None}
        if sent[f.id] in still:
            assert keys_of_logs == {LOGS_NOT_STORED_KEY}, sent[f.id]  # whatever its counts say
        elif include_logs == "all" or sent[f.execution_status] in failed:
            counted = {CONSOLE_LINES_KEY: sent[f.console_logs] != 0, HTTP_ENTRIES_KEY: sent[f.http_logs] != 0}
            assert keys_of_logs == {key for key, present in counted.items() if present}, sent[f.id]
        else:
            assert keys_of_logs == set(), sent[f.id]
    body = json.loads((tmp_path / keys.manifest).read_text())
    assert body["logsNotStored"] == archived.logs_not_stored == len(still)
    assert server.stats.by_status.get(wire.logs.not_stored_status, 0) == 0, "no log request for a running invocation"
