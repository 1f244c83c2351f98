"""SRConnectHook against the sandbox over real HTTP: paging, budget, faults, auth, downloads, memory."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from airflow_provider_srconnect import contract
from airflow_provider_srconnect.exceptions import SRConnectAuthError, SRConnectParamError
from airflow_provider_srconnect.hooks.srconnect import SRConnectAsyncHook, SRConnectHook
from airflow_provider_srconnect.sandbox import (
    DEFAULT_API_KEY,
    DEFAULT_EMAIL,
    DEFAULT_TEAM,
    OTHER_TEAM,
    SandboxConfig,
    SandboxServer,
)
from tests.conftest import free_port

NOW = dt.datetime(2026, 3, 10, 12, 30, tzinfo=dt.UTC)
DAY_START = dt.datetime(2026, 3, 8, tzinfo=dt.UTC)
DAY_END = dt.datetime(2026, 3, 9, tzinfo=dt.UTC)
IDS = contract.InvocationField.ID


def connection(url: str, **extra: Any) -> str:
    extra = {"team_id": DEFAULT_TEAM, "rate_limit_per_second": 1000, "max_retries": 8, **extra}
    return json.dumps(
        {
            "conn_type": "srconnect",
            "host": url,
            "login": extra.pop("login", DEFAULT_EMAIL),
            "password": extra.pop("password", DEFAULT_API_KEY),
            "extra": extra,
        }
    )


@pytest.fixture
def src(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., tuple[SandboxServer, SRConnectHook]]]:
    """Start a sandbox (fixed clock, no limit unless given) and a hook on it; the hook's extras are overridable."""
    servers: list[SandboxServer] = []

    def start(
        hook_extra: dict[str, Any] | None = None, hook_class: type = SRConnectHook, **config: Any
    ) -> tuple[SandboxServer, SRConnectHook]:
        server = SandboxServer(SandboxConfig(**{"now": NOW, "rate_limit_per_second": 0, **config})).start()
        servers.append(server)
        conn_id = f"src_sandbox_{len(servers)}"
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", connection(server.url, **(hook_extra or {})))
        return server, hook_class(srconnect_conn_id=conn_id)

    yield start
    for server in servers:
        server.stop()


def ids(records: Any) -> list[str]:
    return [r[IDS] for r in records]


PAGE_NUMBERS = {"pagination": {"style": "page", "param": "page", "next_field": None, "last_page": "short"}}


@pytest.mark.parametrize("override", [{}, PAGE_NUMBERS], ids=["cursor", "page number"])
def test_many_pages_equal_the_ground_truth(src, override):
    wire = contract.load(override)
    server, hook = src(invocations_per_hour=60, contract=wire, hook_extra={"contract": override})

    got = ids(hook.iter_invocation_logs(DAY_START, DAY_END, page_size=50))

    truth = ids(server.ground_truth.invocations(DEFAULT_TEAM, DAY_START, DAY_END))
    assert got == truth and len(set(got)) == len(got)
    assert server.stats.requests_total >= 5 and len(got) > 50 * 5


def test_filters_and_audit_logs_equal_the_ground_truth(src):
    server, hook = src()
    statuses = ["FINISHED", "TIMED_OUT"]

    got = ids(hook.iter_invocation_logs(DAY_START, DAY_END, execution_statuses=statuses, page_size=20))
    audit = list(hook.iter_audit_logs(DAY_START, DAY_END, page_size=10))

    assert got == ids(server.ground_truth.invocations(DEFAULT_TEAM, DAY_START, DAY_END, execution_statuses=statuses))
    assert audit == server.ground_truth.audit(DEFAULT_TEAM, DAY_START, DAY_END) and audit


def test_adjacent_windows_share_no_record_and_miss_none(src):
    server, hook = src()
    middle = DAY_START + dt.timedelta(hours=12)

    halves = ids(hook.iter_invocation_logs(DAY_START, middle)) + ids(hook.iter_invocation_logs(middle, DAY_END))

    assert halves == ids(server.ground_truth.invocations(DEFAULT_TEAM, DAY_START, DAY_END))


def test_threads_sharing_a_budget_below_the_limit_see_no_429(src):
    server, hook = src(rate_limit_per_second=10, burst=10, hook_extra={"rate_limit_per_second": 8, "burst": 4})
    hours = [DAY_START + dt.timedelta(hours=h) for h in range(0, 24, 3)]
    results: dict[int, list[str]] = {}

    def walk(n: int) -> None:
        results[n] = ids(hook.iter_invocation_logs(hours[n], hours[n] + dt.timedelta(hours=3), page_size=50))

    threads = [threading.Thread(target=walk, args=(n,)) for n in range(len(hours))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert server.stats.requests_total >= 24
    # The client's bucket (8/s, burst 4) admits at most 4 + 8 requests within one second; the sandbox counts
    # arrivals, which latency on a loaded machine can bunch by a request or two. The server's bucket allows 20.
    assert server.stats.throttled == 0 and server.stats.peak_rate <= 4 + 8 + 2
    assert [i for n in sorted(results) for i in results[n]] == ids(
        server.ground_truth.invocations(DEFAULT_TEAM, DAY_START, DAY_END)
    )


def test_a_429_storm_is_ridden_out(src):
    server, hook = src()
    server.faults.throttle_for(2.5)

    got = ids(hook.iter_invocation_logs(DAY_START, DAY_END))

    assert server.stats.throttled >= 1
    assert got == ids(server.ground_truth.invocations(DEFAULT_TEAM, DAY_START, DAY_END))


def test_5xx_resets_and_cut_bodies_are_recovered(src, sleeps):
    server, hook = src(hook_extra={"max_retries": 20})
    server.faults.error_rate, server.faults.reset_rate, server.faults.truncate_rate = 0.25, 0.1, 0.1
    server.faults.fault_seed = 11

    got = ids(hook.iter_invocation_logs(DAY_START, DAY_END, page_size=25))
    lines = [
        hook.get_console_logs(r[IDS])
        for r in server.ground_truth.invocations(DEFAULT_TEAM, DAY_START, DAY_START + dt.timedelta(hours=2))
        if r[contract.InvocationField.CONSOLE_LOGS]
    ]

    assert got == ids(server.ground_truth.invocations(DEFAULT_TEAM, DAY_START, DAY_END))
    assert lines and all(lines) and len(sleeps) >= 5
    assert any(status >= 500 for status in server.stats.by_status)


def test_a_wrong_key_or_a_revoked_key_is_an_auth_error(src):
    server, hook = src(hook_extra={"password": "not-the-key"})
    with pytest.raises(SRConnectAuthError, match="401"):
        list(hook.iter_invocation_logs(DAY_START, DAY_END))

    server, hook = src()
    walk = hook.iter_invocation_logs(DAY_START, DAY_END, page_size=10)
    next(walk)
    server.faults.revoke(DEFAULT_EMAIL)
    with pytest.raises(SRConnectAuthError):
        list(walk)


def test_another_teams_logs_are_forbidden(src):
    _, hook = src()
    with pytest.raises(SRConnectAuthError, match="403"):
        list(hook.iter_invocation_logs(DAY_START, DAY_END, team_id=OTHER_TEAM))


def test_bad_parameters_are_rejected_before_any_request(src):
    server, hook = src()
    for bad in ({"execution_statuses": ["Finished"]}, {"page_size": 1000}, {"order_by": "starttime"}):
        with pytest.raises(SRConnectParamError):
            hook.iter_invocation_logs(DAY_START, DAY_END, **bad)
    assert server.stats.requests_total == 0


def test_logs_download_and_an_expired_url_is_fetched_again(src, mocker):
    server, hook = src(download_ttl_seconds=0.2)
    invocation = next(
        r
        for r in server.ground_truth.invocations(DEFAULT_TEAM, DAY_START, DAY_END)
        if r[contract.InvocationField.CONSOLE_LOGS] and r[contract.InvocationField.HTTP_LOGS]
    )
    real_get = hook._session.get
    downloads: list[str] = []

    def slow_first_download(url: str, **kwargs: Any) -> requests.Response:
        if "Authorization" not in kwargs["headers"]:
            downloads.append(url)
            if len(downloads) == 1:
                time.sleep(0.4)  # the first URL expires before it is used
        return real_get(url, **kwargs)

    mocker.patch.object(hook._session, "get", side_effect=slow_first_download)
    lines = hook.get_console_logs(invocation[IDS])

    assert len(lines) == invocation[contract.InvocationField.CONSOLE_LOGS]
    assert len(downloads) == 2 and downloads[0] != downloads[1]
    assert len(hook.get_http_logs(invocation[IDS])) == invocation[contract.InvocationField.HTTP_LOGS]


def test_logs_of_a_running_invocation_are_not_stored_yet(src):
    from airflow_provider_srconnect.exceptions import SRConnectLogsNotStoredError

    server, hook = src()
    recent = server.ground_truth.invocations(
        DEFAULT_TEAM, NOW - dt.timedelta(minutes=15), NOW, execution_statuses=[contract.STATUS_RUNNING]
    )
    assert recent, "the sandbox keeps invocations of the last minutes running"
    with pytest.raises(SRConnectLogsNotStoredError):
        hook.get_console_logs(recent[0][IDS])


def test_the_key_is_absent_from_every_log_line(src, log_text, sleeps):
    server, hook = src(hook_extra={"max_retries": 20})
    server.faults.error_rate, server.faults.fault_seed = 0.3, 5

    list(hook.iter_invocation_logs(DAY_START, DAY_END, page_size=50))
    server.faults.revoke(DEFAULT_EMAIL)
    with pytest.raises(SRConnectAuthError) as err:
        list(hook.iter_invocation_logs(DAY_START, DAY_END))

    logged = log_text() + str(err.value)
    assert "records so far" in logged and "retry" in logged
    assert DEFAULT_API_KEY not in logged
    assert hook.settings.authorization.split()[1] not in logged


def test_the_async_hook_walks_the_same_records(src):
    server, hook = src(hook_class=SRConnectAsyncHook)

    async def walk() -> list[str]:
        return [r[IDS] async for r in hook.aiter_invocation_logs(DAY_START, DAY_END, page_size=30)]

    got = asyncio.run(asyncio.wait_for(walk(), timeout=60))
    assert got == ids(server.ground_truth.invocations(DEFAULT_TEAM, DAY_START, DAY_END))


WORKER = textwrap.dedent("""
    import datetime as dt, json, sys
    from airflow_provider_srconnect.hooks.srconnect import SRConnectHook
    start = dt.datetime.fromisoformat(sys.argv[1])
    hook = SRConnectHook(srconnect_conn_id="src_shared")
    print(sum(1 for _ in hook.iter_invocation_logs(start, start + dt.timedelta(hours=4), page_size=25)))
""")


def test_processes_share_one_budget_through_sqlite(tmp_path):
    rate = 6
    with SandboxServer(SandboxConfig(now=NOW, rate_limit_per_second=rate, burst=rate)).start() as server:
        env = {
            **os.environ,
            "AIRFLOW_CONN_SRC_SHARED": connection(
                server.url, rate_limit_per_second=rate - 1, burst=2, rate_limit_storage=f"sqlite:///{tmp_path}/b.db"
            ),
        }
        starts = [DAY_START + dt.timedelta(hours=4 * n) for n in range(3)]
        workers = [
            subprocess.Popen([sys.executable, "-c", WORKER, s.isoformat()], env=env, stdout=subprocess.PIPE, text=True)
            for s in starts
        ]
        counts = [int(w.communicate(timeout=120)[0].split()[-1]) for w in workers]

        assert sum(counts) == len(
            server.ground_truth.invocations(DEFAULT_TEAM, DAY_START, starts[-1] + dt.timedelta(hours=4))
        )
        assert server.stats.requests_total >= 3 * 8
        # The bucket (5/s, burst 2) admits 2 + 5 within a second; arrivals may bunch by one on a loaded machine.
        assert server.stats.throttled == 0 and server.stats.peak_rate <= (rate - 1) + 2 + 1


MEMORY_PROBE = textwrap.dedent("""
    import datetime as dt, sys, tracemalloc
    from airflow_provider_srconnect.hooks.srconnect import SRConnectHook
    end = dt.datetime.fromisoformat(sys.argv[1])
    hook = SRConnectHook(srconnect_conn_id="src_cli")
    tracemalloc.start()
    n = sum(1 for _ in hook.iter_invocation_logs(end - dt.timedelta(hours=int(sys.argv[2])), end))
    print(n, tracemalloc.get_traced_memory()[1])
""")


def test_the_cli_sandbox_serves_a_busy_day_with_flat_client_memory():
    port = free_port()
    cli = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "airflow_provider_srconnect.sandbox",
            "--port",
            str(port),
            "--invocations-per-hour",
            "500",
            "--rate-limit",
            "0",
            "--now",
            NOW.isoformat(),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert "127.0.0.1" in (cli.stdout.readline() if cli.stdout else "")
        env = {
            **os.environ,
            "AIRFLOW_CONN_SRC_CLI": connection(f"http://127.0.0.1:{port}"),
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
        }
        probe = [
            subprocess.run(
                [sys.executable, "-c", MEMORY_PROBE, DAY_END.isoformat(), str(hours)],
                env=env,
                capture_output=True,
                text=True,
                timeout=180,
                check=True,
            ).stdout.split()[-2:]
            for hours in (4, 24)
        ]
    finally:
        cli.terminate()
        cli.wait(timeout=10)
    (short_n, short_peak), (day_n, day_peak) = ((int(n), int(peak)) for n, peak in probe)

    assert day_n > 5 * short_n > 5000
    assert day_peak < 1.5 * short_peak + 256 * 1024, "client memory grows with the window"


def test_a_cancelled_async_walk_stops_while_waiting_for_budget(src):
    _, hook = src(hook_class=SRConnectAsyncHook, hook_extra={"rate_limit_per_second": 1, "burst": 1})

    async def scenario() -> None:
        async def walk() -> list[str]:
            return [r[IDS] async for r in hook.aiter_invocation_logs(DAY_START, DAY_END, page_size=10)]

        task = asyncio.create_task(walk())
        await asyncio.sleep(1.5)  # a few pages in, the walk now waits on the 1/s budget
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(task, timeout=5)

    for _ in range(3):
        asyncio.run(asyncio.wait_for(scenario(), timeout=20))
