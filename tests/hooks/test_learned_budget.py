"""The budget learns the server's real limit: a 429 inside the budget lowers it, for all who share it.

- the learning rule (decrease, cooldown, gradual recovery, floor) on an injected clock, in memory, in
  SQLite and in Redis (a real ``redis-server``, as in ``tests/test_shared_budget_redis.py``);
- the bucket enforces the learned rate (its spacing after the burst), on every storage;
- a decrease made by one process lowers the rate of another that shares the SQLite or Redis budget;
- 8 threads with a budget of 20/s against the sandbox's limit of 10/s: every call succeeds with
  ``max_retries=2``, the sandbox answered some 429s, and the rate settles close to 10/s;
- the retry policy: a 429 is no failed attempt (bounded by ``max_retry_wait``); a 500 is one.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from airflow_provider_srconnect import _ratelimit
from airflow_provider_srconnect._ratelimit import DECREASE, FLOOR, RECOVERY, get_limiter
from airflow_provider_srconnect.exceptions import SRConnectRateLimitError, SRConnectServerError
from airflow_provider_srconnect.hooks.srconnect import SRConnectAsyncHook, SRConnectHook
from airflow_provider_srconnect.sandbox import (
    DEFAULT_API_KEY,
    DEFAULT_EMAIL,
    DEFAULT_TEAM,
    SandboxConfig,
    SandboxServer,
)
from tests.conftest import REPO_ROOT
from tests.hooks.test_srconnect import END, LIST_URL, START, page
from tests.test_shared_budget_redis import redis_url  # noqa: F401  # the module's redis-server fixture

NOW = dt.datetime(2026, 3, 10, 12, 30, tzinfo=dt.UTC)
DAY = dt.datetime(2026, 3, 8, tzinfo=dt.UTC)
STORAGES = ["memory", "sqlite", "redis"]


class Clock:
    """A clock the test moves by hand (seconds)."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def fresh_key() -> str:
    return f"srconnect-test-{uuid.uuid4().hex[:12]}"


def storage_url(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if kind == "memory":
        return "memory"
    if kind == "sqlite":
        return f"sqlite:///{tmp_path}/budget.db"
    return str(request.getfixturevalue("redis_url"))


def learned(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path, clock: Clock, key: str, rate: float = 20, burst: int = 20
) -> _ratelimit.Budget:
    """One budget on ``kind`` storage, on ``clock``; two calls with one key share SQLite or Redis state."""
    rules = _ratelimit.Aimd(rate, burst, 0.0)
    if kind == "memory":
        return _ratelimit._MemoryBudget(rules, clock)
    if kind == "sqlite":
        return _ratelimit._SQLiteBudget(rules, str(tmp_path / "budget.db"), key, clock)
    client = redis.Redis.from_url(storage_url(kind, request, tmp_path))
    return _ratelimit._RedisBudget(rules, client, key, clock)


# --- The learning rule ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", STORAGES)
def test_a_429_lowers_the_rate_once_per_cooldown_and_it_recovers_gradually(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    clock = Clock()
    state = learned(kind, request, tmp_path, clock, fresh_key())  # 20/s, burst 20: a cooldown of 1 s
    assert state.rate() == 20

    assert state.throttled() == pytest.approx((20, 20 * DECREASE))
    clock.now += 0.5
    assert state.throttled() is None, "429s of requests sent before the decrease must not count again"
    assert state.rate() == pytest.approx(20 * DECREASE + 0.5 * RECOVERY * 20)

    clock.now += 0.5  # the cooldown is over: the next 429 lowers the rate again, from where it recovered to
    before = 20 * DECREASE + RECOVERY * 20
    assert state.throttled() == pytest.approx((before, before * DECREASE))
    clock.now += 5
    assert state.rate() == pytest.approx(before * DECREASE + 5 * RECOVERY * 20)
    clock.now += 1 / RECOVERY
    assert state.rate() == 20


@pytest.mark.parametrize("kind", STORAGES)
def test_the_rate_never_falls_below_its_floor(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_ratelimit, "RECOVERY", 1e-9)  # else recovery between 429s keeps it above the floor
    clock = Clock()
    state = learned(kind, request, tmp_path, clock, fresh_key(), rate=16, burst=4)  # floor: 1/s
    lowered = []
    for _ in range(30):
        clock.now += 1.0
        change = state.throttled()
        if change is not None:
            lowered.append(change[1])

    assert 16 * FLOOR == 1.0
    assert min(lowered) == pytest.approx(1.0) and state.rate() == pytest.approx(1.0)
    assert all(rate >= 1.0 - 1e-9 for rate in lowered)


@pytest.mark.parametrize("kind", ["sqlite", "redis"])
def test_a_decrease_is_shared_through_the_storage(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    clock, key = Clock(), fresh_key()
    one, other = (learned(kind, request, tmp_path, clock, key) for _ in range(2))
    assert other.rate() == 20

    assert one.throttled() is not None
    clock.now += 0.25
    assert other.rate() == pytest.approx(20 * DECREASE + 0.25 * RECOVERY * 20)
    assert other.throttled() is None, "one cooldown for every process that shares the budget"


def test_the_redis_state_sits_beside_the_budget_on_the_servers_clock_and_expires_once_recovered(
    redis_url: str,  # noqa: F811
) -> None:
    key = fresh_key()
    budget = get_limiter(redis_url, key, rate=20.0, burst=20)

    assert budget.throttled() == pytest.approx((20, 16))

    client = redis.Redis.from_url(redis_url)
    stored = client.hgetall(key)
    seconds, micros = client.time()
    assert float(stored[b"rate"]) == 16 and 0 <= int(seconds) + int(micros) / 1e6 - float(stored[b"at"]) < 10
    recovery_ms = (20 - 16) / (RECOVERY * 20) * 1000
    assert 0 < client.pttl(key) <= recovery_ms + 1000 + 1000


# --- The bucket enforces it ----------------------------------------------------------------------


@pytest.mark.parametrize("kind", STORAGES)
def test_the_bucket_spaces_requests_at_the_learned_rate(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    clock = Clock()
    full, lowered = (learned(kind, request, tmp_path, clock, fresh_key(), rate=10, burst=5) for _ in range(2))
    assert lowered.throttled() == pytest.approx((10, 10 * DECREASE))

    def admitted_in_ten_seconds(budget: _ratelimit.Budget) -> int:
        start, taken = clock.now, 0
        while clock.now < start + 10:
            if budget.try_acquire(blocking=False):
                taken += 1
            else:
                clock.now += 0.01
        return taken

    at_full = admitted_in_ten_seconds(full)
    clock.now += 60  # both buckets refill; the learned rate has recovered by 0.02 * 10 * 60 ...
    assert lowered.throttled() is not None  # ... so lower it again, now from the full rate
    at_lowered = admitted_in_ten_seconds(lowered)

    assert at_full == pytest.approx(5 + 10 * 10, abs=2)  # the burst, then the rate
    assert at_lowered == pytest.approx(5 + 10 * 10 * DECREASE + 10 * 10 * RECOVERY * 5, abs=4)  # recovering


#: Another process on the same budget: it takes the limiter of the storage and key given, and meets a 429.
CHILD = (
    "import sys; from airflow_provider_srconnect._ratelimit import get_limiter; "
    "print(get_limiter(sys.argv[1], sys.argv[2], 20.0, 20).throttled())"
)


@pytest.mark.parametrize("kind", ["sqlite", "redis"])
def test_a_429_seen_by_one_process_lowers_the_rate_of_another(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    storage, key = storage_url(kind, request, tmp_path), fresh_key()
    budget = get_limiter(storage, key, rate=20.0, burst=20)
    assert budget.rate() == 20

    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    child = subprocess.run(
        [sys.executable, "-c", CHILD, storage, key], env=env, capture_output=True, text=True, timeout=60, check=True
    )
    assert child.stdout.strip() == "(20.0, 16.0)"

    assert 16 <= budget.rate() < 20


# --- Against the sandbox: a budget of 20/s, a limit of 10/s --------------------------------------


def connection(url: str, **extra: Any) -> str:
    extra = {"team_id": DEFAULT_TEAM, "rate_limit_per_second": 20, "burst": 20, "max_retry_wait": 60, **extra}
    return json.dumps(
        {"conn_type": "srconnect", "host": url, "login": DEFAULT_EMAIL, "password": DEFAULT_API_KEY, "extra": extra}
    )


@pytest.fixture
def sandbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[SandboxServer]:
    """A sandbox with a per-user limit of 10/s, and budgets that start afresh (no rate learned before)."""
    monkeypatch.setattr(_ratelimit, "_LIMITERS", {})
    config = SandboxConfig(now=NOW, rate_limit_per_second=10, burst=10, invocations_per_hour=4)
    with SandboxServer(config) as server:
        yield server


def test_threads_over_the_real_limit_settle_close_to_it_and_all_succeed(
    sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch, log_text: Callable[[], str]
) -> None:
    """8 threads, 144 calls, one request each. Measured here: about 9.5-9.8 calls/s after the first 3 s."""
    monkeypatch.setenv("AIRFLOW_CONN_SRC_LEARN", connection(sandbox.url, max_retries=2))
    hook = SRConnectHook(srconnect_conn_id="src_learn")
    done: list[float] = []
    errors: list[BaseException] = []
    started = time.monotonic()

    def work(n: int) -> None:
        hour = DAY + dt.timedelta(hours=n)
        for _ in range(18):
            try:
                list(hook.iter_invocation_logs(hour, hour + dt.timedelta(hours=1), page_size=100))
            except BaseException as exc:  # reported below
                errors.append(exc)
                return
            done.append(time.monotonic() - started)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert not errors and len(done) == 144, errors[:1]
    assert sandbox.stats.throttled > 0, "the budget of 20/s never met the limit of 10/s"
    end = max(done)
    settled = sum(1 for moment in done if moment >= 3) / (end - 3)
    assert settled >= 7.5, f"{settled:.1f} calls/s after the first 3 s, against a limit of 10/s"
    decreases = log_text().count("SRC answered 429 inside the budget")
    assert 1 <= decreases <= end + 1, "at most one decrease (and one warning) per cooldown of 1 s"


def test_a_429_is_no_failed_attempt_on_the_async_hook(sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_SRC_LEARN_ASYNC", connection(sandbox.url, max_retries=0))
    hook = SRConnectAsyncHook(srconnect_conn_id="src_learn_async")
    sandbox.faults.storm_retry_after = 1
    sandbox.faults.throttle_for(1.5)

    async def read() -> list[Any]:
        return [r async for r in hook.aiter_invocation_logs(DAY, DAY + dt.timedelta(hours=1), page_size=100)]

    assert asyncio.run(read())
    assert sandbox.stats.throttled >= 2
    assert hook._limiter.rate() < 20, "the async hook's 429s lower the budget too"


# --- The retry policy ----------------------------------------------------------------------------


def test_429s_do_not_spend_max_retries(
    make_hook: Callable[..., SRConnectHook], requests_mock: Any, sleeps: list[float]
):
    requests_mock.get(LIST_URL, [{"status_code": 429, "headers": {"Retry-After": "1"}}] * 3 + [{"json": page([])}])

    assert list(make_hook(max_retries=0).iter_invocation_logs(START, END)) == []
    assert requests_mock.call_count == 4 and len(sleeps) == 3 and all(s >= 1 for s in sleeps)


def test_429s_are_bounded_by_max_retry_wait(
    make_hook: Callable[..., SRConnectHook], requests_mock: Any, sleeps: list[float]
):
    requests_mock.get(LIST_URL, status_code=429, headers={"Retry-After": "2"})

    with pytest.raises(SRConnectRateLimitError, match="gave up after"):
        list(make_hook(max_retries=0, max_retry_wait=10).iter_invocation_logs(START, END))
    assert requests_mock.call_count >= 2 and sum(sleeps) <= 10


def test_a_500_still_spends_an_attempt(
    make_hook: Callable[..., SRConnectHook], requests_mock: Any, sleeps: list[float]
):
    requests_mock.get(LIST_URL, [{"status_code": 429, "headers": {"Retry-After": "1"}}, {"status_code": 500}])

    with pytest.raises(SRConnectServerError, match="500"):
        list(make_hook(max_retries=0).iter_invocation_logs(START, END))
    assert requests_mock.call_count == 2
