"""Ids from SRC are data: any text reaches its URL quoted whole, and the export reads them through the contract."""

from __future__ import annotations

import json
import re
import urllib.parse
from typing import Any

import pytest
import requests_mock as rm

from airflow_provider_srconnect import _api, contract
from airflow_provider_srconnect.exceptions import SRConnectParamError
from airflow_provider_srconnect.export import (
    CONSOLE_LINES_KEY,
    FULL_MESSAGE_KEY,
    HTTP_ENTRIES_KEY,
    LOGS_NOT_STORED_KEY,
    _wants_logs,
    _with_logs,
)
from tests.client.conftest import invocation, log_file, url_reply

DOWNLOAD = "https://files.test/large?sig=1"
#: Large-message ids as SRC may give them (the first one failed a whole day before: issue #13).
MESSAGE_IDS = ["lm:be38dd65+8", "a/b=c d", "é+/=", "x?y#z&w=1", "%2F", "-_.~"]


def segment(value: str) -> str:
    """How an id is written into one path segment: quoted whole."""
    return urllib.parse.quote(value, safe="")


class FakeSRC:
    """Answers any GET: log endpoints by the contract, recording the API paths exactly as sent."""

    def __init__(self, wire: contract.Contract, console: list[dict[str, Any]], message: str) -> None:
        self.wire = wire
        self.console = console
        self.message = message
        self.paths: list[str] = []

    def __call__(self, request: Any, context: Any) -> Any:
        if request.url.startswith(DOWNLOAD):
            return self._file(request.url.removeprefix(DOWNLOAD))
        path = urllib.parse.urlsplit(request.url).path
        self.paths.append(path)
        kind = next(
            kind
            for kind in ("console_logs", "http_logs", "large_log_message")
            if re.fullmatch(re.sub(r"\\\{\w+\\\}", "[^/]+", re.escape(getattr(self.wire.paths, kind))), path)
        )
        if self.wire.logs.mode == "inline":
            return self._file(kind)
        return json.dumps(url_reply(self.wire, DOWNLOAD + kind))

    def _file(self, kind: str) -> str:
        files = self.wire.log_files
        if kind == "console_logs":
            return json.dumps(log_file(files.console_wrapper, self.console))
        if kind == "http_logs":
            return json.dumps(log_file(files.http_wrapper, [{"fetchId": 1}]))
        if files.large_message_field is None:
            return self.message
        body: dict[str, Any] = {}
        contract.put(body, files.large_message_field, self.message)
        return json.dumps(body)


@pytest.mark.parametrize("message_id", MESSAGE_IDS)
def test_a_large_message_id_reaches_its_url_quoted_whole(hook, wire, requests_mock, message_id):
    src = FakeSRC(wire, [], "the whole text")
    requests_mock.get(rm.ANY, text=src)

    assert hook.get_large_log_message("inv:1+2/3", message_id) == "the whole text"

    expected = wire.paths.large_log_message.format(invocation_id=segment("inv:1+2/3"), message_id=segment(message_id))
    assert src.paths == [expected]


@pytest.mark.parametrize(("value", "written"), [(".", "%2E"), ("..", "%2E%2E"), ("a.b", "a.b"), ("é/", "%C3%A9%2F")])
def test_a_dots_only_id_is_escaped_so_no_url_normalisation_reads_it_as_a_step(value, written):
    # requests sends %2E as '.' again (unreserved), but does not resolve the segment; httpx keeps %2E.
    assert _api.path_segment("message_id", value) == written


@pytest.mark.parametrize("bad", ["", None, 7])
def test_an_id_that_is_no_text_is_a_typed_error_before_any_request(make_hook, requests_mock, bad):
    with pytest.raises(SRConnectParamError, match="message_id"):
        make_hook().get_large_log_message("inv-1", bad)
    assert requests_mock.call_count == 0


def test_the_export_attaches_logs_reading_the_record_through_the_contract(hook, wire, requests_mock):
    console = wire.log_files.console
    lines = [{console.message: "short"}, {console.message: "cut", console.large_message_id: "é+/= x"}]
    src = FakeSRC(wire, lines, "L" * 1000)
    requests_mock.get(rm.ANY, text=src)
    failed = wire.enums.statuses["FUNCTION_ERROR"]
    record = invocation(wire, 1, execution_status=failed, console_logs=2, http_logs=1)
    record[wire.records.invocation.id] = "inv/1 é"

    assert _wants_logs(record, "failed", wire)
    assert not _wants_logs(
        {**record, wire.records.invocation.execution_status: wire.enums.statuses["FINISHED"]}, "failed", wire
    )
    out = _with_logs(hook, record)

    assert out[CONSOLE_LINES_KEY][1][FULL_MESSAGE_KEY] == "L" * 1000
    assert FULL_MESSAGE_KEY not in out[CONSOLE_LINES_KEY][0]
    assert out[HTTP_ENTRIES_KEY] == [{"fetchId": 1}]
    quoted = segment("inv/1 é")
    assert src.paths == [
        wire.paths.console_logs.format(invocation_id=quoted),
        wire.paths.large_log_message.format(invocation_id=quoted, message_id=segment("é+/= x")),
        wire.paths.http_logs.format(invocation_id=quoted),
    ]


def test_a_record_without_logs_asks_for_none(hook, wire, requests_mock):
    record = invocation(wire, 1, console_logs=0, http_logs=0)

    assert _with_logs(hook, record) == record and requests_mock.call_count == 0


def test_logs_not_stored_are_marked_under_the_contracts_status(hook, wire, requests_mock):
    requests_mock.get(rm.ANY, status_code=wire.logs.not_stored_status, json={})
    record = invocation(wire, 1, console_logs=3, http_logs=0)

    assert _with_logs(hook, record) == {**record, LOGS_NOT_STORED_KEY: True}
