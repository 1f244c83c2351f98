"""The per-user budget shared by several workers: Redis (a real ``redis-server``), SQLite and memory.

- the Redis budget lives in one hash per SRC user, on the Redis server's clock, and expires when idle;
- a worker whose own clock is far off still sees what the others spent;
- waits that oversleep (a loaded machine) never let more than the token bucket through, on every storage;
- three worker processes exporting different windows at once against the sandbox's per-user limit,
  sharing one Redis budget, get no 429 and stay within the limit; the same workers without a shared
  budget do get 429s (so the test can tell the two apart).

The Redis tests start ``redis-server`` themselves on 127.0.0.1 and stop it. They skip where the binary
is missing, except in CI (``CI`` set), where ``.ci/run`` installs it and a missing binary fails.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import os
import shutil
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pendulum
import pytest
import redis

from airflow_provider_srconnect import _ratelimit, contract
from airflow_provider_srconnect._ratelimit import get_limiter
from airflow_provider_srconnect.sandbox import (
    DEFAULT_API_KEY,
    DEFAULT_EMAIL,
    DEFAULT_TEAM,
    SandboxConfig,
    SandboxServer,
)
from tests.conftest import REPO_ROOT, free_port, stop_process_group

REDIS_SERVER = shutil.which("redis-server")
#: Seconds redis-server may take to answer PING.
REDIS_STARTUP_SECONDS = 20.0
#: The sandbox's per-user limit in the worker test, and the budget the workers share below it.
SANDBOX_RATE = 10
BUDGET_RATE = 8
WORKERS = 3
WINDOW = dt.timedelta(hours=4)
IDS = contract.InvocationField.ID


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A private ``redis-server`` on 127.0.0.1 (no persistence); yields its URL, database 0."""
    if REDIS_SERVER is None:
        if os.environ.get("CI"):
            pytest.fail("redis-server is missing in CI: .ci/run installs it with install_apt_packages")
        pytest.skip("redis-server is not installed here (apt-get install redis-server); CI installs it")
    port = free_port()
    workdir = tmp_path_factory.mktemp("redis")
    with (workdir / "redis.log").open("wb") as log:
        process = subprocess.Popen(
            [REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            cwd=workdir,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=2, socket_connect_timeout=2)
        deadline = time.monotonic() + REDIS_STARTUP_SECONDS
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if process.poll() is not None:
                    pytest.fail(f"redis-server exited: {(workdir / 'redis.log').read_text()[-2000:]}")
                if time.monotonic() > deadline:
                    pytest.fail(f"redis-server did not answer within {REDIS_STARTUP_SECONDS} s")
                time.sleep(0.05)
        client.close()
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        stop_process_group(process)


def fresh_key() -> str:
    return f"srconnect-test-{uuid.uuid4().hex[:12]}"


def server_ms(client: redis.Redis) -> int:
    seconds, micros = client.time()
    return int(seconds) * 1000 + int(micros) // 1000


def test_the_redis_budget_is_one_hash_per_user_on_the_servers_clock(redis_url: str) -> None:
    key = fresh_key()
    limiter = get_limiter(redis_url, key, rate=1.0, burst=3)  # 3 at once (the last 50 ms on), then 1/s

    taken = [limiter.try_acquire(key, timeout=0.2) for _ in range(4)]

    assert taken == [True, True, True, False]
    client = redis.Redis.from_url(redis_url)
    tat = float(client.hget(key, "tat"))
    seconds, micros = client.time()
    now = int(seconds) + int(micros) / 1e6
    assert 2.5 < tat - now <= 3.0, "the next request's time is on the server's clock, three intervals on"
    assert 0 < client.pttl(key) <= 1000 * (3 + 1), "an idle budget must expire on its own"


def test_the_budget_survives_a_restart_of_redis_that_forgot_the_script(redis_url: str) -> None:
    key = fresh_key()
    limiter = get_limiter(redis_url, key, rate=1.0, burst=3)
    assert limiter.try_acquire(key, timeout=0.2)

    redis.Redis.from_url(redis_url).script_flush()  # what a restarted or failed-over Redis looks like

    assert limiter.try_acquire(key, timeout=0.2)
    assert limiter.try_acquire(key, timeout=0.2)
    assert not limiter.try_acquire(key, timeout=0.2)


def test_a_worker_with_a_skewed_clock_still_sees_the_spent_budget(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = fresh_key()
    first = get_limiter(redis_url, key, rate=1.0, burst=3)
    assert all(first.try_acquire(key, timeout=0.2) for _ in range(3))

    # Another worker, on a machine whose clock runs an hour ahead: a budget on its own clock would
    # find the bucket full again there. The script reads the Redis server's TIME instead.
    real_time = time.time
    monkeypatch.setattr(time, "time", lambda: real_time() + 3600)
    rules = _ratelimit.Aimd(1.0, 3, _ratelimit.SHARED_BUFFER_SECONDS)
    other = _ratelimit._RedisBudget(rules, redis.Redis.from_url(redis_url), key)

    assert other.try_acquire(key, blocking=False) is False


def test_an_unreachable_redis_fails_the_request_at_once_and_sends_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """No silent fallback to a budget per process (which could exceed the plan): the task fails, Airflow retries."""
    from airflow_provider_srconnect.hooks.srconnect import SRConnectHook

    with SandboxServer(SandboxConfig(rate_limit_per_second=0)) as server:
        nowhere = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
        monkeypatch.setenv("AIRFLOW_CONN_SRC_REDIS_DOWN", connection(server.url, nowhere))
        hook = SRConnectHook(srconnect_conn_id="src_redis_down")
        day = pendulum.today("UTC").subtract(days=2)
        started = time.monotonic()

        with pytest.raises(redis.ConnectionError):
            list(hook.iter_invocation_logs(day, day.add(hours=1)))

        assert time.monotonic() - started < _ratelimit.REDIS_TIMEOUT_SECONDS
        assert server.stats.requests_total == 0


def above_the_bucket(stamps: list[float], rate: float, burst: int) -> float:
    """How far the admissions exceed a token bucket of ``rate`` and ``burst`` at worst (<= 0: never).

    Between the i-th and the j-th admission a bucket lets ``burst + rate * (t_j - t_i)`` through.
    """
    ordered = sorted(stamps)
    return max(
        (j - i + 1) - burst - rate * (ordered[j] - ordered[i])
        for i in range(len(ordered))
        for j in range(i, len(ordered))
    )


@pytest.mark.parametrize("storage", ["memory", "sqlite", "redis"])
def test_waits_that_oversleep_never_let_more_than_the_budget_through(
    storage: str, request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A loaded machine wakes later than asked: admissions must still fit the token bucket.

    Two budgets on one storage (two workers; one shared object in memory), two threads each, every wait
    0.3 s longer than asked. A thread notes its admission a little after it was made, so the check
    allows one request of slack.
    """
    real_sleep = time.sleep
    monkeypatch.setattr(_ratelimit.time, "sleep", lambda seconds: real_sleep(seconds + 0.3))
    key = fresh_key()
    rules = _ratelimit.Aimd(10.0, 5, 0.0)  # 10 requests/s, burst 5
    if storage == "memory":
        shared = _ratelimit._MemoryBudget(rules)
        budgets = [shared, shared]
    elif storage == "sqlite":
        budgets = [_ratelimit._SQLiteBudget(rules, f"{tmp_path}/budget.db", key) for _ in range(2)]
    else:
        url = request.getfixturevalue("redis_url")
        budgets = [_ratelimit._RedisBudget(rules, redis.Redis.from_url(url), key) for _ in range(2)]
    stamps: list[float] = []
    failures: list[str] = []

    def take(budget: _ratelimit.Budget) -> None:
        for _ in range(10):
            if not budget.try_acquire(key, timeout=30):
                failures.append("the budget stayed spent for 30 s")
                return
            stamps.append(time.monotonic())

    threads = [threading.Thread(target=take, args=(budget,)) for budget in budgets for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=90)

    assert not failures and not any(t.is_alive() for t in threads)
    assert len(stamps) == 40
    assert above_the_bucket(stamps, 10.0, 5) <= 1


# --- Three workers, one Redis budget, the sandbox's per-user limit -----------------------------

WORKER = textwrap.dedent("""
    import json, os, sys, time
    from airflow_provider_srconnect.operators.srconnect import SRConnectFetchLogsOperator

    start, end, path, ready, go = sys.argv[1:6]
    export = SRConnectFetchLogsOperator(
        task_id="export", path=path, window_start=start, window_end=end, include_logs="failed", page_size=20
    )
    export.hook._limiter  # reach the budget's storage before the start signal
    open(ready, "w").close()
    deadline = time.monotonic() + 120
    while not os.path.exists(go):
        if time.monotonic() > deadline:
            sys.exit("no start signal within 120 s")
        time.sleep(0.01)
    print(json.dumps({"path": export.execute({})}))
""")


def connection(url: str, storage: str) -> str:
    return json.dumps(
        {
            "conn_type": "srconnect",
            "host": url,
            "login": DEFAULT_EMAIL,
            "password": DEFAULT_API_KEY,
            "extra": {
                "team_id": DEFAULT_TEAM,
                "rate_limit_per_second": BUDGET_RATE,
                "burst": BUDGET_RATE,
                "rate_limit_storage": storage,
                "max_retry_wait": 120,
            },
        }
    )


def run_workers(sandbox: SandboxServer, storage: str, starts: list[pendulum.DateTime], folder: Path) -> list[Path]:
    """Start one export process per window, release them together once all are ready; their archives."""
    env = {
        **os.environ,
        "AIRFLOW_CONN_SRCONNECT_DEFAULT": connection(sandbox.url, storage),
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
        "PYTHONPATH": str(REPO_ROOT),
    }
    go = folder / "go"
    paths = [folder / f"window-{n}.jsonl.gz" for n in range(len(starts))]
    ready = [folder / f"ready-{n}" for n in range(len(starts))]
    workers: list[subprocess.Popen[str]] = []
    try:
        for start, path, flag in zip(starts, paths, ready, strict=True):
            argv = [start.isoformat(), (start + WINDOW).isoformat(), str(path), str(flag), str(go)]
            workers.append(
                subprocess.Popen(
                    [sys.executable, "-c", WORKER, *argv],
                    env=env,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                    start_new_session=True,
                )
            )
        deadline = time.monotonic() + 120
        while not all(flag.exists() for flag in ready):
            assert all(w.poll() is None for w in workers), "a worker exited before it was ready"
            assert time.monotonic() < deadline, "the workers were not ready within 120 s"
            time.sleep(0.05)
        go.touch()
        for worker, path in zip(workers, paths, strict=True):
            out, err = worker.communicate(timeout=240)
            assert worker.returncode == 0, err[-3000:]
            assert Path(json.loads(out.splitlines()[-1])["path"]) == path
    finally:
        for worker in workers:
            stop_process_group(worker)
    return paths


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    """A sandbox on real time with the per-user limit of a small paid plan."""
    config = SandboxConfig(seed=5, invocations_per_hour=15, rate_limit_per_second=SANDBOX_RATE, burst=SANDBOX_RATE)
    with SandboxServer(config) as server:
        yield server


@pytest.fixture
def windows() -> list[pendulum.DateTime]:
    """Three adjacent windows of a settled day well inside SRC's retention."""
    day = pendulum.today("UTC").subtract(days=5)
    return [day + WINDOW * n for n in range(WORKERS)]


def archived_ids(paths: list[Path]) -> list[list[str]]:
    return [[json.loads(line)[IDS] for line in gzip.decompress(p.read_bytes()).splitlines()] for p in paths]


@pytest.mark.parametrize(
    "shared",
    [pytest.param(True, id="one-redis-budget"), pytest.param(False, id="control-a-budget-per-process")],
)
def test_three_workers_sharing_a_redis_budget_stay_within_the_users_limit(
    shared: bool,
    sandbox: SandboxServer,
    windows: list[pendulum.DateTime],
    request: pytest.FixtureRequest,
    tmp_path: Path,
) -> None:
    storage = request.getfixturevalue("redis_url") if shared else "memory"

    paths = run_workers(sandbox, storage, windows, tmp_path)

    truth = [[r[IDS] for r in sandbox.ground_truth.invocations(DEFAULT_TEAM, s, s + WINDOW)] for s in windows]
    assert archived_ids(paths) == truth and all(truth)
    stats = sandbox.stats
    assert stats.requests_total >= 3 * 15, "too little traffic to say anything about a shared budget"
    if shared:
        assert stats.throttled == 0, stats.by_status
        # One bucket of 8/s and a burst of 8 for all three: at most 8 + 8 admitted within one second (arrivals
        # may bunch by one on a loaded machine); the sandbox's bucket allows 20.
        assert stats.peak_rate <= 2 * BUDGET_RATE + 1
    else:
        # Three budgets of 8/s each against a limit of 10/s: the sandbox sees it (and the hook rides it out).
        assert stats.throttled > 0
