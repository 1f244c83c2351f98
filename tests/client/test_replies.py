"""Replies as each contract shapes them: listing wrappers, error bodies, log delivery, log files, large messages."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_srconnect import contract
from airflow_provider_srconnect.exceptions import (
    SRConnectContractError,
    SRConnectLogsNotStoredError,
    SRConnectNotFoundError,
    SRConnectRequestError,
)
from tests.client.conftest import (
    END,
    START,
    error_body,
    invocation,
    listing_body,
    log_file,
    url,
    url_reply,
)

DOWNLOAD = "https://files.test/log?sig=abc"
LINES = [{"message": "hello"}, {"message": "world"}]


def serve_log(requests_mock: Any, wire: contract.Contract, path: str, body: Any, **ids: str) -> None:
    """The log endpoint answers as the contract delivers: a download URL to ``body``, or ``body`` inline."""
    text = body if isinstance(body, str) else None
    reply = {"text": text} if text is not None else {"json": body}
    if wire.logs.mode == "inline":
        requests_mock.get(url(wire, path, **ids), **reply)
    else:
        requests_mock.get(url(wire, path, **ids), json=url_reply(wire, DOWNLOAD))
        requests_mock.get(DOWNLOAD, **reply)


# --- Listings -------------------------------------------------------------------------------------


def test_records_are_read_at_the_contracts_wrapper(hook, wire, requests_mock):
    records = [invocation(wire, 0), invocation(wire, 1)]
    p = wire.pagination
    end = {f: v for f, v in ((p.next_field, None), (p.has_more_field, False), (p.total_count_field, 2)) if f}
    requests_mock.get(url(wire, "invocation_logs", team_id="team-1"), json=listing_body(wire, records, **end))

    assert list(hook.iter_invocation_logs(START, END)) == records


def test_a_bare_list_listing(make_hook, requests_mock):
    override = {
        "listing": {"wrapper": None},
        "pagination": {"style": "page", "param": "page", "next_field": None, "last_page": "short"},
    }
    wire = contract.load(override)
    records = [invocation(wire, 0)]
    requests_mock.get(url(wire, "invocation_logs", team_id="team-1"), json=records)

    assert list(make_hook(contract=override).iter_invocation_logs(START, END)) == records


@pytest.mark.parametrize(
    ("override", "body", "said"),
    [
        ({"listing": {"wrapper": "result.records"}}, {"result": {"items": []}}, "'result.records'"),
        ({"listing": {"wrapper": "result.records"}}, {"result": []}, "'result.records'"),
        (
            {
                "listing": {"wrapper": None},
                "pagination": {"style": "page", "param": "page", "next_field": None, "last_page": "short"},
            },
            {"items": []},
            "list",
        ),
    ],
)
def test_a_reply_off_the_wrapper_is_a_contract_error_naming_it(make_hook, requests_mock, override, body, said):
    wire = contract.load(override)
    requests_mock.get(url(wire, "invocation_logs", team_id="team-1"), json=body)

    with pytest.raises(SRConnectContractError, match=said):
        list(make_hook(contract=override).iter_invocation_logs(START, END))


def test_the_error_message_is_read_at_the_contracts_key(hook, wire, requests_mock, sleeps):
    requests_mock.get(
        url(wire, "invocation_logs", team_id="team-1"),
        status_code=400,
        json=error_body(wire, "limit must be at most 50", "BAD_LIMIT"),
    )

    with pytest.raises(SRConnectRequestError, match="limit must be at most 50"):
        list(hook.iter_invocation_logs(START, END))


# --- Logs of one invocation -------------------------------------------------------------------------


def test_console_and_http_logs_are_delivered_as_the_contract_says(hook, wire, requests_mock):
    files = wire.log_files
    serve_log(requests_mock, wire, "console_logs", log_file(files.console_wrapper, LINES), invocation_id="inv-1")
    assert hook.get_console_logs("inv-1") == LINES

    requests_mock.reset_mock()
    entries = [{"fetchId": 1}, {"fetchId": 2}]
    serve_log(requests_mock, wire, "http_logs", log_file(files.http_wrapper, entries), invocation_id="inv-1")
    assert hook.get_http_logs("inv-1") == entries
    api_call = requests_mock.request_history[0]
    assert api_call.headers["Authorization"].startswith("Basic ")
    if wire.logs.mode == "url":
        assert "Authorization" not in requests_mock.request_history[-1].headers, "the download goes without the key"


@pytest.mark.parametrize("wrapper", [None, "logs", "file.entries"])
def test_log_files_are_bare_lists_or_wrapped_at_a_dotted_key(make_hook, requests_mock, wrapper):
    override = {"log_files": {"console_wrapper": wrapper}, "logs": {"mode": "inline"}}
    wire = contract.load(override)
    requests_mock.get(url(wire, "console_logs", invocation_id="inv-1"), json=log_file(wrapper, LINES))

    assert make_hook(contract=override).get_console_logs("inv-1") == LINES


def test_a_log_file_off_its_wrapper_is_a_contract_error(make_hook, requests_mock):
    override = {"logs": {"mode": "inline"}, "log_files": {"console_wrapper": None}}
    wire = contract.load(override)
    requests_mock.get(url(wire, "console_logs", invocation_id="inv-1"), json={"logs": LINES})

    with pytest.raises(SRConnectContractError, match="not a JSON list"):
        make_hook(contract=override).get_console_logs("inv-1")


@pytest.mark.parametrize("reply", [{"text": ""}, {"status_code": 204, "text": ""}, {"null_url": True}])
def test_no_logs_is_an_empty_body_or_a_null_url_whatever_the_contract_says(hook, wire, requests_mock, reply):
    if reply.pop("null_url", False):
        if wire.logs.mode == "inline":
            pytest.skip("inline logs have no URL")
        reply = {"json": url_reply(wire, None)}
    requests_mock.get(url(wire, "console_logs", invocation_id="inv-1"), **reply)

    assert hook.get_console_logs("inv-1") == []
    assert requests_mock.call_count == 1


def test_not_stored_is_the_contracts_status_on_log_endpoints_only(hook, wire, requests_mock, sleeps):
    status = wire.logs.not_stored_status
    requests_mock.get(
        url(wire, "console_logs", invocation_id="inv-1"), status_code=status, json=error_body(wire, "running")
    )
    with pytest.raises(SRConnectLogsNotStoredError, match="still running"):
        hook.get_console_logs("inv-1")
    assert requests_mock.call_count == 1, "not retried"

    if status != 404:  # a 404 is then "not found", not "not stored"
        requests_mock.get(url(wire, "console_logs", invocation_id="inv-2"), status_code=404, json={})
        with pytest.raises(SRConnectNotFoundError) as err:
            hook.get_console_logs("inv-2")
        assert not isinstance(err.value, SRConnectLogsNotStoredError)


def test_a_url_reply_without_the_url_field_names_it(make_hook, requests_mock):
    override = {"logs": {"url_field": "download.url"}}
    wire = contract.load(override)
    requests_mock.get(url(wire, "console_logs", invocation_id="inv-1"), json={"url": DOWNLOAD})

    with pytest.raises(SRConnectContractError, match=r"'download\.url'"):
        make_hook(contract=override).get_console_logs("inv-1")


def test_a_large_message_is_raw_text_or_a_json_field(hook, wire, requests_mock):
    text = "x" * 50_000 + " é"
    field = wire.log_files.large_message_field
    body: Any = text
    if field is not None:
        body = {}
        contract.put(body, field, text)
    serve_log(requests_mock, wire, "large_log_message", body, invocation_id="inv-1", message_id="m-1")

    assert hook.get_large_log_message("inv-1", "m-1") == text


def test_a_json_large_message_without_its_field_is_a_contract_error(make_hook, requests_mock):
    override = {"logs": {"mode": "inline"}, "log_files": {"large_message_field": "message.text"}}
    wire = contract.load(override)
    requests_mock.get(url(wire, "large_log_message", invocation_id="i", message_id="m"), json={"message": "x"})

    with pytest.raises(SRConnectContractError, match=r"'message\.text'"):
        make_hook(contract=override).get_large_log_message("i", "m")
