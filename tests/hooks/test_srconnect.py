"""Unit tests of SRConnectHook: every branch of paging, retries, downloads and errors (requests-mock)."""

from __future__ import annotations

import base64
import itertools
import tracemalloc
from typing import Any

import pendulum
import pytest
import requests

from airflow_provider_srconnect import contract
from airflow_provider_srconnect._api import PageWalk
from airflow_provider_srconnect.exceptions import (
    SRConnectAuthError,
    SRConnectContractError,
    SRConnectDownloadExpiredError,
    SRConnectLogsNotStoredError,
    SRConnectParamError,
    SRConnectRateLimitError,
    SRConnectRequestError,
    SRConnectServerError,
    SRConnectTransportError,
)
from tests.hooks.conftest import API_KEY, EMAIL

START = pendulum.datetime(2026, 11, 1, tz="UTC")
END = pendulum.datetime(2026, 11, 2, tz="UTC")
LIST_URL = "https://src.test/v1/team/team-1/invocationLogs"
AUDIT_URL = "https://src.test/v1/team/team-1/auditLogs"
ITEMS = "items"


def record(n: int, moment: pendulum.DateTime | None = None) -> dict[str, Any]:
    when = moment or START.add(minutes=n)
    return {contract.InvocationField.ID: f"inv-{n}", contract.InvocationField.START_TIME: contract.format_time(when)}


def page(items: list[dict[str, Any]], token: str | None = None) -> dict[str, Any]:
    return {ITEMS: items, "nextToken": token}


# --- Pagination -----------------------------------------------------------------------------------


def test_cursor_pages_are_followed_until_no_token(make_hook, requests_mock):
    requests_mock.get(
        LIST_URL,
        [
            {"json": page([record(0), record(1)], "t1")},
            {"json": page([record(2), record(3)], "t2")},
            {"json": page([record(4)])},
        ],
    )
    records = list(make_hook().iter_invocation_logs(START, END, page_size=2))

    assert [r["invocationId"] for r in records] == [f"inv-{n}" for n in range(5)]
    queries = [h.qs for h in requests_mock.request_history]
    assert [q.get("nexttoken") for q in queries] == [None, ["t1"], ["t2"]]
    assert queries[0]["from"] == ["2026-11-01t00:00:00.000z"] and queries[0]["to"] == ["2026-11-02t00:00:00.000z"]
    assert queries[0]["orderby"] == ["starttime"] and queries[0]["pagesize"] == ["2"]


def test_a_page_number_scheme_is_a_connection_extra(make_hook, requests_mock):
    pages = {"style": "page", "param": "page", "next_field": None, "last_page": "short"}
    requests_mock.get(
        LIST_URL,
        [
            {"json": {ITEMS: [record(0), record(1)]}},
            {"json": {ITEMS: [record(2)]}},
        ],
    )
    records = list(make_hook(contract={"pagination": pages}).iter_invocation_logs(START, END, page_size=2))

    assert len(records) == 3
    assert [h.qs["page"] for h in requests_mock.request_history] == [["1"], ["2"]]


def test_records_outside_the_half_open_window_are_dropped(make_hook, requests_mock):
    inside = [record(0, START), record(1, END.subtract(microseconds=1000))]
    outside = [record(2, START.subtract(microseconds=1000)), record(3, END)]
    requests_mock.get(LIST_URL, json=page(inside + outside))

    records = list(make_hook().iter_invocation_logs(START, END))

    assert [r["invocationId"] for r in records] == ["inv-0", "inv-1"]


def test_epoch_millisecond_times_are_read_too(make_hook, requests_mock):
    item = {contract.InvocationField.ID: "inv-ms", contract.InvocationField.START_TIME: START.int_timestamp * 1000}
    requests_mock.get(LIST_URL, json=page([item]))

    assert [r["invocationId"] for r in make_hook().iter_invocation_logs(START, END)] == ["inv-ms"]


def test_a_repeated_cursor_stops_the_walk(make_hook, requests_mock):
    requests_mock.get(LIST_URL, json=page([record(0)], "same"))

    with pytest.raises(SRConnectContractError, match="cursor already seen"):
        list(make_hook().iter_invocation_logs(START, END))
    assert requests_mock.call_count == 2


def _walk() -> PageWalk:
    wire = contract.load({"pagination": {"param": "cursor", "next_field": "next"}})
    return PageWalk("a listing", wire, [], 100, "startTime", START, END)


def _page(token: str) -> dict[str, Any]:
    return {ITEMS: [], "next": token}


@pytest.mark.parametrize("cycle", [1, 2, 3, 7, 20])
def test_a_cycle_of_cursors_is_stopped_within_about_twice_its_length(cycle):
    walk = _walk()
    asked = 0
    with pytest.raises(SRConnectContractError, match="cursor already seen"):
        for n in itertools.count():
            walk.next_params()
            asked += 1
            walk.accept(_page(f"cursor-{n % cycle}"))
    assert cycle < asked <= 3 * cycle + 2


def test_a_long_walk_holds_constant_memory():
    walk = _walk()
    tracemalloc.start()
    try:
        walk.next_params()
        walk.accept(_page("first"))
        before = tracemalloc.get_traced_memory()[0]
        for n in range(20_000):
            walk.next_params()
            walk.accept(_page(f"{n:08d}" * 16))  # a long opaque token each page, none repeated
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert walk.pages == 20_001
    assert grown < 4096, f"the walk kept {grown} bytes over 20,000 pages"


@pytest.mark.parametrize(
    ("body", "field"),
    [({"records": []}, ITEMS), (page([{"invocationId": "x"}]), contract.InvocationField.START_TIME)],
)
def test_a_response_off_contract_names_the_missing_field(make_hook, requests_mock, body, field):
    requests_mock.get(LIST_URL, json=body)

    with pytest.raises(SRConnectContractError, match=f"'{field}'"):
        list(make_hook().iter_invocation_logs(START, END))


def test_filters_go_as_repeated_keys(make_hook, requests_mock):
    requests_mock.get(LIST_URL, json=page([]))
    hook = make_hook()

    list(hook.iter_invocation_logs(START, END, execution_statuses=["FINISHED", "RUNNING"], trigger_types="MANUAL"))

    query = requests_mock.last_request.qs
    assert query["executionstatuses"] == ["finished", "running"] and query["triggertypes"] == ["manual"]


def test_audit_logs_use_the_audit_path_and_date_field(make_hook, requests_mock):
    item = {contract.AuditField.ID: "a1", contract.AuditField.DATE: contract.format_time(START)}
    requests_mock.get(AUDIT_URL, json=page([item]))

    assert list(make_hook().iter_audit_logs(START, END)) == [item]


def test_progress_is_logged_once_per_page(make_hook, requests_mock, log_text):
    requests_mock.get(LIST_URL, [{"json": page([record(0)], "t1")}, {"json": page([record(1)])}])
    list(make_hook().iter_invocation_logs(START, END))

    progress = [line for line in log_text().splitlines() if "records so far" in line]
    assert len(progress) == 2
    assert "page 1, 1 records so far" in progress[0] and "page 2, 2 records so far" in progress[1]


# --- Bad input: a typed error before any request -------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "param"),
    [
        ({"execution_statuses": ["finished"]}, "execution_statuses"),
        ({"trigger_types": ["CRON"]}, "trigger_types"),
        ({"order_by": "StartTime"}, "order_by"),
        ({"order_direction": "up"}, "order_direction"),
        ({"page_size": 0}, "page_size"),
        ({"page_size": contract.DEFAULT.pagination.size_max + 1}, "page_size"),
        ({"page_size": "50"}, "page_size"),
        ({"team_id": "../admin"}, "team_id"),
    ],
)
def test_bad_parameters_fail_before_any_request(make_hook, requests_mock, kwargs, param):
    with pytest.raises(SRConnectParamError) as err:
        make_hook().iter_invocation_logs(START, END, **kwargs)

    assert err.value.param == param
    assert requests_mock.call_count == 0


@pytest.mark.parametrize(
    ("start", "end"),
    [(END, START), (START, START), (START.naive(), END)],
)
def test_bad_windows_fail_before_any_request(make_hook, requests_mock, start, end):
    with pytest.raises(SRConnectParamError, match=r"start|end"):
        make_hook().iter_invocation_logs(start, end)
    assert requests_mock.call_count == 0


def test_an_unknown_status_suggests_the_spelling(make_hook):
    with pytest.raises(SRConnectParamError, match="Did you mean 'TIMED_OUT'"):
        make_hook().iter_invocation_logs(START, END, execution_statuses="timed_out")


def test_a_missing_team_says_where_to_set_it(make_hook, requests_mock):
    hook = make_hook(team_id=None)

    with pytest.raises(SRConnectParamError, match="team_id"):
        hook.iter_invocation_logs(START, END)
    assert requests_mock.call_count == 0


# --- Errors and retries ---------------------------------------------------------------------------


def test_429_honours_retry_after_seconds(make_hook, requests_mock, sleeps):
    requests_mock.get(
        LIST_URL,
        [
            {"status_code": 429, "headers": {"Retry-After": "2"}, "json": {"message": "slow down"}},
            {"json": page([record(0)])},
        ],
    )

    assert len(list(make_hook().iter_invocation_logs(START, END))) == 1
    assert sleeps == [2.0]


def test_429_honours_retry_after_as_http_date(make_hook, requests_mock, sleeps):
    when = pendulum.now("UTC").add(seconds=30).to_rfc1123_string()
    requests_mock.get(LIST_URL, [{"status_code": 429, "headers": {"Retry-After": when}}, {"json": page([])}])

    list(make_hook().iter_invocation_logs(START, END))

    assert len(sleeps) == 1 and 25 <= sleeps[0] <= 30


def test_429_without_retry_after_backs_off_with_jitter(make_hook, requests_mock, sleeps):
    requests_mock.get(LIST_URL, [{"status_code": 429}] * 3 + [{"json": page([])}])

    list(make_hook().iter_invocation_logs(START, END))

    assert len(sleeps) == 3 and all(0 <= s <= 30 for s in sleeps)


def test_429_storm_longer_than_the_budget_raises_rate_limit_error(make_hook, requests_mock, sleeps):
    requests_mock.get(LIST_URL, status_code=429, headers={"Retry-After": "1"})

    with pytest.raises(SRConnectRateLimitError, match="gave up after"):
        list(make_hook(max_retries=3, max_retry_wait=20).iter_invocation_logs(START, END))
    # A 429 is no failed attempt: the first four waits take at most 1 + 2 + 4 + 8 s, so a fifth try follows.
    assert requests_mock.call_count >= 5 and sum(sleeps) <= 20


def test_total_retry_wait_is_bounded(make_hook, requests_mock, sleeps):
    requests_mock.get(LIST_URL, status_code=429, headers={"Retry-After": "20"})

    with pytest.raises(SRConnectRateLimitError):
        list(make_hook(max_retries=50, max_retry_wait=45).iter_invocation_logs(START, END))
    assert sum(sleeps) <= 45


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_are_retried(make_hook, requests_mock, sleeps, status):
    requests_mock.get(LIST_URL, [{"status_code": status}, {"status_code": status}, {"json": page([record(0)])}])

    assert len(list(make_hook().iter_invocation_logs(START, END))) == 1
    assert requests_mock.call_count == 3


def test_5xx_after_retries_raises_server_error(make_hook, requests_mock, sleeps):
    requests_mock.get(LIST_URL, status_code=503)

    with pytest.raises(SRConnectServerError, match="503"):
        list(make_hook(max_retries=2).iter_invocation_logs(START, END))
    assert requests_mock.call_count == 3


@pytest.mark.parametrize("exc", [requests.ConnectTimeout, requests.ReadTimeout, requests.ConnectionError])
def test_timeouts_and_connection_errors_are_retried(make_hook, requests_mock, sleeps, exc):
    requests_mock.get(LIST_URL, [{"exc": exc}, {"json": page([record(0)])}])

    assert len(list(make_hook().iter_invocation_logs(START, END))) == 1


def test_a_cut_body_is_retried_then_typed(make_hook, requests_mock, sleeps):
    requests_mock.get(LIST_URL, text='{"items": [{"invoc')

    with pytest.raises(SRConnectTransportError, match="not JSON"):
        list(make_hook(max_retries=1).iter_invocation_logs(START, END))
    assert requests_mock.call_count == 2


@pytest.mark.parametrize("status", [401, 403])
def test_auth_failures_are_not_retried(make_hook, requests_mock, sleeps, status):
    requests_mock.get(LIST_URL, status_code=status, json={"message": "bad key"})

    with pytest.raises(SRConnectAuthError, match="Password \\(API key\\)"):
        list(make_hook().iter_invocation_logs(START, END))
    assert requests_mock.call_count == 1


def test_other_4xx_carry_the_server_message_and_are_not_retried(make_hook, requests_mock, sleeps):
    requests_mock.get(LIST_URL, status_code=400, json={"code": "BAD_REQUEST", "message": "pageSize must be numeric"})

    with pytest.raises(SRConnectRequestError, match="pageSize must be numeric"):
        list(make_hook().iter_invocation_logs(START, END))
    assert requests_mock.call_count == 1 and sleeps == []


# --- Log downloads --------------------------------------------------------------------------------

CONSOLE_URL = "https://src.test/v1/invocation/inv-1/consoleLogs"
HTTP_LOGS_URL = "https://src.test/v1/invocation/inv-1/httpLogs"
LARGE_URL = "https://src.test/v1/invocation/inv-1/largeLogMessage/msg-9"
DOWNLOAD = "https://files.test/log?sig=abc"


def test_console_logs_follow_the_download_url_without_credentials(make_hook, requests_mock):
    lines = [{"message": "hello"}, {"message": "world"}]
    requests_mock.get(CONSOLE_URL, json={"url": DOWNLOAD})
    requests_mock.get(DOWNLOAD, json={"logs": lines})

    assert make_hook().get_console_logs("inv-1") == lines
    api_call, download = requests_mock.request_history
    assert api_call.headers["Authorization"].startswith("Basic ")
    assert "Authorization" not in download.headers


def test_http_logs_and_large_messages(make_hook, requests_mock):
    requests_mock.get(HTTP_LOGS_URL, json={"url": DOWNLOAD})
    requests_mock.get(LARGE_URL, json={"url": DOWNLOAD + "&large"})
    requests_mock.get(DOWNLOAD, json={"logs": [{"fetchId": 1}]})
    requests_mock.get(DOWNLOAD + "&large", text="x" * 50_000)
    hook = make_hook()

    assert hook.get_http_logs("inv-1") == [{"fetchId": 1}]
    assert hook.get_large_log_message("inv-1", "msg-9") == "x" * 50_000


def test_an_expired_download_url_is_fetched_again(make_hook, requests_mock, sleeps):
    requests_mock.get(CONSOLE_URL, [{"json": {"url": DOWNLOAD}}, {"json": {"url": DOWNLOAD + "&fresh"}}])
    requests_mock.get(DOWNLOAD, status_code=403, text="Request has expired")
    requests_mock.get(DOWNLOAD + "&fresh", json={"logs": [{"message": "ok"}]})

    assert make_hook().get_console_logs("inv-1") == [{"message": "ok"}]


def test_a_url_that_keeps_expiring_raises_typed(make_hook, requests_mock, sleeps):
    requests_mock.get(CONSOLE_URL, json={"url": DOWNLOAD})
    requests_mock.get(DOWNLOAD, status_code=403)

    with pytest.raises(SRConnectDownloadExpiredError):
        make_hook(max_retries=2).get_console_logs("inv-1")


@pytest.mark.parametrize("reply", [{"json": {"url": None}}, {"status_code": 204, "text": ""}])
def test_no_emitted_logs_is_an_empty_list(make_hook, requests_mock, reply):
    requests_mock.get(CONSOLE_URL, **reply)

    assert make_hook().get_console_logs("inv-1") == []


def test_404_means_logs_not_stored_yet_and_is_not_retried(make_hook, requests_mock, sleeps):
    requests_mock.get(CONSOLE_URL, status_code=404, json={"message": "no logs"})

    with pytest.raises(SRConnectLogsNotStoredError, match="still running"):
        make_hook().get_console_logs("inv-1")
    assert requests_mock.call_count == 1


def test_a_url_reply_without_the_url_field_is_a_contract_error(make_hook, requests_mock):
    requests_mock.get(CONSOLE_URL, json={"link": DOWNLOAD})

    with pytest.raises(SRConnectContractError, match="'url'"):
        make_hook().get_console_logs("inv-1")


@pytest.mark.parametrize("bad", ["", None, 42])
def test_an_invocation_id_that_is_no_text_fails_before_any_request(make_hook, requests_mock, bad):
    with pytest.raises(SRConnectParamError, match="invocation_id"):
        make_hook().get_console_logs(bad)
    assert requests_mock.call_count == 0


def test_an_invocation_id_from_src_is_data_quoted_into_one_segment(make_hook, requests_mock):
    requests_mock.get("https://src.test/v1/invocation/inv%2F..%2F..%2Fx/consoleLogs", json={"url": None})

    assert make_hook().get_console_logs("inv/../../x") == []
    assert requests_mock.last_request.path == "/v1/invocation/inv%2f..%2f..%2fx/consolelogs"


# --- test_connection, secrets ---------------------------------------------------------------------


def test_test_connection_reports_success_and_failure(make_hook, requests_mock, sleeps):
    requests_mock.get(LIST_URL, [{"json": page([])}, {"status_code": 401, "json": {"message": "revoked"}}])
    hook = make_hook()

    assert hook.test_connection() == (True, "Connected to https://src.test and read team team-1.")
    ok, message = hook.test_connection()
    assert not ok and "401" in message and "revoked" in message
    assert requests_mock.request_history[0].qs["pagesize"] == ["1"]


def test_the_key_never_reaches_logs_errors_or_repr(make_hook, requests_mock, sleeps, log_text):
    token = base64.b64encode(f"{EMAIL}:{API_KEY}".encode()).decode()
    requests_mock.get(LIST_URL, [{"status_code": 503}, {"exc": requests.ConnectionError}, {"status_code": 401}])
    hook = make_hook()

    with pytest.raises(SRConnectAuthError) as err:
        list(hook.iter_invocation_logs(START, END))

    logged = log_text()
    assert "retry 2 of 3" in logged  # the retries were logged, with the key masked out of every line
    seen = logged + str(err.value) + repr(err.value) + repr(hook.settings)
    assert API_KEY not in seen and token not in seen
    assert requests_mock.last_request.headers["Authorization"] == f"Basic {token}"


def test_a_cut_log_file_is_fetched_again_with_a_fresh_url(make_hook, requests_mock, sleeps):
    requests_mock.get(CONSOLE_URL, [{"json": {"url": DOWNLOAD}}, {"json": {"url": DOWNLOAD + "&2"}}])
    requests_mock.get(DOWNLOAD, text='{"logs": [{"mess')
    requests_mock.get(DOWNLOAD + "&2", json={"logs": [{"message": "whole"}]})

    assert make_hook().get_console_logs("inv-1") == [{"message": "whole"}]
