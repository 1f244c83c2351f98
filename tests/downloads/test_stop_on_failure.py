"""A failure stops the work: after a log fetch fails for good, the task sends SRC no further request.

The sandbox answers every invocation's log endpoints with 503 (fetches that keep retrying, with real,
growing waits); once they retry, one invocation's turn to a 400 (a permanent error). The export raises
the 400 at once; the fetch threads leave their retry waits and send nothing more: the sandbox's request
counters stop where they were, but for requests already in flight when the failure came.
"""

from __future__ import annotations

import io
import re
import threading
import time
from collections.abc import Callable

import pytest

from airflow_provider_srconnect import _retry
from airflow_provider_srconnect.exceptions import SRConnectCancelledError, SRConnectRequestError
from airflow_provider_srconnect.export import ExportRequest, write_window
from airflow_provider_srconnect.sandbox import DEFAULT_TEAM, SandboxServer
from tests.downloads.conftest import CONTRACTS, WINDOW

WORKERS = 4
#: How long a test waits for threads to end before it calls the behaviour broken (not a speed bound).
PATIENCE_S = 20.0


def sent(server: SandboxServer) -> int:
    """Every request the sandbox received: API calls and downloads."""
    return server.stats.requests_total + server.stats.downloads


def until(condition: Callable[[], bool]) -> bool:
    deadline = time.monotonic() + PATIENCE_S
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def fetch_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("srconnect-logs")]


@CONTRACTS
def test_a_permanent_log_failure_stops_every_other_fetch_of_the_task(sandbox, contract_name):
    assert until(lambda: not fetch_threads()), "fetch threads of an earlier test still run"
    server, hook = sandbox(contract_name, max_retries=25, max_retry_wait=3600)
    fields = server.ground_truth.contract.records.invocation
    records = server.ground_truth.invocations(DEFAULT_TEAM, WINDOW.start, WINDOW.end)
    with_logs = [r[fields.id] for r in records if r[fields.console_logs] or r[fields.http_logs]]
    doomed = with_logs[1]  # among the first fetches, all retrying 503s
    for invocation in with_logs:
        server.faults.break_logs(invocation, 503)

    def fail_for_good_once_retrying() -> None:
        if until(lambda: server.stats.by_status.get(503, 0) >= 2 * WORKERS):
            server.faults.break_logs(doomed, 400)

    switcher = threading.Thread(target=fail_for_good_once_retrying, name="doom")
    switcher.start()
    try:
        with pytest.raises(SRConnectRequestError, match=re.escape(doomed)) as raised:
            write_window(hook, WINDOW, ExportRequest(include_logs="all", log_workers=WORKERS), io.BytesIO())
        at_failure = sent(server)
    finally:
        switcher.join(PATIENCE_S)

    assert "400" in str(raised.value)  # the first failure, not a fetch it stopped (SRConnectCancelledError)
    assert until(lambda: not fetch_threads()), "fetch threads went on after the failure"
    assert sent(server) - at_failure <= WORKERS - 1  # only requests already in flight


def test_outside_a_stop_block_nothing_is_stopped():
    assert not _retry.stoppable() and not _retry.stopped()
    _retry.check_stop("a request")  # no stop flag: sent as always


def test_inside_a_stop_block_a_set_flag_refuses_requests_and_cuts_waits_short():
    stop = threading.Event()
    with _retry.stop_on(stop):
        _retry.check_stop("a request")
        stop.set()
        with pytest.raises(SRConnectCancelledError, match="GET /x was not sent"):
            _retry.check_stop("GET /x")
        waited = time.monotonic()
        _retry.pause(3600)  # returns at once: the flag is set
        assert time.monotonic() - waited < 3600
    assert not _retry.stoppable()
