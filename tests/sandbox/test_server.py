"""The SRC sandbox over real HTTP on 127.0.0.1, driven with plain ``requests`` (no hook)."""

from __future__ import annotations

import base64
import datetime as dt
import http.client
import json
import logging
import selectors
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import quote

import pendulum
import pytest
import requests

from airflow_provider_srconnect import contract
from airflow_provider_srconnect.sandbox import (
    DEFAULT_API_KEY,
    DEFAULT_EMAIL,
    DEFAULT_TEAM,
    OTHER_TEAM,
    SandboxConfig,
    SandboxServer,
    data,
)
from airflow_provider_srconnect.sandbox.window import Dataset, GroundTruth
from tests.sandbox.conftest import AUTH, NOW, Client
from tests.sandbox.walk import Params, walk

F = contract.InvocationField
A = contract.AuditField
D = contract.DEFAULT
INV = D.paths.invocation_logs.format(team_id=DEFAULT_TEAM)
AUD = D.paths.audit_logs.format(team_id=DEFAULT_TEAM)
CONSOLE_PATH, HTTP_PATH, LARGE_PATH = D.paths.console_logs, D.paths.http_logs, D.paths.large_log_message
HOUR = dt.timedelta(hours=1)
SIZE, FROM, TO = D.pagination.size_param, D.window.from_param, D.window.to_param
STATUSES, TRIGGERS = D.filters.execution_statuses_param, D.filters.trigger_types_param
assert D.filters.order_by_param is not None and D.filters.order_direction_param is not None
ORDER_BY, DIRECTION = D.filters.order_by_param, D.filters.order_direction_param
TOKEN = D.pagination.param
assert D.pagination.next_field is not None and D.listing.wrapper is not None
NEXT, ITEMS = D.pagination.next_field, D.listing.wrapper
URL = D.logs.url_field
assert D.log_files.console_wrapper is not None and D.log_files.http_wrapper is not None
LINES, ENTRIES = D.log_files.console_wrapper, D.log_files.http_wrapper
LARGE_ID = D.log_files.console.large_message_id
Start = Callable[..., SandboxServer]


def window(start: dt.datetime, end: dt.datetime) -> Params:
    return [(FROM, str(contract.format_time(start))), (TO, str(contract.format_time(end)))]


def collect(
    client: Client, path: str, params: Params, *, resend: bool = True, wire: contract.Contract = D
) -> tuple[list[dict[str, Any]], int]:
    """Every record of a listing, paging the way ``wire`` says (the raw walk); (records, pages)."""
    given = dict(params)
    size = int(given.get(wire.pagination.size_param, wire.pagination.size_default))
    rest = [(k, v) for k, v in params if k != wire.pagination.size_param]
    walked = walk(client.reply, wire, path, rest, size, resend=resend)
    return walked.records, walked.pages


def ids(records: Sequence[dict[str, Any]], field: str = F.ID) -> list[str]:
    return [r[field] for r in records]


def start_of(record: dict[str, Any]) -> dt.datetime:
    return contract.parse_time(record[F.START_TIME])


def error(response: requests.Response) -> str:
    body = response.json()
    assert set(body) == {D.errors.code_field, D.errors.message_field}
    return str(body[D.errors.message_field])


def log_url(client: Client, template: str, **ids_: str) -> requests.Response:
    return client.get(template.format(**{k: quote(v, safe="") for k, v in ids_.items()}))


# --- Listings and pagination ----------------------------------------------------------------------


@pytest.mark.parametrize("resend", [True, False], ids=["query-resent", "token-only"])
def test_cursor_pages_equal_ground_truth(sandbox: SandboxServer, client: Client, resend: bool) -> None:
    start, end = NOW - 7 * HOUR, NOW - HOUR
    truth = sandbox.ground_truth.invocations(DEFAULT_TEAM, start, end)
    records, pages = collect(client, INV, [*window(start, end), (SIZE, "50")], resend=resend)
    assert pages >= 5
    assert len(set(ids(records))) == len(records)
    assert records == truth
    assert all(start <= start_of(r) < end for r in records)


def test_page_numbers_equal_ground_truth(start_sandbox: Start) -> None:
    pages = contract.load({"pagination": {"style": "page", "param": "page", "next_field": None, "last_page": "short"}})
    sandbox = start_sandbox(contract=pages)
    client = Client(sandbox)
    start, end = NOW - 6 * HOUR, NOW
    params = [*window(start, end), (SIZE, "40")]
    records, walked = collect(client, INV, params, wire=pages)
    assert walked >= 5
    assert records == sandbox.ground_truth.invocations(DEFAULT_TEAM, start, end)
    past_end = client.get(INV, params=[*params, ("page", "999")])
    assert past_end.status_code == 200
    assert past_end.json() == {ITEMS: []}
    assert client.get(INV, params=[*params, ("page", "0")]).status_code == 400
    assert client.get(INV, params=[*params, (TOKEN, "x")]).status_code == 400  # no cursor any more


def test_audit_pages_equal_ground_truth(sandbox: SandboxServer, client: Client) -> None:
    start, end = NOW - dt.timedelta(days=2), NOW
    records, pages = collect(client, AUD, [*window(start, end), (SIZE, "25")])
    assert pages >= 5
    assert records == sandbox.ground_truth.audit(DEFAULT_TEAM, start, end)
    assert len(set(ids(records, A.ID))) == len(records)
    first = records[0]
    assert set(first) == {A.ID, A.DATE, A.ACTOR, A.ACTION, A.IP_ADDRESS, A.RELATED_ENTITIES, A.METADATA}
    assert first[A.IP_ADDRESS].startswith("203.0.113.")
    assert set(first[A.ACTOR]) == {"id", "email"}


def test_descending_start_time(sandbox: SandboxServer, client: Client) -> None:
    start, end = NOW - 4 * HOUR, NOW - HOUR
    params = [*window(start, end), (DIRECTION, "desc"), (SIZE, "30")]
    records, pages = collect(client, INV, params)
    assert pages >= 5
    assert records == sandbox.ground_truth.invocations(DEFAULT_TEAM, start, end)[::-1]


def test_order_by_duration_pages(sandbox: SandboxServer, client: Client) -> None:
    start, end = NOW - 6 * HOUR, NOW
    params = [*window(start, end), (ORDER_BY, "duration"), (SIZE, "50")]
    records, pages = collect(client, INV, params)
    truth = sandbox.ground_truth.invocations(DEFAULT_TEAM, start, end)
    assert pages >= 5
    assert sorted(ids(records)) == sorted(ids(truth))
    keys = [(r[F.DURATION] is not None, r[F.DURATION] or 0, r[F.ID]) for r in records]
    assert keys == sorted(keys)  # nulls (running) first, ties broken by id


def test_defaults_are_retention_start_to_now(sandbox: SandboxServer, client: Client) -> None:
    latest = client.get(INV, params={DIRECTION: "desc", SIZE: "5"})
    assert latest.json()[ITEMS] == sandbox.ground_truth.invocations(DEFAULT_TEAM, NOW - HOUR, NOW)[:-6:-1]
    oldest = client.get(INV, params={SIZE: "1"}).json()[ITEMS][0]
    bound = pendulum.instance(NOW).subtract(months=contract.RETENTION_MONTHS)
    assert bound <= start_of(oldest) < bound + HOUR
    assert client.get(INV).json()[ITEMS].__len__() == D.pagination.size_default


def test_filters(sandbox: SandboxServer, client: Client) -> None:
    start, end = NOW - 24 * HOUR, NOW
    statuses, triggers = ["FUNCTION_ERROR", "RUNTIME_ERROR"], ["SCHEDULED", "CHAINED"]
    params = [*window(start, end), (SIZE, "20")]
    params += [(STATUSES, s) for s in statuses]
    params += [(TRIGGERS, t) for t in triggers]
    records, _ = collect(client, INV, params)
    assert records == sandbox.ground_truth.invocations(DEFAULT_TEAM, start, end, statuses, triggers)
    assert records and all(r[F.EXECUTION_STATUS] in statuses and r[F.TRIGGER_TYPE] in triggers for r in records)


def test_every_status_and_trigger_type_over_a_day(sandbox: SandboxServer) -> None:
    day = sandbox.ground_truth.invocations(DEFAULT_TEAM, NOW - 48 * HOUR, NOW - 24 * HOUR)
    final = set(contract.EXECUTION_STATUSES) - {contract.STATUS_RUNNING}  # RUNNING only near "now"
    assert {r[F.EXECUTION_STATUS] for r in day} == final
    assert {r[F.TRIGGER_TYPE] for r in day} == set(contract.TRIGGER_TYPES)
    assert "CHAINED" not in {r[F.ROOT_TRIGGER_TYPE] for r in day}
    for r in day:
        assert set(r) == {v for k, v in vars(F).items() if k.isupper()}
        assert {"id", "name"} == set(r[F.WORKSPACE]) == set(r[F.ENVIRONMENT]) == set(r[F.SCRIPT])
        assert (r[F.DURATION] == 900_000) == (r[F.EXECUTION_STATUS] == "TIMED_OUT")
        assert r[F.DURATION] <= 900_000
        assert (r[F.DROP_REASON] is not None) == (r[F.EXECUTION_STATUS] == "DENIED")


def test_hour_boundary_is_half_open(sandbox: SandboxServer, client: Client) -> None:
    boundary = NOW.replace(hour=6, minute=0, second=0, microsecond=0)  # 06:00 UTC: a 6th hour
    first = sandbox.ground_truth.invocations(DEFAULT_TEAM, boundary, boundary + HOUR)[0]
    assert first[F.START_TIME] == contract.format_time(boundary)
    after = client.get(INV, params=[*window(boundary, boundary + HOUR), (SIZE, "1")])
    assert after.json()[ITEMS] == [first]
    before = client.get(INV, params=window(boundary - HOUR, boundary)).json()[ITEMS]
    assert before and all(start_of(r) < boundary for r in before)


def test_retention_and_future(sandbox: SandboxServer, client: Client) -> None:
    bound = pendulum.instance(NOW).subtract(months=contract.RETENTION_MONTHS)
    around = sandbox.ground_truth.invocations(DEFAULT_TEAM, bound - 2 * HOUR, bound + 2 * HOUR)
    assert around and all(start_of(r) >= bound for r in around)
    assert sandbox.ground_truth.invocations(DEFAULT_TEAM, bound - 48 * HOUR, bound) == []
    assert collect(client, INV, window(bound - 2 * HOUR, bound + 2 * HOUR))[0] == around
    assert client.get(INV, params=window(NOW, NOW + 5 * HOUR)).json()[ITEMS] == []
    expired = data.invocation_id(DEFAULT_TEAM, int((bound - 24 * HOUR).timestamp()) // 3600, 0)
    assert log_url(client, CONSOLE_PATH, invocation_id=expired).status_code == 404


def test_running_invocation(start_sandbox: Start) -> None:
    earlier = start_sandbox().ground_truth.invocations(DEFAULT_TEAM, NOW - 24 * HOUR, NOW - HOUR)
    slow = next(r for r in earlier if r[F.DURATION] >= 60_000 and r[F.CONSOLE_LOGS] > 0)
    now = start_of(slow) + dt.timedelta(seconds=30)
    client = Client(start_sandbox(now=now))
    listed = client.get(INV, params=[*window(start_of(slow), now), (SIZE, "1")])
    running = listed.json()[ITEMS][0]
    assert running[F.ID] == slow[F.ID]
    assert running[F.EXECUTION_STATUS] == contract.STATUS_RUNNING and running[F.DURATION] is None
    for template in (CONSOLE_PATH, HTTP_PATH):
        assert log_url(client, template, invocation_id=slow[F.ID]).status_code == D.logs.not_stored_status
    by_status = client.get(INV, params=[*window(start_of(slow), now), (STATUSES, "RUNNING")])
    assert slow[F.ID] in ids(by_status.json()[ITEMS])
    final_at = now + contract.MAX_INVOCATION_DURATION
    later = GroundTruth(Dataset(SandboxConfig(now=final_at))).invocations(DEFAULT_TEAM, now - HOUR, now)
    assert contract.STATUS_RUNNING not in {r[F.EXECUTION_STATUS] for r in later}


# --- Validation, auth, rate limit -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "params", "named"),
    [
        (INV, [(SIZE, "0")], SIZE),
        (INV, [(SIZE, str(D.pagination.size_max + 1))], SIZE),
        (INV, [(SIZE, "ten")], "ten"),
        (INV, [(SIZE, "5.0")], "5.0"),
        (INV, [(SIZE, "")], SIZE),
        (INV, [(SIZE, "5"), (SIZE, "6")], SIZE),
        (INV, [(FROM, "yesterday")], "yesterday"),
        (INV, [(FROM, "2026-03-10T00:00:00")], FROM),
        (INV, [(TO, "1773100800000")], TO),
        (INV, window(NOW, NOW - HOUR), FROM),
        (INV, [(STATUSES, "FINISHED"), (STATUSES, "BOGUS")], "BOGUS"),
        (INV, [(TRIGGERS, "scheduled")], "scheduled"),
        (INV, [(ORDER_BY, "starttime")], "starttime"),
        (INV, [(DIRECTION, "up")], "up"),
        (INV, [(DIRECTION, "asc"), (DIRECTION, "desc")], DIRECTION),
        (INV, [("limit", "5")], "limit"),
        (INV, [(TOKEN, "forged.token")], TOKEN),
        (AUD, [(ORDER_BY, "startTime")], ORDER_BY),
        (AUD, [(STATUSES, "FINISHED")], STATUSES),
        (AUD, [(SIZE, "-1")], SIZE),
    ],
)
def test_bad_requests_are_400(client: Client, path: str, params: Params, named: str) -> None:
    response = client.get(path, params=params)
    assert response.status_code == 400
    assert named in error(response)


def test_token_of_another_query_is_400(client: Client) -> None:
    params = [*window(NOW - 2 * HOUR, NOW), (SIZE, "5")]
    token = client.get(INV, params=params).json()[NEXT]
    other = [*window(NOW - 3 * HOUR, NOW), (SIZE, "5"), (TOKEN, token)]
    assert client.get(INV, params=other).status_code == 400
    assert client.get(AUD, params={TOKEN: token}).status_code == 400


def test_auth_and_scoping(sandbox: SandboxServer, client: Client) -> None:
    url = sandbox.url + INV
    assert requests.get(url, timeout=5).status_code == 401
    assert requests.get(url, auth=(DEFAULT_EMAIL, "wrong"), timeout=5).status_code == 401
    assert requests.get(url, auth=("nobody@example.com", DEFAULT_API_KEY), timeout=5).status_code == 401
    bearer = requests.get(url, headers={"Authorization": f"Bearer {DEFAULT_API_KEY}"}, timeout=5)
    assert bearer.status_code == 401 and DEFAULT_API_KEY not in bearer.text
    other = client.get(D.paths.invocation_logs.format(team_id=OTHER_TEAM))
    assert other.status_code == 403 and error(other)
    assert sandbox.ground_truth.invocations(OTHER_TEAM, NOW - HOUR, NOW)  # the team has data
    assert client.get(D.paths.audit_logs.format(team_id=OTHER_TEAM)).status_code == 403
    other_id = data.invocation_id(OTHER_TEAM, int(NOW.timestamp()) // 3600 - 2, 0)
    assert log_url(client, CONSOLE_PATH, invocation_id=other_id).status_code == 403
    assert client.get("/v1/team").status_code == 404
    assert client.session.post(url, timeout=5).status_code == 405
    sandbox.faults.revoke(DEFAULT_EMAIL)
    revoked = client.get(INV)
    assert revoked.status_code == 401 and "revoked" in error(revoked)
    sandbox.faults.restore(DEFAULT_EMAIL)
    assert client.get(INV).status_code == 200


def test_rate_limit_per_user(start_sandbox: Start) -> None:
    server = start_sandbox(rate_limit_per_second=0.5, burst=5)
    client = Client(server)
    record = server.ground_truth.invocations(DEFAULT_TEAM, NOW - 3 * HOUR, NOW - 2 * HOUR)
    with_logs = next(r for r in record if r[F.CONSOLE_LOGS] > 0)
    began = time.monotonic()
    url = log_url(client, CONSOLE_PATH, invocation_id=with_logs[F.ID]).json()[URL]
    statuses = [client.get(INV, params={SIZE: "1"}).status_code for _ in range(5)]
    elapsed = time.monotonic() - began
    assert elapsed < 2.0  # the bucket refills one token per 2 s
    assert statuses == [200, 200, 200, 200, 429]
    throttled = client.get(INV)
    assert throttled.status_code == 429
    retry_after = throttled.headers[contract.RETRY_AFTER_HEADER]
    assert retry_after.isdigit() and 1 <= int(retry_after) <= 2
    assert requests.get(url, timeout=5).status_code == 200  # downloads are not rate-limited
    assert server.stats.throttled == 2
    assert server.stats.peak_rate_per_user == {DEFAULT_EMAIL: 7}
    assert server.stats.downloads == 1


def test_no_rate_limit_when_disabled(client: Client, sandbox: SandboxServer) -> None:
    assert {client.get(INV, params={SIZE: "1"}).status_code for _ in range(30)} == {200}
    assert sandbox.stats.peak_rate >= 2


# --- Log downloads --------------------------------------------------------------------------------


def test_console_and_http_downloads(sandbox: SandboxServer, client: Client) -> None:
    records = sandbox.ground_truth.invocations(DEFAULT_TEAM, NOW - 5 * HOUR, NOW - 2 * HOUR)
    record = next(r for r in records if r[F.CONSOLE_LOGS] > 0 and r[F.HTTP_LOGS] > 0)
    console = log_url(client, CONSOLE_PATH, invocation_id=record[F.ID])
    assert console.status_code == 200
    url = console.json()[URL]
    assert url.startswith(sandbox.url + "/") and DEFAULT_API_KEY not in url
    lines = requests.get(url, timeout=5).json()[LINES]
    assert len(lines) == record[F.CONSOLE_LOGS]
    assert all({"timestamp", "level", "source", "message"} <= set(line) for line in lines)
    assert {line["level"] for line in lines} <= {"DEBUG", "INFO", "WARN", "ERROR", "SUCCESS"}
    assert requests.get(url, timeout=5).json()[LINES] == lines  # deterministic
    http_url = log_url(client, HTTP_PATH, invocation_id=record[F.ID]).json()[URL]
    entries = requests.get(http_url, timeout=5).json()[ENTRIES]
    assert [e["fetchId"] for e in entries] == list(range(1, record[F.HTTP_LOGS] + 1))
    for entry in entries:
        assert {"originalDuration", "duration", "request", "response"} <= set(entry)
        assert {"url", "method", "headers", "responseBody", "time"} <= set(entry["request"])
        assert {"status", "time", "headers", "body"} <= set(entry["response"])
        assert set(entry["response"]["body"]) == {"size", "truncated", "text"}
        assert len(entry["response"]["body"]["text"]) <= 1024
    silent = next(r for r in records if r[F.CONSOLE_LOGS] == 0)
    empty = log_url(client, CONSOLE_PATH, invocation_id=silent[F.ID])
    assert empty.status_code == 200 and empty.json() == {URL: None}
    assert log_url(client, CONSOLE_PATH, invocation_id="no-such-id").status_code == 404
    assert sandbox.stats.downloads == 3


def test_large_log_message(sandbox: SandboxServer, client: Client) -> None:
    hour = int((NOW - 30 * HOUR).timestamp()) // 3600
    raw = next(
        r
        for h in range(hour, hour + 24)
        for r in sandbox.app.dataset.invocation_hour(DEFAULT_TEAM, h)
        if r.large_line >= 0
    )
    url = log_url(client, CONSOLE_PATH, invocation_id=raw.id).json()[URL]
    lines = requests.get(url, timeout=5).json()[LINES]
    oversized = [line for line in lines if LARGE_ID in line]
    assert len(oversized) == 1
    message_id = oversized[0][LARGE_ID]
    large = log_url(client, LARGE_PATH, invocation_id=raw.id, message_id=message_id)
    download = requests.get(large.json()[URL], timeout=5)
    assert download.headers["Content-Type"].startswith("text/plain")
    assert 10_000 < len(download.text) < 100_000
    assert download.text.startswith(oversized[0]["message"]) and len(oversized[0]["message"]) < len(download.text)
    wrong = log_url(client, LARGE_PATH, invocation_id=raw.id, message_id="0000")
    assert wrong.status_code == 404


def test_download_expiry_and_tampering(start_sandbox: Start) -> None:
    server = start_sandbox(download_ttl_seconds=0.3)
    client = Client(server)
    record = next(r for r in server.ground_truth.invocations(DEFAULT_TEAM, NOW - 3 * HOUR, NOW) if r[F.HTTP_LOGS])
    url = log_url(client, HTTP_PATH, invocation_id=record[F.ID]).json()[URL]
    assert requests.get(url, timeout=5).status_code == 200
    body, _, signature = url.rpartition(".")
    tampered = requests.get(f"{body[:-2]}AA.{signature}", timeout=5)
    assert tampered.status_code == 403
    time.sleep(0.5)
    expired = requests.get(url, timeout=5)
    assert expired.status_code == 403 and "Request has expired" in expired.text


# --- Determinism, restart, keep-alive, logging ----------------------------------------------------


def test_deterministic_across_instances(start_sandbox: Start) -> None:
    params = [*window(NOW - 3 * HOUR, NOW), (SIZE, "100")]
    first, second, reseeded = (Client(start_sandbox(seed=s)) for s in (7, 7, 8))
    assert first.get(INV, params=params).content == second.get(INV, params=params).content
    assert first.get(AUD).content == second.get(AUD).content
    assert first.get(INV, params=params).json() != reseeded.get(INV, params=params).json()


def test_restart_on_the_same_port(start_sandbox: Start) -> None:
    server = start_sandbox()
    client = Client(server)
    params = [*window(NOW - 3 * HOUR, NOW), (SIZE, "20")]
    page = client.get(INV, params=params).json()
    record = next(r for r in page[ITEMS] if r[F.CONSOLE_LOGS])
    url = log_url(client, CONSOLE_PATH, invocation_id=record[F.ID]).json()[URL]
    server.stop()
    with pytest.raises(requests.ConnectionError):
        requests.get(server.url + INV, auth=AUTH, timeout=2)
    again = Client(start_sandbox(port=server.port))
    assert again.server.url == server.url
    token = page[NEXT]
    following = again.get(INV, params=[*params, (TOKEN, token)]).json()
    truth = again.server.ground_truth.invocations(DEFAULT_TEAM, NOW - 3 * HOUR, NOW)
    assert page[ITEMS] + following[ITEMS] == truth[:40]
    assert requests.get(url, timeout=5).status_code == 200


def test_keep_alive(sandbox: SandboxServer) -> None:
    header = "Basic " + base64.b64encode(f"{DEFAULT_EMAIL}:{DEFAULT_API_KEY}".encode()).decode()
    conn = http.client.HTTPConnection("127.0.0.1", sandbox.port, timeout=5)
    try:
        conn.request("GET", INV + "?pageSize=2", headers={"Authorization": header})
        first = conn.getresponse()
        assert first.status == 200 and len(json.loads(first.read())[ITEMS]) == 2
        sock = conn.sock
        for path in (AUD, "/nowhere"):
            conn.request("GET", path, headers={"Authorization": header})
            response = conn.getresponse()
            response.read()
            assert conn.sock is sock and not response.will_close
    finally:
        conn.close()


def test_credentials_never_logged(sandbox: SandboxServer, client: Client, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="airflow_provider_srconnect.sandbox")
    encoded = base64.b64encode(f"{DEFAULT_EMAIL}:{DEFAULT_API_KEY}".encode()).decode()
    bodies = [client.get(INV).text, client.get("/nowhere").text]
    bodies.append(requests.get(sandbox.url + INV, auth=(DEFAULT_EMAIL, "bad-key"), timeout=5).text)
    assert "invocationLogs" in caplog.text  # request lines are logged ...
    for text in [caplog.text, *bodies]:  # ... but never a credential
        assert DEFAULT_API_KEY not in text and encoded not in text and "bad-key" not in text


def test_contract_changes_move_the_sandbox(start_sandbox: Start) -> None:
    moved = contract.load(
        {
            "paths": {"invocation_logs": "/v2/teams/{team_id}/invocations"},
            "listing": {"wrapper": "records"},
            "pagination": {"size_param": "limit", "param": "cursor", "next_field": "next"},
        }
    )
    client = Client(start_sandbox(contract=moved))
    path = f"/v2/teams/{DEFAULT_TEAM}/invocations"
    body = client.get(path, params={"limit": "3"}).json()
    assert len(body["records"]) == 3 and body["next"]
    following = client.get(path, params={"limit": "3", "cursor": body["next"]}).json()
    assert following["records"][0][F.START_TIME] >= body["records"][-1][F.START_TIME]
    assert client.get(path, params={SIZE: "3"}).status_code == 400  # the old name is now unknown
    assert client.get(INV).status_code == 404


# --- Faults, stats and latency --------------------------------------------------------------------


def test_fault_error_and_slow(sandbox: SandboxServer, client: Client) -> None:
    sandbox.faults.error_rate = 1.0
    assert client.get(INV).status_code in (500, 502, 503, 504)
    sandbox.faults.error_rate = 0.0
    sandbox.faults.slow_rate, sandbox.faults.slow_seconds = 1.0, 0.3
    began = time.monotonic()
    assert client.get(INV, params={SIZE: "1"}).status_code == 200
    assert time.monotonic() - began >= 0.3


def test_fault_reset(sandbox: SandboxServer) -> None:
    sandbox.faults.reset_rate = 1.0
    with pytest.raises(requests.RequestException):
        requests.get(sandbox.url + INV, auth=AUTH, timeout=5)
    sandbox.faults.reset_rate = 0.0
    assert requests.get(sandbox.url + INV, auth=AUTH, timeout=5).status_code == 200


@pytest.mark.parametrize("fault", ["truncate_rate", "malformed_rate"])
def test_fault_broken_json(sandbox: SandboxServer, client: Client, fault: str) -> None:
    params = {SIZE: "10"}
    intact = client.get(INV, params=params).content
    setattr(sandbox.faults, fault, 1.0)
    broken = client.get(INV, params=params)
    assert broken.status_code == 200
    assert int(broken.headers["Content-Length"]) == len(broken.content)
    assert len(broken.content) == (len(intact) // 2 if fault == "truncate_rate" else len(intact))
    with pytest.raises(ValueError):
        json.loads(broken.content)


def test_fault_missing_field(sandbox: SandboxServer, client: Client) -> None:
    sandbox.faults.missing_field_rate = 1.0
    response = client.get(INV, params={SIZE: "1"})
    assert response.status_code == 200 and ITEMS not in response.json()
    record = next(r for r in sandbox.ground_truth.invocations(DEFAULT_TEAM, NOW - 3 * HOUR, NOW) if r[F.HTTP_LOGS])
    url = log_url(client, HTTP_PATH, invocation_id=record[F.ID]).json()  # not a listing
    assert url[URL]


def test_fault_throttle(sandbox: SandboxServer, client: Client) -> None:
    sandbox.faults.throttle_for(1.5)
    throttled = requests.get(sandbox.url + INV, timeout=5)  # even without credentials
    assert throttled.status_code == 429
    assert throttled.headers[contract.RETRY_AFTER_HEADER] in ("1", "2")
    assert client.get(INV).status_code == 429
    sandbox.faults.throttle_until = 0.0
    assert client.get(INV).status_code == 200
    assert sandbox.stats.throttled == 2


def test_fault_seed_reproduces_faults_and_downloads_get_errors(sandbox: SandboxServer, client: Client) -> None:
    record = next(r for r in sandbox.ground_truth.invocations(DEFAULT_TEAM, NOW - 3 * HOUR, NOW) if r[F.HTTP_LOGS])
    url = log_url(client, HTTP_PATH, invocation_id=record[F.ID]).json()[URL]

    def run() -> list[int]:
        sandbox.faults.fault_seed = 3
        return [client.get(INV, params={SIZE: "1"}).status_code for _ in range(12)]

    sandbox.faults.error_rate = 0.5
    first = run()
    assert first == run()
    assert 200 in first and set(first) - {200} <= {500, 502, 503, 504} and len(set(first)) > 1
    sandbox.faults.error_rate = 1.0
    assert requests.get(url, timeout=5).status_code in (500, 502, 503, 504)


def test_stats_and_reset(sandbox: SandboxServer, client: Client) -> None:
    client.get(INV, params={SIZE: "1"})
    client.get(INV, params={SIZE: "x"})
    requests.get(sandbox.url + INV, timeout=5)
    requests.get(sandbox.url + "/_download/junk", timeout=5)
    stats = sandbox.stats
    assert (stats.requests_total, stats.downloads) == (3, 1)
    assert stats.by_status == {200: 1, 400: 1, 401: 1}
    assert stats.peak_rate_per_user == {DEFAULT_EMAIL: 2}
    stats.reset()
    assert (stats.requests_total, stats.downloads, stats.by_status, stats.peak_rate) == (0, 0, {}, 0)


def test_latency(start_sandbox: Start) -> None:
    client = Client(start_sandbox(latency_ms=150))
    began = time.monotonic()
    assert client.get(INV, params={SIZE: "1"}).status_code == 200
    assert time.monotonic() - began >= 0.15


def test_zero_density(start_sandbox: Start) -> None:
    client = Client(start_sandbox(invocations_per_hour=0, audit_per_hour=0))
    empty: dict[str, Any] = {ITEMS: [], NEXT: None}
    assert client.get(INV).json() == empty
    assert client.get(AUD).json() == empty


def test_a_day_at_500_invocations_an_hour_holds_about_12_000() -> None:
    # How fast the sandbox generates a window is measured by the benchmarks (each case logs it), not here.
    truth = GroundTruth(Dataset(SandboxConfig(seed=12345, invocations_per_hour=500, now=NOW)))
    day = truth.invocations("team-speed", NOW - 24 * HOUR, NOW)
    assert 6_000 <= len(day) <= 18_000


# --- Command line ---------------------------------------------------------------------------------


def test_cli_serves_until_sigterm() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "airflow_provider_srconnect.sandbox", "--port", str(port),
               "--rate-limit", "0", "--now", str(contract.format_time(NOW))]  # fmt: skip
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    stdout = proc.stdout
    assert stdout is not None
    try:
        with selectors.DefaultSelector() as selector:
            selector.register(stdout, selectors.EVENT_READ)
            assert selector.select(timeout=15), "the CLI printed nothing within 15 s"
        line = stdout.readline()
        url = f"http://127.0.0.1:{port}"
        assert url in line and DEFAULT_EMAIL in line and DEFAULT_TEAM in line
        params = window(NOW - 2 * HOUR, NOW)
        served = requests.get(url + INV, params=params, auth=AUTH, timeout=5).json()[ITEMS]
        truth = GroundTruth(Dataset(SandboxConfig(now=NOW))).invocations(DEFAULT_TEAM, NOW - 2 * HOUR, NOW)
        assert served == truth[: D.pagination.size_default]  # the same data in another process
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=5)
