"""The checks against an in-memory SRC (no network): each quirk of a server is named by the right group."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any
from urllib.parse import urlsplit

import pytest

from airflow_provider_srconnect import contract
from airflow_provider_srconnect._api import Reply
from airflow_provider_srconnect.doctor import propose
from airflow_provider_srconnect.doctor.checks import (
    MAX_API_REQUESTS,
    CouldNotCheck,
    Doctor,
    default_window,
    window_params,
)
from airflow_provider_srconnect.exceptions import SRConnectTransportError

C = contract.DEFAULT
START = dt.datetime(2026, 3, 8, tzinfo=dt.UTC)
END = dt.datetime(2026, 3, 9, tzinfo=dt.UTC)
BASE = "https://src.test"
FILES = "https://files.test/"
TEAM = "team-1"
C_RETRY_AFTER = contract.RETRY_AFTER_HEADER


def _reply(status: int, body: Any, content_type: str = "application/json") -> Reply:
    text = body if isinstance(body, str) else json.dumps(body)
    return Reply(status, {"Content-Type": content_type}, text)


class FakeSRC:
    """Twelve invocations and three audit records in the default contract, with optional quirks."""

    def __init__(self, **quirks: Any) -> None:
        self.quirks = quirks
        self.calls: list[tuple[str, list[tuple[str, str]] | None, bool]] = []
        f = C.records.invocation
        self.invocations = [
            {
                f.id: f"inv-{n}",
                f.start_time: contract.format_time(START + dt.timedelta(minutes=10 * n)),
                f.execution_status: ("FINISHED", "FUNCTION_ERROR", "TIMED_OUT")[n % 3],
                f.trigger_type: ("MANUAL", "SCHEDULED")[n % 2],
                f.root_trigger_type: ("MANUAL", "SCHEDULED")[n % 2],
                f.workspace: {"id": "w", "name": "W"},
                f.environment: {"id": "e", "name": "E"},
                f.script: {"id": "s", "name": "S"},
                f.duration: 100,
                f.console_logs: 2,
                f.http_logs: 1,
                f.drop_reason: None,
            }
            for n in range(12)
        ]
        a = C.records.audit
        self.audit = [
            {a.id: f"aud-{n}", a.date: contract.format_time(START + dt.timedelta(hours=n)), a.actor: {}}
            | {a.action: "team.member.add", a.ip_address: "203.0.113.9", a.related_entities: [], a.metadata: {}}
            for n in range(3)
        ]

    def __call__(self, url: str, params: list[tuple[str, str]] | None, api: bool) -> Reply:
        self.calls.append((url, params, api))
        if "raise" in self.quirks:
            raise self.quirks["raise"]
        statuses = self.quirks.get("statuses")
        if statuses:
            reply = _reply(statuses.pop(0), {C.errors.code_field: "X", C.errors.message_field: "x"})
            return reply._replace(headers={**reply.headers, C_RETRY_AFTER: "30"})
        if url.startswith(FILES):
            if api or self.quirks.get("download_needs_auth"):
                return _reply(403, "<Error><Code>AccessDenied</Code></Error>", "application/xml")
            line = dict.fromkeys(propose._current(C.log_files.console).values(), "INFO")
            line[C.log_files.console.timestamp] = "2026-03-08T00:00:00.000Z"
            del line[C.log_files.console.large_message_id]
            return _reply(200, {C.log_files.console_wrapper: [line, line]})
        path = urlsplit(url).path
        query = dict(params or [])
        many = [k for k, _ in params or []]
        if path in (C.paths.invocation_logs.format(team_id=TEAM), C.paths.audit_logs.format(team_id=TEAM)):
            if self.quirks.get("refuse_order") and C.filters.order_by_param in query:
                return _reply(400, {C.errors.code_field: "INVALID", C.errors.message_field: "orderBy"})
            size = int(query.get(C.pagination.size_param, "100"))
            if size > C.pagination.size_max:
                return _reply(400, {C.errors.code_field: "INVALID", C.errors.message_field: "page size"})
            rows = self.invocations if "invocation" in path else self.audit
            if many.count(C.filters.execution_statuses_param) and not self.quirks.get("ignore_filters"):
                wanted = {v for k, v in params or [] if k == C.filters.execution_statuses_param}
                rows = [r for r in rows if r[C.records.invocation.execution_status] in wanted]
            start = 0 if self.quirks.get("ignore_cursor") else int(query.get(C.pagination.param, "0"))
            if self.quirks.get("ignore_size"):
                size = 100
            page = rows[start : start + size]
            following = start + size if start + size < len(rows) else None
            return _reply(200, {C.listing.wrapper: page, C.pagination.next_field: following and str(following)})
        if path.endswith(("consoleLogs", "httpLogs")):
            return _reply(200, {C.logs.url_field: f"{FILES}log?X-Amz-Signature=abc"})
        return _reply(404, {C.errors.code_field: "NOT_FOUND", C.errors.message_field: "no"})


def run(fake: FakeSRC, c: contract.Contract = C, sleeps: list[float] | None = None) -> Doctor:
    doctor = Doctor(fake, BASE, TEAM, c, START, END, sleep=(sleeps if sleeps is not None else []).append)
    doctor.run()
    return doctor


def status(doctor: Doctor, group: str) -> str:
    return doctor.report.groups[group].status


def text(doctor: Doctor, group: str) -> str:
    return "\n".join(line for _, line in doctor.report.groups[group].lines)


def test_a_server_in_the_contract_holds_in_a_handful_of_requests():
    fake = FakeSRC()

    doctor = run(fake)

    assert {g.status for g in doctor.report.groups.values()} == {"holds"}, doctor.report.render()
    api = [c for c in fake.calls if c[2]]
    assert len(api) <= MAX_API_REQUESTS and len(fake.calls) - len(api) <= 3
    assert all(not url.startswith(BASE) for url, _, is_api in fake.calls if not is_api)


@pytest.mark.parametrize(
    ("quirk", "group", "says"),
    [
        ("ignore_cursor", "pagination", "repeats 5 of the 5 records of page 1"),
        ("ignore_size", "pagination", "holds 12 records although 5 were asked for"),
        ("ignore_filters", "filters", "do not match (filter ignored)"),
        ("download_needs_auth", "logs", "answered 403 to a GET without Authorization"),
        ("refuse_order", "filters", "accepted without orderBy, orderDirection"),
    ],
)
def test_each_quirk_differs_in_its_group(quirk, group, says):
    doctor = run(FakeSRC(**{quirk: True}))

    assert status(doctor, group) == "differs", doctor.report.render()
    assert says in text(doctor, group)


def test_spellings_outside_the_contract_differ_in_enums():
    fake = FakeSRC()
    fake.invocations[0][C.records.invocation.execution_status] = "Succeeded"
    fake.invocations[1][C.records.invocation.execution_status] = "a value with @ and / in it"

    doctor = run(fake)

    assert status(doctor, "enums") == "differs"
    assert "statuses outside the contract: Succeeded and 1 other values" in text(doctor, "enums")


def test_record_times_in_another_format_differ_in_records():
    fake = FakeSRC()
    for record in fake.invocations:
        moment = contract.parse_time(record[C.records.invocation.start_time])
        record[C.records.invocation.start_time] = contract.format_time(moment, "epoch-ms")

    doctor = run(fake)

    assert "record times are epoch-ms; the contract says iso-ms" in text(doctor, "records")
    assert status(doctor, "window") == "holds"  # read in the format they come in


@pytest.mark.parametrize("status_code", [401, 403])
def test_a_refused_credential_cannot_be_checked(status_code):
    with pytest.raises(CouldNotCheck, match=f"answered {status_code} .*API key"):
        run(FakeSRC(statuses=[status_code]))


def test_a_throttled_request_is_retried_once_after_retry_after_capped():
    sleeps: list[float] = []

    doctor = run(FakeSRC(statuses=[429]), sleeps=sleeps)

    assert sleeps == [10.0]  # Retry-After: 30, capped
    assert doctor.report.differing() == []
    with pytest.raises(CouldNotCheck, match=r"answered 503 .* twice"):
        run(FakeSRC(statuses=[503, 503]))


def test_an_unreachable_server_cannot_be_checked():
    error = SRConnectTransportError("GET https://src.test/v1/team/team-1 failed")
    error.__cause__ = ConnectionRefusedError()

    with pytest.raises(CouldNotCheck, match=r"could not reach SRC .*\(ConnectionRefusedError\)") as info:
        run(FakeSRC(**{"raise": error}))
    assert "src.test" not in str(info.value)


@pytest.mark.parametrize(
    ("override", "sent", "kept"),
    [
        ({}, ("2026-03-08T00:00:00.000Z", "2026-03-09T00:00:00.000Z"), (1772928000000, 1773014400000)),
        (
            {"window": {"time_format": "epoch-ms", "to_inclusive": True}},
            ("1772928000000", "1773014399999"),
            (1772928000000, 1773014399999),
        ),
        (
            {"window": {"time_format": "epoch-s", "to_inclusive": True}},
            ("1772928000", "1773014400"),
            (1772928000000, 1773014400000),
        ),
    ],
)
def test_the_window_follows_the_agreed_semantics(override, sent, kept):
    wire = contract.load(override)

    params, lo, hi = window_params(wire, START, END)

    assert [v for _, v in params] == list(sent) and (lo, hi) == kept


def test_a_window_with_sub_unit_bounds_is_rounded_out():
    wire = contract.load({"window": {"time_format": "epoch-s"}})

    params, _, _ = window_params(wire, START + dt.timedelta(milliseconds=1500), END + dt.timedelta(milliseconds=1))

    assert [v for _, v in params] == ["1772928001", "1773014401"]


def test_the_default_window_is_the_last_full_day_an_hour_ago():
    assert default_window(dt.datetime(2026, 3, 10, 12, tzinfo=dt.UTC)) == (
        START + dt.timedelta(days=1),
        END.replace(day=10),
    )
    assert default_window(dt.datetime(2026, 3, 10, 0, 30, tzinfo=dt.UTC)) == (START, END)
