"""The client-side request budget: one per SRC user, shared by every thread and hook in a process, or by
several processes through SQLite (one machine) or Redis (several workers).

**A token bucket, as GCRA.** The budget admits what a token bucket of ``rate`` requests/s and ``burst``
tokens admits, kept as one number per budget, the theoretical arrival time ``tat`` of the next request
(GCRA, the generic cell rate algorithm): a request is admitted at ``now`` when ``tat - now`` is at most
the tolerance ``(burst - 1) / rate`` less a safety ``buffer`` (never below 0), and then moves ``tat``
on by ``1 / rate``.
So after a burst the budget refills continuously, as SRC's limit does: n requests take
``(n - burst) / rate`` seconds, where a sliding window of ``burst`` requests per ``burst / rate``
seconds (pyrate-limiter's, used before) took a whole window more: 1.2 x on a listing of 100 pages at
20 req/s. The ``buffer`` keeps a fraction of a token in hand for requests that reach SRC later than
they were admitted (10 ms in one process, 50 ms for a budget shared by processes).

**A learned rate.** When SRC answers 429 although the client stayed inside its budget, the real limit
is lower than the configured one. ``throttled()`` then lowers the budget's rate for everyone who shares
it, and the rate recovers gradually (``Aimd``): a 429 multiplies the rate by ``DECREASE``, at most once
per cooldown (so that the requests in flight that get 429 together count once), and the rate grows back
by ``RECOVERY`` of the configured rate per second, computed when read (no background thread).

**Storage.** One record per budget holds ``tat`` and the learned state, changed in one atomic step:
under a lock in memory (monotonic clock), in one ``BEGIN IMMEDIATE`` transaction of a SQLite file (the
machine's wall clock), or in one Lua script in Redis, on the Redis server's clock (``TIME``), so that
clock skew between workers cannot let requests past the budget. The Redis hash expires once idle and
recovered. If Redis cannot be reached, taking from the budget raises redis-py's ``ConnectionError`` after
at most ``REDIS_TIMEOUT_SECONDS``: the task fails and Airflow's retries apply; there is no silent fallback
to a budget per process, which could exceed the plan.
"""

from __future__ import annotations

import math
import sqlite3
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from airflow_provider_srconnect.exceptions import SRConnectParamError

if TYPE_CHECKING:
    from collections.abc import Callable

    from redis import Redis

_LIMITERS: dict[tuple[str, str, float, int], Budget] = {}
_LOCK = threading.Lock()
#: Seconds a Redis or SQLite step may take before the request fails (instead of hanging a task).
REDIS_TIMEOUT_SECONDS = 10.0
#: Seconds of the rate kept in hand for requests that reach SRC later than they were admitted: in one
#: process 10 ms is enough; a budget shared by processes keeps 50 ms (their requests reach the server
#: with independent delays; measured with three processes on one Redis budget in
#: tests/test_shared_budget_redis.py).
BUFFER_SECONDS = 0.010
SHARED_BUFFER_SECONDS = 0.050
#: A 429 inside the budget multiplies its rate by ``DECREASE``; the rate then grows back by ``RECOVERY``
#: x the configured rate per second. Against a token bucket at half the client's rate (8 threads) they
#: keep 95-99% of the server's limit, and recover from one decrease within 10 s.
DECREASE = 0.8
RECOVERY = 0.02
#: The shortest time between two decreases (else one budget window: ``burst / rate`` seconds).
MIN_COOLDOWN_SECONDS = 1.0
#: The lowest learned rate, as a share of the configured one.
FLOOR = 1 / 16
#: The longest a blocked ``try_acquire`` sleeps before it looks again.
POLL_SECONDS = 0.25

#: A budget's record: (tat, learned rate after the last decrease or None, time of that decrease or None).
State = tuple[float, float | None, float | None]


@dataclass(frozen=True)
class Aimd:
    """The rules of a budget of ``rate`` requests/s and ``burst``: GCRA admission, and learning from 429s.

    Times are seconds on the budget's clock. Pure: each storage applies these in one atomic step.
    """

    rate: float
    burst: int
    buffer: float

    @property
    def floor(self) -> float:
        return self.rate * FLOOR

    @property
    def cooldown(self) -> float:
        """Seconds after a decrease in which further 429s (sent before it took effect) are ignored."""
        return max(MIN_COOLDOWN_SECONDS, self.burst / self.rate)

    def current(self, state: State | None, now: float) -> float:
        """The learned rate at ``now`` (a clock that went back since the decrease: the configured rate)."""
        if state is None or state[1] is None or state[2] is None or now < state[2]:
            return self.rate
        return min(self.rate, state[1] + RECOVERY * self.rate * (now - state[2]))

    def take(self, state: State | None, now: float) -> tuple[State | None, float]:
        """Admit one request at ``now``: (the new state, 0.0), or (None, seconds to wait) if it must wait."""
        interval = 1.0 / self.current(state, now)
        tat = now if state is None else max(state[0], now)
        early = tat - now - max(0.0, (self.burst - 1) * interval - self.buffer)
        if early > 0:
            return None, early
        learned = (None, None) if state is None else state[1:]
        return (tat + interval, *learned), 0.0

    def throttle(self, state: State | None, now: float) -> tuple[State | None, float, float]:
        """A 429 at ``now``: (the new state or None if unchanged, rate before, rate after)."""
        old = self.current(state, now)
        if state is not None and state[2] is not None and 0 <= now - state[2] < self.cooldown:
            return None, old, old
        lowered = max(self.floor, DECREASE * old)
        if lowered >= old:
            return None, old, old
        return (now if state is None else state[0], lowered, now), old, lowered


class Budget:
    """One user's budget: ``try_acquire`` takes a request from it, ``throttled`` records a 429 inside it."""

    def __init__(self, rules: Aimd, clock: Callable[[], float]) -> None:
        self.rules = rules
        self._clock = clock

    def try_acquire(self, name: str = "", blocking: bool = True, timeout: float = -1.0) -> bool:
        """Take one request; wait for it at most ``timeout`` s (negative: as long as it takes, False: none)."""
        deadline = None if blocking and timeout < 0 else time.monotonic() + (timeout if blocking else 0.0)
        while True:
            wait = self._take()
            if wait <= 0:
                return True
            left = math.inf if deadline is None else deadline - time.monotonic()
            if wait > left:
                return False
            time.sleep(min(wait, POLL_SECONDS))

    def throttled(self) -> tuple[float, float] | None:
        """Record a 429 inside the budget: (old rate, new rate) if it lowered the rate, else None."""
        old, new = self._throttle()
        return (old, new) if new < old else None

    def rate(self) -> float:
        """The rate the budget allows now (the learned one)."""
        return self.rules.current(self._load(), self._clock())

    def _take(self) -> float:
        raise NotImplementedError

    def _throttle(self) -> tuple[float, float]:
        raise NotImplementedError

    def _load(self) -> State | None:
        raise NotImplementedError


class _MemoryBudget(Budget):
    """A budget of this process (every thread and hook of it), on the monotonic clock."""

    def __init__(self, rules: Aimd, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(rules, clock)
        self._state: State | None = None
        self._lock = threading.Lock()

    def _take(self) -> float:
        with self._lock:
            state, wait = self.rules.take(self._state, self._clock())
            if state is not None:
                self._state = state
            return wait

    def _throttle(self) -> tuple[float, float]:
        with self._lock:
            state, old, new = self.rules.throttle(self._state, self._clock())
            if state is not None:
                self._state = state
            return old, new

    def _load(self) -> State | None:
        return self._state


class _SQLiteBudget(Budget):
    """A budget in a table of a SQLite file, for the processes of one machine, on its wall clock."""

    TABLE = "srconnect_budget"

    def __init__(self, rules: Aimd, path: str, key: str, clock: Callable[[], float] = time.time) -> None:
        super().__init__(rules, clock)
        self._key = key
        self._lock = threading.Lock()  # one connection, used by one thread at a time
        # Autocommit; each step is one IMMEDIATE transaction, which SQLite serialises across processes.
        self._db = sqlite3.connect(path, timeout=REDIS_TIMEOUT_SECONDS, isolation_level=None, check_same_thread=False)
        self._db.execute(
            f"CREATE TABLE IF NOT EXISTS {self.TABLE} (key TEXT PRIMARY KEY, tat REAL, rate REAL, at REAL)"
        )

    def _load(self) -> State | None:
        row = self._db.execute(f"SELECT tat, rate, at FROM {self.TABLE} WHERE key = ?", (self._key,)).fetchone()
        return None if row is None else (float(row[0]), row[1], row[2])

    def _step(self, change: Callable[[State | None, float], tuple[State | None, Any]]) -> Any:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                state, result = change(self._load(), self._clock())
                if state is not None:
                    self._db.execute(
                        f"INSERT OR REPLACE INTO {self.TABLE} (key, tat, rate, at) VALUES (?, ?, ?, ?)",
                        (self._key, *state),
                    )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            return result

    def _take(self) -> float:
        return cast("float", self._step(self.rules.take))

    def _throttle(self) -> tuple[float, float]:
        def change(state: State | None, now: float) -> tuple[State | None, tuple[float, float]]:
            new_state, old, new = self.rules.throttle(state, now)
            return new_state, (old, new)

        return cast("tuple[float, float]", self._step(change))


#: KEYS[1]: the budget, a hash {tat, rate, at} (seconds on the Redis server's clock). ARGV: op ("take" or
#: "throttle"), rate, burst, buffer, floor, cooldown, decrease, recovery, then the time in seconds (empty:
#: the server's clock). The rules of ``Aimd`` in one atomic step. Returns {wait} or {old, new} as text.
_SCRIPT = """
local op = ARGV[1]
local rate, burst, buffer = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local floor, cooldown = tonumber(ARGV[5]), tonumber(ARGV[6])
local decrease, recovery = tonumber(ARGV[7]), tonumber(ARGV[8])
local now = tonumber(ARGV[9])
if not now then
    local clock = redis.call('TIME')
    now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
end
local saved = redis.call('HMGET', KEYS[1], 'tat', 'rate', 'at')
local tat, learned, at = tonumber(saved[1]), tonumber(saved[2]), tonumber(saved[3])
local current = rate
if learned and at and now >= at then
    current = math.min(rate, learned + recovery * rate * (now - at))
end
local function keep()
    local idle = 1
    if tat and tat > now then idle = idle + tat - now end
    if learned and at then idle = idle + math.max(0, (rate - learned) / (recovery * rate) - (now - at)) end
    redis.call('PEXPIRE', KEYS[1], math.ceil(1000 * idle))
end
if op == 'take' then
    local interval = 1 / current
    local next = now
    if tat and tat > now then next = tat end
    local early = next - now - math.max(0, (burst - 1) * interval - buffer)
    if early > 0 then return {tostring(early)} end
    tat = next + interval
    redis.call('HSET', KEYS[1], 'tat', tostring(tat))
    keep()
    return {'0'}
end
if learned and at and now - at >= 0 and now - at < cooldown then return {tostring(current), tostring(current)} end
local lowered = math.max(floor, decrease * current)
if lowered >= current then return {tostring(current), tostring(current)} end
learned, at = lowered, now
if not tat then tat = now end
redis.call('HSET', KEYS[1], 'tat', tostring(tat), 'rate', tostring(learned), 'at', tostring(at))
keep()
return {tostring(current), tostring(lowered)}
"""


class _RedisBudget(Budget):
    """A budget in one Redis hash, shared by every worker of the SRC user, on the Redis server's clock.

    The key is the connection's ``budget_key`` (``srconnect-`` + 16 hex digits of the SHA-256 of the SRC
    user), so every worker of the same user shares it, whatever its connection id. The script is
    registered (redis-py loads it again after a Redis restart) rather than loaded once. Redis 5 or later
    (``TIME`` in a writing script). ``clock`` (tests) replaces the server's clock.
    """

    def __init__(self, rules: Aimd, client: Redis, key: str, clock: Callable[[], float] | None = None) -> None:
        super().__init__(rules, clock or time.time)
        self.redis = client
        self._key = key
        self._fixed = clock
        self._script = client.register_script(_SCRIPT)

    def _run(self, op: str) -> list[float]:
        r = self.rules
        now = repr(self._fixed()) if self._fixed is not None else ""
        args: list[str | float] = [op, r.rate, r.burst, r.buffer, r.floor, r.cooldown, DECREASE, RECOVERY, now]
        return [float(v) for v in cast("list[bytes]", self._script(keys=[self._key], args=args))]

    def _take(self) -> float:
        return self._run("take")[0]

    def _throttle(self) -> tuple[float, float]:
        old, new = self._run("throttle")
        return old, new

    def _load(self) -> State | None:
        tat, rate, at = self.redis.hmget(self._key, "tat", "rate", "at")
        if tat is None:
            return None
        return float(tat), None if rate is None else float(rate), None if at is None else float(at)

    def rate(self) -> float:
        seconds, micros = self.redis.time()
        now = self._fixed() if self._fixed is not None else int(seconds) + int(micros) / 1e6
        return self.rules.current(self._load(), now)


def _budget(storage: str, key: str, rules: Aimd) -> Budget:
    if storage == "memory":
        return _MemoryBudget(rules)
    if storage.startswith("sqlite:"):
        # sqlite:////abs/path.db -> /abs/path.db
        return _SQLiteBudget(rules, storage.split("://", 1)[1], key)
    try:
        import redis
    except ImportError:
        raise SRConnectParamError(
            "connection extra 'rate_limit_storage'",
            "needs the redis package",
            "Install airflow-provider-srconnect[redis].",
        ) from None
    client = redis.Redis.from_url(
        storage, socket_timeout=REDIS_TIMEOUT_SECONDS, socket_connect_timeout=REDIS_TIMEOUT_SECONDS
    )
    return _RedisBudget(rules, client, key)


def get_limiter(storage: str, key: str, rate: float, burst: int) -> Budget:
    """The process-wide budget of one SRC user on one storage (created on first use)."""
    ident = (storage, key, rate, burst)
    with _LOCK:
        budget = _LIMITERS.get(ident)
        if budget is None:
            buffer = BUFFER_SECONDS if storage == "memory" else SHARED_BUFFER_SECONDS
            budget = _budget(storage, key, Aimd(rate, burst, buffer))
            _LIMITERS[ident] = budget
        return budget
