"""The client-side request budget: one per SRC user, shared by every thread and hook in a process,
or by several processes through SQLite (one machine) or Redis (several workers).

Built on pyrate-limiter. The budget is a sliding window of ``burst`` requests per
``burst / rate`` seconds, which never exceeds a server-side token bucket of the same rate and burst.

**A learned rate.** When SRC answers 429 although the client stayed inside its budget, the real limit
is lower than the configured one. The budget then lowers its rate for everyone who shares it (every
thread, and every process through SQLite or Redis) and recovers gradually (``_Aimd``): a 429 multiplies
the rate by ``DECREASE``, at most once per cooldown (one budget window, at least a second, so that the
many requests in flight that get 429 together count once), and the rate grows back by ``RECOVERY`` of
the configured rate per second, computed when read (no background thread). The learned rate is
enforced by the same bucket, with its atomicity and sharing: the bucket counts ``UNITS`` per request
at the full rate and a request takes ``ceil(UNITS * rate / learned)`` of them (pyrate's item weight).
A budget of 20/s against the sandbox's limit of 10/s (8 threads) settles at 9.5-10 requests/s after
the first seconds, on each storage (tests/hooks/test_learned_budget.py).

Two corrections to pyrate-limiter 4.5 live here, each with a test:

- **Fresh timestamps.** After waiting, pyrate's blocking path puts the item again with the timestamp
  it computed (``item.timestamp += slept``), not with the clock's current time. A wait that overslept,
  as it does on a loaded machine, then checks a window that ended in the past and lets through
  requests that others made since: measured with three processes on a shared SQLite or Redis budget
  of 8 requests/s, up to 10 and 13 requests in one second. Every bucket below stamps an item with its
  clock's time when it is put.
- **Redis: one clock, one atomic step.** pyrate's ``RedisBucket`` stamps items with each worker's
  own wall clock and counts only entries up to that stamp, so clock skew between machines, or two
  workers whose check-and-insert interleave, let requests past the budget. ``_RedisBucket`` reads
  the Redis server's ``TIME`` inside its Lua script (one clock for every worker, whatever their own
  clocks say), counts every entry of the window up to ``+inf``, trims old entries and lets the sorted
  set expire when idle (so no leak thread is needed). The script is registered (redis-py loads it
  again after a Redis restart) rather than loaded once. Redis 5 or later (``TIME`` in a writing script).

If Redis cannot be reached, taking from the budget raises redis-py's ``ConnectionError`` after at most
``REDIS_TIMEOUT_SECONDS``: the task fails and Airflow's retries apply; there is no silent fallback to a
budget per process, which could exceed the plan.
"""

from __future__ import annotations

import math
import sqlite3
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from pyrate_limiter import (
    AbstractBucket,
    InMemoryBucket,
    Limiter,
    Rate,
    RateItem,
    RedisBucket,
    SingleBucketFactory,
    SQLiteBucket,
)
from pyrate_limiter.abstracts.algorithm import ADMITTED, Decision

from airflow_provider_srconnect.exceptions import SRConnectParamError

if TYPE_CHECKING:
    from redis import Redis
    from redis.commands.core import Script

_LIMITERS: dict[tuple[str, str, float, int], Budget] = {}
_LOCK = threading.Lock()
#: Seconds a Redis command may take before the request fails (instead of hanging a task).
REDIS_TIMEOUT_SECONDS = 10.0
#: Milliseconds a blocked request sleeps past the moment the budget has room: slack for requests that
#: reach the server later than they were admitted. In one process 10 ms is enough (pyrate's default of
#: 50 makes a spent budget's window last 5% longer at 20 req/s). A budget shared by processes (SQLite,
#: Redis) keeps pyrate's 50: their requests reach the server with independent delays, and with 10 ms
#: three processes on one Redis budget of 8/s put 11 requests into one second at a server of 10/s in
#: about one run of four (tests/test_shared_budget_redis.py).
WAIT_BUFFER_MS = 10
SHARED_WAIT_BUFFER_MS = 50
#: Units of the bucket per request at the configured rate: the finer, the closer a learned rate is kept.
UNITS = 20
#: A 429 inside the budget multiplies its rate by this; the rate then grows back by ``RECOVERY`` x the
#: configured rate per second. Simulated against token buckets at 1/4 to 3/4 of the client's rate (2-16
#: threads), 0.8 and 0.02 keep 92-99% of the server's limit; one decrease is recovered within 10 s.
DECREASE = 0.8
RECOVERY = 0.02
#: The shortest time between two decreases (else one budget window: ``burst / rate`` seconds).
MIN_COOLDOWN_SECONDS = 1.0
#: Seconds a process reuses the learned rate it read from SQLite or Redis.
LEARNED_CACHE_SECONDS = 0.2


class _InMemoryBucket(InMemoryBucket):
    """pyrate's in-memory bucket, stamping each item when it is put."""

    def put(self, item: RateItem) -> bool:
        item.timestamp = self.now()  # type: ignore[no-untyped-call]  # pyrate leaves it unannotated
        return super().put(item)


class _SQLiteBucket(SQLiteBucket):
    """pyrate's SQLite bucket (file-locked, local wall clock), stamping each item when it is put.

    ``put`` runs under the limiter's file lock, so stamps and inserts happen in one order across processes.
    """

    def put(self, item: RateItem) -> bool:
        item.timestamp = self.now()  # type: ignore[no-untyped-call]  # pyrate leaves it unannotated
        return bool(super().put(item))


#: KEYS[1]: the budget's sorted set (member = one request, ``<units>:<name>``, score = its time in ms by
#: Redis' clock). ARGV: weight, member name, then (interval ms, limit) per rate. Returns {failing rate
#: index or -1, score of the entry whose expiry makes room or -1, now}.
_CHECK_AND_INSERT = """
local key = KEYS[1]
local weight = tonumber(ARGV[1])
local name = ARGV[2]
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local function units(member)
    return tonumber(string.match(member, '^(%d+):')) or 1
end
local longest = 0
for i = 3, #ARGV, 2 do
    local interval = tonumber(ARGV[i])
    local limit = tonumber(ARGV[i + 1])
    if interval > longest then longest = interval end
    local entries = redis.call('ZRANGEBYSCORE', key, now - interval, '+inf', 'WITHSCORES')
    local used = 0
    for j = 1, #entries, 2 do used = used + units(entries[j]) end
    if used + weight > limit then
        local blocking = -1
        if weight <= limit then
            local excess = used + weight - limit
            for j = 1, #entries, 2 do
                excess = excess - units(entries[j])
                if excess <= 0 then
                    blocking = tonumber(entries[j + 1])
                    break
                end
            end
        end
        return {(i - 3) / 2, blocking, now}
    end
end
redis.call('ZADD', key, now, weight .. ':' .. name)
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - longest - 1)
redis.call('PEXPIRE', key, 2 * longest + 1000)
return {-1, -1, now}
"""


class _RedisBucket(RedisBucket):
    """A budget in one Redis sorted set, on the Redis server's clock, checked and filled atomically.

    The key is the connection's ``budget_key`` (``srconnect-`` + 16 hex digits of the SHA-256 of the
    SRC user), so every worker of the same user shares it, whatever its connection id. A request is one
    member whatever its weight (its units lead its name), so the set holds at most ``burst`` members.
    """

    is_async = False

    def __init__(self, rates: list[Rate], client: Redis, bucket_key: str) -> None:
        super().__init__(rates, client, bucket_key, script_hash="")
        self._script: Script = client.register_script(_CHECK_AND_INSERT)

    def now(self) -> int:
        """Milliseconds since the epoch by the Redis server's clock (shared by every worker)."""
        seconds, micros = cast("tuple[int, int]", self.redis.time())
        return int(seconds) * 1000 + int(micros) // 1000

    def _check_and_insert(self, item: RateItem) -> Decision:
        args: list[Any] = [item.weight, f"{item.name}:{uuid.uuid4().hex}"]
        for rate in self.rates:
            args += [rate.interval, rate.limit]
        index, blocking, now = (int(v) for v in cast("list[Any]", self._script(keys=[self.bucket_key], args=args)))
        item.timestamp = now
        if index < 0:
            return ADMITTED
        rate = self.rates[index]
        if item.weight > self._algorithm.max_weight(rate):
            return Decision(failing_rate=rate)  # can never fit: waiting() says -1
        return Decision(
            failing_rate=rate,
            retry_after_ms=self._algorithm.retry_after(rate, now, blocking if blocking >= 0 else None),
        )

    def put(self, item: RateItem) -> bool:
        return self._record(item, self._check_and_insert(item))


# --- The learned rate ---------------------------------------------------------------------------

#: A budget's learned state: (rate after the last decrease, time of that decrease in seconds); None: never.
_State = tuple[float, float] | None


@dataclass(frozen=True)
class _Aimd:
    """The learning rule of a budget of ``rate`` requests/s and ``burst``: decrease on 429, recover linearly."""

    rate: float
    burst: int

    @property
    def floor(self) -> float:
        """The lowest rate the units can express: one request per budget window."""
        return self.rate / self.burst

    @property
    def cooldown(self) -> float:
        """Seconds after a decrease in which further 429s (sent before it took effect) are ignored."""
        return max(MIN_COOLDOWN_SECONDS, self.burst / self.rate)

    def current(self, state: _State, now: float) -> float:
        """The learned rate at ``now`` (a clock that went back since the decrease: the configured rate)."""
        if state is None or now < state[1]:
            return self.rate
        return min(self.rate, state[0] + RECOVERY * self.rate * (now - state[1]))

    def decreased(self, state: _State, now: float) -> float | None:
        """The rate to store after a 429 at ``now``; None inside the cooldown or at the floor."""
        if state is not None and 0 <= now - state[1] < self.cooldown:
            return None
        current = self.current(state, now)
        lowered = max(self.floor, DECREASE * current)
        return lowered if lowered < current else None


class _LearnedRate:
    """Where a budget's learned rate lives: read with ``rate()``, lowered after a 429 with ``throttled()``.

    A shared store's value is cached for ``cache_seconds`` per process; ``clock`` gives seconds.
    """

    cache_seconds = 0.0

    def __init__(self, aimd: _Aimd, clock: Callable[[], float]) -> None:
        self.aimd = aimd
        self._clock = clock
        self._lock = threading.Lock()
        self._cached: tuple[float, float] | None = None  # (rate, read at)

    def rate(self) -> float:
        """The learned rate now, in requests per second."""
        now = self._clock()
        with self._lock:
            cached = self._cached
            if cached is not None and 0 <= now - cached[1] < self.cache_seconds:
                return cached[0]
            value = self._read(now)
            self._cached = (value, now)
            return value

    def throttled(self) -> tuple[float, float] | None:
        """Lower the rate after a 429: (old, new) if this call lowered it, else None."""
        with self._lock:
            now = self._clock()
            old, new = self._decrease(now)
            self._cached = (new, now)
        return (old, new) if new < old else None

    def _read(self, now: float) -> float:
        raise NotImplementedError

    def _decrease(self, now: float) -> tuple[float, float]:
        """In one atomic step: (rate before, rate after) a 429 at ``now``."""
        raise NotImplementedError


class _MemoryLearned(_LearnedRate):
    """The learned rate of a budget in this process."""

    def __init__(self, aimd: _Aimd, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(aimd, clock)
        self._state: _State = None

    def _read(self, now: float) -> float:
        return self.aimd.current(self._state, now)

    def _decrease(self, now: float) -> tuple[float, float]:
        old = self.aimd.current(self._state, now)
        lowered = self.aimd.decreased(self._state, now)
        if lowered is None:
            return old, old
        self._state = (lowered, now)
        return old, lowered


class _SQLiteLearned(_LearnedRate):
    """The learned rate of a budget in a table of its SQLite file, on this machine's wall clock."""

    cache_seconds = LEARNED_CACHE_SECONDS
    TABLE = "srconnect_learned_rate"

    def __init__(self, aimd: _Aimd, path: str, key: str, clock: Callable[[], float] = time.time) -> None:
        super().__init__(aimd, clock)
        self._key = key
        # Autocommit; a decrease is one IMMEDIATE transaction, which SQLite serialises across processes.
        self._db = sqlite3.connect(path, timeout=REDIS_TIMEOUT_SECONDS, isolation_level=None, check_same_thread=False)
        self._db.execute(f"CREATE TABLE IF NOT EXISTS {self.TABLE} (key TEXT PRIMARY KEY, rate REAL, at REAL)")

    def _load(self) -> _State:
        row = self._db.execute(f"SELECT rate, at FROM {self.TABLE} WHERE key = ?", (self._key,)).fetchone()
        return None if row is None else (float(row[0]), float(row[1]))

    def _read(self, now: float) -> float:
        return self.aimd.current(self._load(), now)

    def _decrease(self, now: float) -> tuple[float, float]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            state = self._load()
            old = self.aimd.current(state, now)
            lowered = self.aimd.decreased(state, now)
            if lowered is not None:
                self._db.execute(
                    f"INSERT OR REPLACE INTO {self.TABLE} (key, rate, at) VALUES (?, ?, ?)", (self._key, lowered, now)
                )
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        return old, old if lowered is None else lowered


#: KEYS[1]: the learned state, a hash {rate, at (ms)}. ARGV: rate, floor, cooldown ms, then the time in ms
#: (empty: the Redis server's clock). The rule of ``_Aimd`` in one atomic step; returns {old, new} rates.
_DECREASE = """
local rate, floor, cooldown = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local now = tonumber(ARGV[4])
if not now then
    local clock = redis.call('TIME')
    now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
end
local state = redis.call('HMGET', KEYS[1], 'rate', 'at')
local stored, at = tonumber(state[1]), tonumber(state[2])
local current = rate
if stored and at and now >= at then
    current = math.min(rate, stored + RECOVERY * rate * (now - at) / 1000)
    if now - at < cooldown then return {tostring(current), tostring(current)} end
end
local lowered = math.max(floor, DECREASE * current)
if lowered >= current then return {tostring(current), tostring(current)} end
redis.call('HSET', KEYS[1], 'rate', tostring(lowered), 'at', string.format('%.0f', now))
redis.call('PEXPIRE', KEYS[1], math.ceil(1000 * (rate - lowered) / (RECOVERY * rate)) + cooldown)
return {tostring(current), tostring(lowered)}
"""


class _RedisLearned(_LearnedRate):
    """The learned rate of a budget in a Redis hash beside its sorted set, on the Redis server's clock.

    The hash expires once the rate has recovered. ``clock`` (tests) replaces the server's clock.
    """

    cache_seconds = LEARNED_CACHE_SECONDS

    def __init__(self, aimd: _Aimd, client: Redis, key: str, clock: Callable[[], float] | None = None) -> None:
        super().__init__(aimd, clock or time.monotonic)
        self._redis = client
        self._key = key
        self._fixed = clock
        script = _DECREASE.replace("RECOVERY", repr(RECOVERY)).replace("DECREASE", repr(DECREASE))
        self._script: Script = client.register_script(script)

    def _read(self, now: float) -> float:
        pipe = self._redis.pipeline(transaction=False)
        pipe.hmget(self._key, "rate", "at")
        if self._fixed is None:
            pipe.time()
        replies = pipe.execute()
        stored, at = replies[0]
        if self._fixed is None:
            seconds, micros = replies[1]
            now = int(seconds) + int(micros) / 1e6
        state = None if stored is None or at is None else (float(stored), float(at) / 1000)
        return self.aimd.current(state, now)

    def _decrease(self, now: float) -> tuple[float, float]:
        aimd = self.aimd
        args = [aimd.rate, aimd.floor, round(1000 * aimd.cooldown), round(1000 * now) if self._fixed else ""]
        old, new = cast("list[bytes]", self._script(keys=[self._key], args=args))
        return float(old), float(new)


# --- Buckets and limiters --------------------------------------------------------------------------


def _bucket(storage: str, key: str, rates: list[Rate]) -> AbstractBucket:
    if storage == "memory":
        return _InMemoryBucket(rates)
    if storage.startswith("sqlite:"):
        # sqlite:////abs/path.db -> /abs/path.db; a file lock makes it safe across processes.
        path = storage.split("://", 1)[1]
        return _SQLiteBucket.init_from_file(rates, table=key.replace("-", "_"), db_path=path, use_file_lock=True)
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
    return _RedisBucket(rates, client, key)


def _learned(storage: str, key: str, aimd: _Aimd, bucket: AbstractBucket) -> _LearnedRate:
    if storage == "memory":
        return _MemoryLearned(aimd)
    if isinstance(bucket, _RedisBucket):
        return _RedisLearned(aimd, cast("Redis", bucket.redis), key + ":learned")
    return _SQLiteLearned(aimd, storage.split("://", 1)[1], key)


class Budget(Limiter):
    """pyrate's limiter over one user's budget: a request takes the units of the learned rate."""

    def __init__(self, bucket: AbstractBucket, learned: _LearnedRate, buffer_ms: int) -> None:
        if isinstance(bucket, _RedisBucket):
            # Its script trims and expires the set itself: no leak thread polling Redis every 10 s.
            super().__init__(SingleBucketFactory(bucket, schedule_leak=False), buffer_ms=buffer_ms)
        else:
            super().__init__(bucket, buffer_ms=buffer_ms)
        self.learned = learned

    def weight(self) -> int:
        """The units one request takes now: ``UNITS`` at the configured rate, more at a learned lower one."""
        aimd = self.learned.aimd
        return min(UNITS * aimd.burst, math.ceil(UNITS * aimd.rate / self.learned.rate() - 1e-9))

    def try_acquire(
        self, name: str = "pyrate", weight: int | None = None, blocking: bool = True, timeout: float = -1
    ) -> bool | Awaitable[bool]:
        """pyrate's ``try_acquire`` of one request (``weight`` None: the learned rate's units)."""
        units = self.weight() if weight is None else weight
        return super().try_acquire(name, units, blocking=blocking, timeout=timeout)

    def throttled(self) -> tuple[float, float] | None:
        """Record a 429 inside the budget: (old rate, new rate) if it lowered the rate, None in the cooldown."""
        return self.learned.throttled()


def get_limiter(storage: str, key: str, rate: float, burst: int) -> Budget:
    """The process-wide limiter of one budget (created on first use)."""
    ident = (storage, key, rate, burst)
    with _LOCK:
        limiter = _LIMITERS.get(ident)
        if limiter is None:
            rates = [Rate(burst * UNITS, max(1, round(1000 * burst / rate)))]
            bucket = _bucket(storage, key, rates)
            buffer_ms = WAIT_BUFFER_MS if storage == "memory" else SHARED_WAIT_BUFFER_MS
            limiter = Budget(bucket, _learned(storage, key, _Aimd(rate, burst), bucket), buffer_ms)
            _LIMITERS[ident] = limiter
        return limiter
