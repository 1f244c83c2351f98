"""The doctor end to end: the real sandbox over HTTP on 127.0.0.1, connections as AIRFLOW_CONN_* variables,
run as ``python -m airflow_provider_srconnect.doctor`` and through ``main(argv)``."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from airflow_provider_srconnect import contract
from airflow_provider_srconnect.doctor.checks import MAX_API_REQUESTS
from airflow_provider_srconnect.doctor.report import GROUPS
from airflow_provider_srconnect.sandbox import DEFAULT_API_KEY, DEFAULT_EMAIL, DEFAULT_TEAM
from tests.conftest import free_port
from tests.doctor.conftest import END, START, WINDOW, connection, fixture, loads, request_side


def statuses(out: str) -> dict[str, str]:
    """Each group's status line: group -> holds / differs / not checked."""
    return {m[1]: m[2] for m in re.finditer(r"^(\w+) +(holds|differs|not checked)$", out, re.M)}


def values_served(server: Any) -> set[str]:
    """Every value of the window's records that must never show in the doctor's output."""
    found: set[str] = set()
    keys: set[str] = set()

    def walk(value: object) -> None:
        if isinstance(value, dict):
            keys.update(value)
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)
        elif isinstance(value, str) and len(value) >= 6:
            found.add(value)

    for record in server.ground_truth.invocations(DEFAULT_TEAM, START, END)[:200]:
        walk(record)
    walk(server.ground_truth.audit(DEFAULT_TEAM, START, END))
    spellings = {*contract.DEFAULT.enums.statuses.values(), *contract.DEFAULT.enums.trigger_types.values()}
    asked = {contract.format_time(START), contract.format_time(END)}  # the window the doctor was given
    return found - spellings - keys - asked  # related entities' types are spelled like keys


# --- (a) the default sandbox and a default connection -------------------------------------------------


def test_default_sandbox_holds_in_a_subprocess_with_the_default_window(sandbox, doctor):
    server = sandbox(now=None, rate_limit_per_second=5.0, burst=5)  # real clock: the default window is yesterday

    run = doctor(connection(server.url, rate_limit_per_second=5), subprocess_=True)

    assert run.code == 0, run.text
    assert statuses(run.out) == dict.fromkeys(GROUPS, "holds")
    assert "result: every check holds (exit 0)" in run.out
    assert server.stats.throttled == 0 and server.stats.requests_total <= MAX_API_REQUESTS


@pytest.mark.parametrize("short_pages", [False, True], ids=["full pages", "short pages mid-stream"])
def test_default_sandbox_holds_through_main_and_no_value_leaks(sandbox, doctor, tmp_path, short_pages):
    server = sandbox(short_pages=short_pages)

    run = doctor(connection(server.url), *WINDOW, "--propose", str(tmp_path / "proposal.json"))

    assert run.code == 0, run.text
    assert statuses(run.out) == dict.fromkeys(GROUPS, "holds")
    assert loads(tmp_path / "proposal.json") == contract.DEFAULT
    assert "no change the replies reveal" in run.out
    secrets = values_served(server) | {DEFAULT_API_KEY, DEFAULT_EMAIL, DEFAULT_TEAM, server.url, "127.0.0.1"}
    assert len(secrets) > 100  # ids, e-mails, names, addresses of the records read
    assert not [value for value in secrets if value in run.text]
    assert "@" not in run.text and "http://" not in run.text


# --- (b) a sandbox in another contract, the connection in the default --------------------------------


@pytest.mark.parametrize(
    ("name", "error_fields"),
    [("pages", ("error.message", "error.code")), ("offset", ("detail", "errorCode"))],
)
def test_a_default_connection_to_a_fixture_sandbox_differs_and_proposes(sandbox, doctor, tmp_path, name, error_fields):
    server = sandbox(contract=contract.load(fixture(name)))
    proposal = tmp_path / "proposal.json"

    run = doctor(connection(server.url), *WINDOW, "--propose", str(proposal), subprocess_=name == "pages")

    assert run.code == 1, run.text
    found = statuses(run.out)
    assert found["paths"] == "differs" and found["errors"] == "differs"
    assert "invocation_logs (/v1/team/{team_id}/invocationLogs): 404" in run.out
    assert re.search(r"^result: differs in paths, errors \(exit 1\)$", run.out, re.M)
    proposed = loads(proposal)
    assert (proposed.errors.message_field, proposed.errors.code_field) == error_fields
    assert "replies cannot reveal" in run.out and "network tab" in run.out


@pytest.mark.parametrize("name", ["pages", "offset"])
def test_with_the_request_side_set_the_proposal_names_the_fixture_reply_shapes(sandbox, doctor, tmp_path, name):
    wire = fixture(name)
    server = sandbox(contract=contract.load(wire), short_pages=name == "pages")
    proposal = tmp_path / "proposal.json"

    run = doctor(connection(server.url, contract=request_side(wire)), *WINDOW, "--propose", str(proposal))

    assert run.code == 1, run.text
    found = statuses(run.out)
    assert {g for g, s in found.items() if s == "differs"} >= {"listing", "records", "log_files", "errors"}
    assert found["paths"] == found["window"] == found["filters"] == "holds"
    proposed = loads(proposal)
    assert proposed.listing.wrapper == wire["listing"]["wrapper"]
    for group in ("invocation", "audit"):
        for key, value in wire["records"][group].items():
            assert getattr(getattr(proposed.records, group), key) == value, (group, key)
    assert proposed.records.time_format == wire["records"]["time_format"]
    assert proposed.log_files.console_wrapper == wire["log_files"]["console_wrapper"]
    assert proposed.log_files.http_wrapper is None
    assert proposed.errors == contract.load(wire).errors
    assert proposed.paths == contract.load(wire).paths  # the connection's own override is kept

    again = doctor(connection(server.url, contract=json.loads(proposal.read_text())), *WINDOW)

    if name == "pages":
        assert again.code == 0, again.text
    else:  # offset.json spells MANUAL_EVENT_LISTENER "EVENT_LISTENER": no reply says which name it stands for
        assert again.code == 1 and statuses(again.out)["enums"] == "differs", again.text
        assert "trigger types outside the contract: EVENT_LISTENER" in again.out
        assert [g for g, s in statuses(again.out).items() if s == "differs"] == ["enums"]


# --- (c) could not check ----------------------------------------------------------------------------


def test_a_wrong_api_key_exits_2_naming_the_fix(sandbox, doctor):
    server = sandbox()

    run = doctor(connection(server.url, password="not-the-key-4711"), *WINDOW)

    assert run.code == 2
    assert "401" in run.err and "API key" in run.err and "not-the-key-4711" not in run.text


def test_an_unreachable_host_exits_2(doctor):
    run = doctor(connection(f"http://127.0.0.1:{free_port()}", timeout=5), *WINDOW, subprocess_=True)

    assert run.code == 2
    assert "could not reach SRC" in run.err and "Host" in run.err


@pytest.mark.parametrize(
    ("args", "conn_extra", "message"),
    [
        (("--conn-id", "no_such_conn"), None, "there is no connection 'no_such_conn'"),
        (("--start", "2026-03-08T00:00:00Z"), {}, "give both --start and --end"),
        (("--start", "2026-03-09", "--end", "2026-03-08"), {}, "--start must be before --end"),
        (("--start", "yesterday", "--end", "2026-03-08"), {}, "not an ISO-8601 time"),
        ((), {"contract": {"listing": {"wraper": "data"}}}, "listing.wraper"),
        ((), {"team_id": None}, "has no extra 'team_id'"),
        (("--propose", "/no/such/folder/p.json"), {}, "the folder of /no/such/folder/p.json does not exist"),
    ],
    ids=["unknown conn id", "start without end", "reversed window", "not a time", "bad contract", "no team", "propose"],
)
def test_bad_arguments_and_settings_exit_2(sandbox, doctor, args, conn_extra, message):
    server = sandbox()
    conn = None if conn_extra is None else connection(server.url, **conn_extra)

    run = doctor(conn, *args) if conn_extra is not None else doctor(None, *args)

    assert run.code == 2
    assert message in run.err
    assert server.stats.requests_total == 0


# --- (d) a server that ignores the time window ------------------------------------------------------


class _IgnoresTheWindow(BaseHTTPRequestHandler):
    """Speaks the default contract but always answers the newest records, whatever ``from``/``to`` say."""

    def do_GET(self) -> None:
        split = urlsplit(self.path)
        query = parse_qs(split.query)
        paths = contract.DEFAULT.paths
        c = contract.DEFAULT
        if int(query.get(c.pagination.size_param, ["1"])[0]) > c.pagination.size_max:
            self._send(400, {c.errors.code_field: "INVALID", c.errors.message_field: "page size too large"})
        elif split.path == paths.invocation_logs.format(team_id=DEFAULT_TEAM):
            f = c.records.invocation
            items = [
                {
                    f.id: f"inv-{i}",
                    f.start_time: f"2026-03-10T11:0{i}:00.000Z",
                    f.execution_status: "FINISHED",
                    f.trigger_type: "MANUAL",
                    f.root_trigger_type: "MANUAL",
                    f.workspace: {"id": "w", "name": "W"},
                    f.environment: {"id": "e", "name": "E"},
                    f.script: {"id": "s", "name": "S"},
                    f.duration: 10,
                    f.console_logs: 0,
                    f.http_logs: 0,
                    f.drop_reason: None,
                }
                for i in range(3)
            ]
            self._send(200, {c.listing.wrapper: items, c.pagination.next_field: None})
        elif split.path == paths.audit_logs.format(team_id=DEFAULT_TEAM):
            a = c.records.audit
            item = {a.id: "a-1", a.date: "2026-03-10T11:00:00.000Z", a.actor: {}, a.action: "team.member.add"}
            item |= {a.ip_address: "203.0.113.9", a.related_entities: [], a.metadata: {}}
            self._send(200, {c.listing.wrapper: [item], c.pagination.next_field: None})
        else:
            self._send(404, {c.errors.code_field: "NOT_FOUND", c.errors.message_field: "no such path"})

    def _send(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def ignores_the_window() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _IgnoresTheWindow)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_server_that_ignores_the_window_differs_in_window(doctor, ignores_the_window):
    run = doctor(connection(ignores_the_window), *WINDOW)

    assert run.code == 1, run.text
    found = statuses(run.out)
    assert found["window"] == "differs" and found["listing"] == found["records"] == "holds"
    assert "invocations: 3 of 3 records lie outside the window asked for" in run.out
    assert re.search(r"^result: differs in window \(exit 1\)$", run.out, re.M)
