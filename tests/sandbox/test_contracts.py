"""The sandbox speaks any wire contract: a raw walk written from the agreed semantics equals the ground truth.

No hook and no ``_api``: requests go through the socket-free ``SandboxApp.handle`` (or real HTTP on
127.0.0.1 where the transport matters), and ``tests.sandbox.walk`` pages the way a contract says.
"""

from __future__ import annotations

import ast
import dataclasses
import datetime as dt
import json
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airflow_provider_srconnect import contract
from airflow_provider_srconnect.sandbox import (
    DEFAULT_TEAM,
    Faults,
    GroundTruth,
    SandboxConfig,
    SandboxServer,
    Stats,
    logfiles,
)
from airflow_provider_srconnect.sandbox.api import Reply, SandboxApp
from airflow_provider_srconnect.sandbox.listing import shortened
from airflow_provider_srconnect.sandbox.window import Dataset
from tests.sandbox.conftest import NOW, Client
from tests.sandbox.contracts import contracts, overrides
from tests.sandbox.walk import (
    AUTHORIZATION,
    Get,
    app_get,
    body_of,
    filter_params,
    in_window,
    items_of,
    walk,
    window_params,
)

D = contract.DEFAULT
F = contract.InvocationField
A = contract.AuditField
C = contract.ConsoleLineField
HOUR = dt.timedelta(hours=1)
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
BASE_URL = "http://sandbox.test"
FIXTURES = {
    path.stem: contract.load(json.loads(path.read_text()))
    for path in sorted((Path(__file__).parents[1] / "contracts").glob("*.json"))
}
#: End signals the fixtures do not cover.
HAND_MADE: dict[str, dict[str, Any]] = {
    "page-total-pages": {
        "pagination": {"style": "page", "param": "page", "first_page": 0, "next_field": None},
        "listing": {"wrapper": "data.items"},
    },
    "page-total-count": {"pagination": {"style": "page", "param": "page", "next_field": None}},
    "page-has-more": {"pagination": {"style": "page", "param": "p", "first_page": 2, "next_field": None}},
    "page-short-bare": {
        "pagination": {"style": "page", "param": "page", "next_field": None, "last_page": "short"},
        "listing": {"wrapper": None},
    },
    "page-empty": {
        "pagination": {"style": "page", "param": "page", "next_field": None, "last_page": "empty"},
        "listing": {"wrapper": "results"},
    },
    "offset-next": {"pagination": {"style": "offset", "param": "skip", "next_field": "paging.nextOffset"}},
    "offset-total-count": {"pagination": {"style": "offset", "param": "offset", "next_field": None}},
    "offset-empty-bare": {
        "pagination": {"style": "offset", "param": "offset", "next_field": None, "last_page": "empty"},
        "listing": {"wrapper": None},
    },
    "cursor-nested": {
        "pagination": {"param": "cursor", "next_field": "page.next"},
        "listing": {"wrapper": "page.items"},
    },
}
HAND_MADE["page-total-pages"]["pagination"]["total_pages_field"] = "meta.pages"
HAND_MADE["page-total-count"]["pagination"]["total_count_field"] = "total"
HAND_MADE["page-has-more"]["pagination"]["has_more_field"] = "more"
HAND_MADE["offset-total-count"]["pagination"]["total_count_field"] = "meta.total"
CONTRACTS = {"default": D, **FIXTURES, **{name: contract.load(o) for name, o in HAND_MADE.items()}}
PAGES, OFFSET = FIXTURES["pages"], FIXTURES["offset"]
#: A window of each log type holding about 350 records at the default density.
WINDOWS = {"invocations": (NOW - 7 * HOUR, NOW - HOUR), "audit": (NOW - 72 * HOUR, NOW - 12 * HOUR)}


def make_app(wire: contract.Contract = D, *, short_pages: bool = False, **config: Any) -> SandboxApp:
    settings_: dict[str, Any] = {"now": NOW, "rate_limit_per_second": 0, **config}
    return SandboxApp(SandboxConfig(contract=wire, short_pages=short_pages, **settings_), Faults(), Stats(), BASE_URL)


def listing_path(wire: contract.Contract, kind: str) -> str:
    template = wire.paths.invocation_logs if kind == "invocations" else wire.paths.audit_logs
    return template.format(team_id=DEFAULT_TEAM)


def log_path(wire: contract.Contract, kind: str, invocation_id: str, message_id: str = "") -> str:
    template = {"console": wire.paths.console_logs, "http": wire.paths.http_logs, "large": wire.paths.large_log_message}
    return template[kind].format(invocation_id=quote(invocation_id, safe=""), message_id=quote(message_id, safe=""))


def truth_of(app: SandboxApp, kind: str, start: dt.datetime, end: dt.datetime) -> list[dict[str, Any]]:
    truth = GroundTruth(app.dataset)
    return (
        truth.invocations(DEFAULT_TEAM, start, end) if kind == "invocations" else truth.audit(DEFAULT_TEAM, start, end)
    )


def time_field(wire: contract.Contract, kind: str) -> str:
    return wire.records.invocation.start_time if kind == "invocations" else wire.records.audit.date


def walk_window(
    get: Get, wire: contract.Contract, kind: str, start: dt.datetime, end: dt.datetime, page_size: int, **filters: Any
) -> tuple[list[dict[str, Any]], list[int]]:
    """The records of ``[start, end)`` collected by the raw walk (records outside the rounded window dropped)."""
    params = window_params(wire, start, end)
    if kind == "invocations":
        params += filter_params(wire, **filters)
    walked = walk(get, wire, listing_path(wire, kind), params, page_size)
    return in_window(wire, walked.records, time_field(wire, kind), start, end), walked.sizes


def large_raw(app: SandboxApp, wanted: str = "") -> Any:
    """The first invocation of the day before ``NOW`` with HTTP logs and a large message whose id holds ``wanted``."""
    first = int((NOW - 48 * HOUR).timestamp()) // 3600
    return next(
        raw
        for hour in range(first, first + 24)
        for raw in app.dataset.invocation_hour(DEFAULT_TEAM, hour)
        if raw.large_line >= 0 and raw.http > 0 and all(c in (logfiles.large_message_id(raw) or "") for c in wanted)
    )


def fetch_log(app: SandboxApp, wire: contract.Contract, reply: Reply) -> Reply:
    """The log file behind a log endpoint's reply: downloaded from the URL, or the reply itself (inline)."""
    if wire.logs.mode == "inline":
        return reply
    url = contract.lookup(body_of(reply), wire.logs.url_field)
    assert isinstance(url, str) and url.startswith(BASE_URL)
    return app.handle("GET", url.removeprefix(BASE_URL), None)


# --- Every contract: the raw walk equals the ground truth ---------------------------------------


@pytest.mark.parametrize("short_pages", [False, True], ids=["full-pages", "short-pages"])
@pytest.mark.parametrize("kind", ["invocations", "audit"])
@pytest.mark.parametrize("name", sorted(CONTRACTS))
def test_the_raw_walk_equals_the_ground_truth(name: str, kind: str, short_pages: bool) -> None:
    wire = CONTRACTS[name]
    app = make_app(wire, short_pages=short_pages)
    start, end = WINDOWS[kind]
    size = min(23, wire.pagination.size_max)
    records, sizes = walk_window(app_get(app), wire, kind, start, end, size)
    truth = truth_of(app, kind, start, end)
    id_field = wire.records.invocation.id if kind == "invocations" else wire.records.audit.id
    assert len(truth) > 8 * size
    assert [r[id_field] for r in records] == [r[id_field] for r in truth]
    assert records == truth
    mid_stream = sizes[:-1]
    if shortened(wire, short_pages):
        assert max(1, size // 2) in mid_stream and size in mid_stream
    else:
        empty_last = wire.pagination.last_page == "empty"  # the last records may fill a short page before it
        assert set(mid_stream[:-1] if empty_last else mid_stream) == {size}


def test_short_pages_over_http_with_a_fixture(start_sandbox: Any) -> None:
    sandbox: SandboxServer = start_sandbox(contract=PAGES, short_pages=True)
    start, end = WINDOWS["invocations"]
    records, sizes = walk_window(Client(sandbox).reply, PAGES, "invocations", start, end, 20)
    assert records == sandbox.ground_truth.invocations(DEFAULT_TEAM, start, end)
    assert sizes[:4] == [20, 10, 20, 20]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(wire=contracts(), short_pages=st.booleans(), data=st.data())
def test_any_contract_walks_to_the_ground_truth(
    wire: contract.Contract, short_pages: bool, data: st.DataObject
) -> None:
    app = make_app(wire, short_pages=short_pages, invocations_per_hour=15, audit_per_hour=8)
    size = data.draw(st.integers(1, min(wire.pagination.size_max, 12)), label="page size")
    kind = data.draw(st.sampled_from(["invocations", "audit"]), label="kind")
    start, end = NOW - 5 * HOUR - dt.timedelta(milliseconds=1), NOW - HOUR
    if kind == "audit":
        records, _ = walk_window(app_get(app), wire, kind, start, end, size)
        assert records == truth_of(app, kind, start, end)
        return
    statuses = data.draw(
        st.lists(st.sampled_from(contract.EXECUTION_STATUSES), max_size=3, unique=True), label="statuses"
    )
    records, _ = walk_window(app_get(app), wire, kind, start, end, size, statuses=statuses)
    assert records == GroundTruth(app.dataset).invocations(DEFAULT_TEAM, start, end, statuses or None)


def test_the_strategy_draws_every_pagination_end_and_shape() -> None:
    seen: set[tuple[Any, ...]] = set()

    @settings(max_examples=150, deadline=None, database=None, derandomize=True)
    @given(overrides())
    def draw(override: dict[str, Any]) -> None:
        wire = contract.load(override)
        SandboxConfig(contract=wire)  # no dotted keys collide
        p = wire.pagination
        end = next((f for f in ("next_field", "total_pages_field", "total_count_field", "has_more_field")
                    if getattr(p, f) is not None), p.last_page)  # fmt: skip
        seen.add((p.style, end))
        seen.add(("bare", wire.listing.wrapper is None))
        seen.add(("logs", wire.logs.mode, wire.log_files.large_message_field is None))

    draw()
    styles = {("cursor", "next_field"), ("page", "total_pages_field"), ("offset", "has_more_field"), ("page", "short")}
    assert (
        styles <= seen and {("bare", True), ("bare", False), ("logs", "inline", False), ("logs", "url", True)} <= seen
    )


# --- Records, parameters and filters ----------------------------------------------------------------


def test_records_are_renamed_timed_and_spelled_per_contract() -> None:
    start, end = NOW - 30 * HOUR, NOW - 6 * HOUR
    default = GroundTruth(Dataset(SandboxConfig(now=NOW)))
    for wire in (PAGES, OFFSET, contract.load({"records": {"time_format": "epoch-s"}})):
        truth = GroundTruth(Dataset(SandboxConfig(now=NOW, contract=wire)))
        names = wire.records.invocation
        plains, serveds = default.invocations(DEFAULT_TEAM, start, end), truth.invocations(DEFAULT_TEAM, start, end)
        for plain, served in zip(plains, serveds, strict=True):
            assert list(served) == [getattr(names, f.name) for f in dataclasses.fields(names)]
            ms = (contract.parse_time(plain[F.START_TIME]) - EPOCH) // dt.timedelta(milliseconds=1)
            expected = {
                "iso-ms": plain[F.START_TIME],
                "epoch-ms": ms,
                "epoch-s": ms // 1000 if ms % 1000 == 0 else ms / 1000,
            }[wire.records.time_format]
            assert served[names.start_time] == expected and type(served[names.start_time]) is type(expected)
            assert served[names.execution_status] == wire.enums.statuses[plain[F.EXECUTION_STATUS]]
            assert served[names.trigger_type] == wire.enums.trigger_types[plain[F.TRIGGER_TYPE]]
            assert served[names.root_trigger_type] == wire.enums.trigger_types[plain[F.ROOT_TRIGGER_TYPE]]
            assert served[names.workspace] == plain[F.WORKSPACE]  # nested objects stay as they are
        audit = wire.records.audit
        for plain, served in zip(
            default.audit(DEFAULT_TEAM, start, end), truth.audit(DEFAULT_TEAM, start, end), strict=True
        ):
            assert served[audit.id] == plain[A.ID] and served[audit.actor] == plain[A.ACTOR]
            assert contract.parse_time(served[audit.date], wire.records.time_format) == contract.parse_time(
                plain[A.DATE]
            )


@pytest.mark.parametrize(
    ("wire", "inclusive_keeps_the_boundary"),
    [
        (D, False),
        (PAGES, True),
        (contract.load({"window": {"time_format": "epoch-s", "to_inclusive": True}}), True),
    ],
)
def test_window_bounds_follow_the_format_and_inclusiveness(
    wire: contract.Contract, inclusive_keeps_the_boundary: bool
) -> None:
    app = make_app(wire)
    boundary = NOW.replace(hour=6, minute=0, second=0, microsecond=0)  # a record starts exactly here
    at = truth_of(app, "invocations", boundary, boundary + HOUR)[0]
    assert contract.parse_time(at[wire.records.invocation.start_time], wire.records.time_format) == boundary
    w = wire.window
    edge = str(contract.format_time(boundary, w.time_format))
    before = str(contract.format_time(boundary - dt.timedelta(minutes=5), w.time_format))
    path = listing_path(wire, "invocations")
    served = items_of(wire, body_of(app_get(app)(path, [(w.from_param, before), (w.to_param, edge)])))
    ids = [r[wire.records.invocation.id] for r in served]
    assert (at[wire.records.invocation.id] in ids) is inclusive_keeps_the_boundary
    bad = app_get(app)(path, [(w.from_param, "yesterday")])
    assert bad.status == 400 and w.from_param in contract.lookup(json.loads(bad.body), wire.errors.message_field)


def test_filters_use_wire_spellings_and_the_multi_value_encoding() -> None:
    start, end = NOW - 24 * HOUR, NOW
    statuses, triggers = ["FUNCTION_ERROR", "RUNTIME_ERROR"], ["SCHEDULED", "CHAINED"]
    for wire in (D, PAGES, OFFSET):
        app = make_app(wire)
        records, _ = walk_window(
            app_get(app), wire, "invocations", start, end, 20, statuses=statuses, triggers=triggers
        )
        truth = GroundTruth(app.dataset).invocations(DEFAULT_TEAM, start, end, statuses, triggers)
        assert records == truth and truth
        spelled = {wire.enums.statuses[s] for s in statuses}
        assert {r[wire.records.invocation.execution_status] for r in records} == spelled
    app, f = make_app(PAGES), PAGES.filters
    get, path = app_get(app), listing_path(PAGES, "invocations")
    assert get(path, [(f.execution_statuses_param, "finished,running")]).status == 200
    for bad in (
        [(f.execution_statuses_param, "FINISHED")],  # the provider name is not the wire spelling
        [(f.execution_statuses_param, "finished"), (f.execution_statuses_param, "running")],  # comma, not repeat
        [(f.trigger_types_param, "bogus")],
    ):
        reply = get(path, bad)
        assert reply.status == 400, bad
        assert bad[-1][0] in contract.lookup(json.loads(reply.body), PAGES.errors.message_field)


def test_sort_parameters_per_contract() -> None:
    start, end = NOW - 4 * HOUR, NOW - HOUR
    app = make_app(PAGES)
    records, _ = walk_window(app_get(app), PAGES, "invocations", start, end, 30, direction="desc")
    assert records == truth_of(app, "invocations", start, end)[::-1]
    offset = make_app(OFFSET)
    path = listing_path(OFFSET, "invocations")
    refused = app_get(offset)(path, [(D.filters.order_by_param or "", "startTime")])
    assert refused.status == 400 and "unknown query parameter" in refused.body.decode()


# --- Replies: wrappers, logs, large messages, errors --------------------------------------------------


def test_listing_wrappers_nested_and_bare() -> None:
    offset = body_of(app_get(make_app(OFFSET))(listing_path(OFFSET, "audit"), [("count", "3")]))
    assert set(offset) == {"result", "meta"} and len(offset["result"]["records"]) == 3 and offset["meta"]["hasMore"]
    bare_contract = CONTRACTS["page-short-bare"]
    bare = body_of(app_get(make_app(bare_contract))(listing_path(bare_contract, "audit"), [("pageSize", "3")]))
    assert isinstance(bare, list) and len(bare) == 3


@pytest.mark.parametrize("name", ["default", "pages", "offset"])
def test_logs_are_delivered_and_shaped_per_contract(name: str) -> None:
    wire = CONTRACTS[name]
    app = make_app(wire)
    get = app_get(app)
    truth = GroundTruth(app.dataset)
    raw = large_raw(app)
    logs = truth.logs(DEFAULT_TEAM, raw.id)
    assert logs.stored and logs.large_message_id == logfiles.large_message_id(raw)
    console = fetch_log(app, wire, get(log_path(wire, "console", raw.id), []))
    lines = json.loads(console.body)
    wrapper = wire.log_files.console_wrapper
    lines = lines if wrapper is None else contract.lookup(lines, wrapper)
    assert lines == logs.console and len(lines) == raw.console
    names = wire.log_files.console
    assert {names.timestamp, names.level, names.source, names.message} <= set(lines[0])
    oversized = lines[logs.large_message_line]
    assert oversized[names.large_message_id] == logs.large_message_id
    http = json.loads(fetch_log(app, wire, get(log_path(wire, "http", raw.id), [])).body)
    entries = http if wire.log_files.http_wrapper is None else contract.lookup(http, wire.log_files.http_wrapper)
    assert entries == logs.http
    large = fetch_log(app, wire, get(log_path(wire, "large", raw.id, logs.large_message_id or ""), []))
    field = wire.log_files.large_message_field
    if field is None:
        assert large.content_type.startswith("text/plain") and large.body.decode() == logs.large_message
    else:
        assert large.content_type == "application/json"
        assert contract.lookup(json.loads(large.body), field) == logs.large_message
    assert logs.large_message is not None and logs.large_message.startswith(oversized[names.message])


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ({}, {"url": None}),
        ({"logs": {"no_logs": "empty-body"}}, b""),
        ({"logs": {"mode": "inline"}}, {"logs": []}),
        ({"logs": {"mode": "inline", "no_logs": "empty-body"}}, b""),
        ({"logs": {"mode": "inline"}, "log_files": {"console_wrapper": None}}, []),
    ],
)
def test_no_logs_emitted(override: dict[str, Any], expected: Any) -> None:
    wire = contract.load(override)
    app = make_app(wire)
    silent = next(r for r in GroundTruth(app.dataset).invocations(DEFAULT_TEAM, NOW - 5 * HOUR, NOW - 2 * HOUR)
                  if r[F.CONSOLE_LOGS] == 0)  # fmt: skip
    reply = app_get(app)(log_path(wire, "console", silent[F.ID]), [])
    assert reply.status == 200
    assert (reply.body if isinstance(expected, bytes) else json.loads(reply.body)) == expected


def test_not_stored_status_and_error_bodies_at_dotted_keys() -> None:
    for wire in (D, PAGES, OFFSET):
        app = make_app(wire, now=NOW)
        get = app_get(app)
        e = wire.errors

        def error_of(reply: Reply, status: int, e: contract.ErrorBody = e) -> tuple[str, str]:
            assert reply.status == status, reply.body
            body = json.loads(reply.body)
            return contract.lookup(body, e.code_field), contract.lookup(body, e.message_field)

        path = listing_path(wire, "invocations")
        assert error_of(app.handle("GET", path, None), 401)[0] == "UNAUTHORIZED"
        assert error_of(get("/nowhere", []), 404)[0] == "NOT_FOUND"
        assert error_of(app.handle("POST", path, AUTHORIZATION), 405)[0] == "METHOD_NOT_ALLOWED"
        code, message = error_of(get(path, [(wire.pagination.size_param, "0")]), 400)
        assert code == "INVALID_PARAMETER" and wire.pagination.size_param in message
        assert error_of(get(log_path(wire, "console", "no-such-id"), []), wire.logs.not_stored_status)[0] == (
            "LOGS_NOT_STORED"
        )
        app.faults.throttle_for(30)
        assert error_of(get(path, []), 429)[0] == "TOO_MANY_REQUESTS"
        app.faults.clear()
        app.faults.error_rate, app.faults.fault_seed = 1.0, 0
        statuses = [get(path, []) for _ in range(12)]
        assert any(r.status in (500, 503) and contract.lookup(json.loads(r.body), e.code_field) for r in statuses)


def test_missing_field_fault_follows_the_wrapper() -> None:
    for wire, expected in ((OFFSET, {"meta": {"hasMore": True}, "result": {}}), (CONTRACTS["page-short-bare"], {})):
        app = make_app(wire)
        app.faults.missing_field_rate = 1.0
        assert body_of(app_get(app)(listing_path(wire, "audit"), [])) == expected


def test_large_message_ids_are_server_data() -> None:
    app = make_app(D)
    first = int((NOW - 48 * HOUR).timestamp()) // 3600
    ids = [
        logfiles.large_message_id(raw)
        for hour in range(first, first + 24)
        for raw in app.dataset.invocation_hour(DEFAULT_TEAM, hour)
        if raw.large_line >= 0
    ]
    plain = [i for i in ids if i and all(c in "0123456789abcdef" for c in i)]
    assert 0.3 < len(plain) / len(ids) < 0.7
    for wanted in ("+", "/", "=", " ", "\u00e9", ":"):
        assert any(wanted in (i or "") for i in ids), wanted


@pytest.mark.parametrize("wire", [D, PAGES], ids=["default", "pages"])
def test_a_large_message_id_with_plus_slash_equals_space_and_non_ascii_is_served(
    start_sandbox: Any, wire: contract.Contract
) -> None:
    sandbox: SandboxServer = start_sandbox(contract=wire)
    raw = large_raw(sandbox.app, "+/= \u00e9")
    message_id = logfiles.large_message_id(raw)
    assert message_id is not None
    client = Client(sandbox)
    served = client.get(log_path(wire, "large", raw.id, message_id))
    assert served.status_code == 200
    url = contract.lookup(served.json(), wire.logs.url_field)
    text = requests.get(url, timeout=5)
    field = wire.log_files.large_message_field
    full = text.text if field is None else contract.lookup(text.json(), field)
    assert full == sandbox.ground_truth.logs(DEFAULT_TEAM, raw.id).large_message
    for wrong in (message_id.replace(" ", "+"), message_id[:-1], message_id.replace("\u00e9", "e")):
        assert client.get(log_path(wire, "large", raw.id, wrong)).status_code == wire.logs.not_stored_status
    unquoted = wire.paths.large_log_message.format(invocation_id=raw.id, message_id=message_id.replace("/", "%2F"))
    assert client.get(unquoted).status_code == 200  # requests quotes the space and the é itself


def test_ground_truth_logs_of_a_running_invocation_are_not_stored() -> None:
    truth = GroundTruth(Dataset(SandboxConfig(now=NOW)))
    running = truth.invocations(DEFAULT_TEAM, NOW - 20 * dt.timedelta(minutes=1), NOW, [contract.STATUS_RUNNING])
    assert running
    logs = truth.logs(DEFAULT_TEAM, running[0][F.ID])
    assert (logs.stored, logs.console, logs.http, logs.large_message) == (False, [], [], None)
    assert not truth.logs("team-other", running[0][F.ID]).stored


# --- Command line and imports -----------------------------------------------------------------------


def test_cli_contract_with_a_bad_key_exits_naming_it(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"pagination": {"style": "page", "stlye": "x"}}))
    command = [sys.executable, "-m", "airflow_provider_srconnect.sandbox", "--port", "0", "--contract", str(bad)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2
    assert "contract.pagination.stlye" in done.stderr and "is not a key" in done.stderr
    bad.write_text(json.dumps({"window": {"time_format": "epoch-min"}}))
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2 and "contract.window.time_format" in done.stderr
    done = subprocess.run([*command[:-1], str(tmp_path / "absent.json")], capture_output=True, text=True, timeout=60,
                          check=False)  # fmt: skip
    assert done.returncode == 2 and "cannot read" in done.stderr


def test_cli_reads_a_fixture_contract_and_short_pages() -> None:
    from airflow_provider_srconnect.sandbox.__main__ import _config, _parser

    fixture = Path(__file__).parents[1] / "contracts" / "pages.json"
    args = _parser().parse_args(["--contract", str(fixture), "--short-pages", "--rate-limit", "0"])
    config = _config(args)
    assert config.contract == PAGES and config.short_pages
    assert config.rate_limit_per_second == 0 and config.seed == SandboxConfig().seed


def test_the_sandbox_imports_no_client_module() -> None:
    """The sandbox implements the contract; it must not lean on the client it is there to test."""
    probe = (
        "import sys, importlib; importlib.import_module(sys.argv[1]); "
        "print(' '.join(sorted(m for m in sys.modules if m.startswith('airflow_provider_srconnect'))))"
    )

    def loaded(module: str) -> set[str]:
        done = subprocess.run(
            [sys.executable, "-c", probe, module], capture_output=True, text=True, timeout=60, check=True
        )
        return set(done.stdout.split())

    own = loaded("airflow_provider_srconnect.contract")  # whatever the contract module itself pulls in
    sandbox = loaded("airflow_provider_srconnect.sandbox.__main__")
    extra = {m for m in sandbox - own if not m.startswith("airflow_provider_srconnect.sandbox")}
    assert extra == set(), f"the sandbox imports {sorted(extra)}"
    allowed = {
        "airflow_provider_srconnect",
        "airflow_provider_srconnect.contract",
        "airflow_provider_srconnect.exceptions",
    }
    for path in sorted(Path(contract.__file__).parent.joinpath("sandbox").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            for name in names:
                if name.startswith("airflow_provider_srconnect") and not name.startswith(
                    "airflow_provider_srconnect.sandbox"
                ):
                    assert (
                        name in allowed
                        or name.rpartition(".")[0] in allowed - {"airflow_provider_srconnect"}
                        or (name == "airflow_provider_srconnect.contract")
                    ), f"{path.name} imports {name}"
