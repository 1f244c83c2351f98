"""``test_connection``: the quick check (auth and one one-record page), answering within 10 s whatever the host does."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from airflow_provider_srconnect import contract
from airflow_provider_srconnect.hooks import srconnect
from tests.client.conftest import error_body, listing_body, url

#: The bound the UI button and ``airflow connections test`` need (issue #13).
ANSWER_WITHIN_S = 10.0


@contextlib.contextmanager
def silent_server() -> Iterator[int]:
    """A TCP server on 127.0.0.1 that accepts connections and never answers; yields its port."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            with contextlib.suppress(TimeoutError, OSError):
                held.append(listener.accept()[0])

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join(timeout=5)
        for conn in held:
            conn.close()
        listener.close()


def test_a_host_that_never_answers_fails_the_test_within_10_s(make_hook):
    with silent_server() as port:
        hook = make_hook(host=f"http://127.0.0.1:{port}", timeout=60, max_retries=8, max_retry_wait=300)
        began = time.monotonic()
        ok, message = hook.test_connection()
        took = time.monotonic() - began

    assert not ok and took < ANSWER_WITHIN_S
    assert "check the Host" in message and "ReadTimeout" in message


def test_a_throttled_host_fails_the_test_at_once_with_what_to_do(make_hook, requests_mock, sleeps):
    requests_mock.get(
        url(contract.DEFAULT, "invocation_logs", team_id="team-1"), status_code=429, headers={"Retry-After": "120"}
    )

    ok, message = make_hook(max_retries=8, max_retry_wait=300).test_connection()

    assert not ok and "429" in message and "test again" in message
    assert requests_mock.call_count <= 2 and sum(sleeps) <= srconnect.TEST_RETRY_WAIT


def test_one_quick_retry_rides_out_a_blip(make_hook, requests_mock, sleeps):
    wire = contract.DEFAULT
    requests_mock.get(
        url(wire, "invocation_logs", team_id="team-1"),
        [{"status_code": 503}, {"json": listing_body(wire, [], nextToken=None)}],
    )

    ok, _ = make_hook().test_connection()

    assert ok and requests_mock.call_count == 2


def test_each_contract_asks_for_its_first_page_of_one_record(hook, wire, requests_mock):
    requests_mock.get(url(wire, "invocation_logs", team_id="team-1"), json=listing_body(wire, []))

    ok, message = hook.test_connection()

    assert ok and message == "Connected to https://src.test and read team team-1."
    p = wire.pagination
    query = requests_mock.last_request.qs
    assert query[p.size_param.lower()] == ["1"]
    if p.style != "cursor":
        assert query[p.param.lower()] == [str(p.first_page if p.style == "page" else 0)]


def test_a_reply_off_the_contract_says_to_run_the_doctor(hook, wire, requests_mock):
    requests_mock.get(
        url(wire, "invocation_logs", team_id="team-1"), json={"unexpected": []} if wire.listing.wrapper else {}
    )

    ok, message = hook.test_connection()

    assert not ok and "doctor" in message and "extra 'contract'" in message


@pytest.mark.parametrize("status", [401, 403])
def test_a_refused_key_says_to_check_login_and_password(hook, wire, requests_mock, status):
    requests_mock.get(
        url(wire, "invocation_logs", team_id="team-1"), status_code=status, json=error_body(wire, "revoked")
    )

    ok, message = hook.test_connection()

    assert not ok and "revoked" in message and "Password (API key)" in message
    assert requests_mock.call_count == 1
