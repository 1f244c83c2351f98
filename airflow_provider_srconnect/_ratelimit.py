"""The client-side request budget: one per SRC user, shared by every thread and hook in a process,
or by several processes through SQLite (one machine) or Redis (several workers).

Built on pyrate-limiter. The budget is a sliding window of ``burst`` requests per
``burst / rate`` seconds, which never exceeds a server-side token bucket of the same rate and burst.

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

import threading
import uuid
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

_LIMITERS: dict[tuple[str, str, float, int], Limiter] = {}
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


#: KEYS[1]: the budget's sorted set (member = one request, score = its time in ms by Redis' clock).
#: ARGV: weight, member name, then (interval ms, limit) per rate. Returns {failing rate index or -1,
#: score of the entry whose expiry makes room or -1, now}.
_CHECK_AND_INSERT = """
local key = KEYS[1]
local weight = tonumber(ARGV[1])
local name = ARGV[2]
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local longest = 0
for i = 3, #ARGV, 2 do
    local interval = tonumber(ARGV[i])
    local limit = tonumber(ARGV[i + 1])
    if interval > longest then longest = interval end
    local used = redis.call('ZCOUNT', key, now - interval, '+inf')
    if limit - used < weight then
        local blocking = -1
        local rank = limit - weight
        if rank >= 0 then
            local entry = redis.call('ZRANGE', key, -1 - rank, -1 - rank, 'WITHSCORES')
            if entry[2] then blocking = tonumber(entry[2]) end
        end
        return {(i - 3) / 2, blocking, now}
    end
end
for n = 1, weight do
    redis.call('ZADD', key, now, name .. n)
end
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - longest - 1)
redis.call('PEXPIRE', key, 2 * longest + 1000)
return {-1, -1, now}
"""


class _RedisBucket(RedisBucket):
    """A budget in one Redis sorted set, on the Redis server's clock, checked and filled atomically.

    The key is the connection's ``budget_key`` (``srconnect-`` + 16 hex digits of the SHA-256 of the
    SRC user), so every worker of the same user shares it, whatever its connection id.
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
        args: list[Any] = [item.weight, f"{item.name}:{uuid.uuid4().hex}:"]
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


def get_limiter(storage: str, key: str, rate: float, burst: int) -> Limiter:
    """The process-wide limiter of one budget (created on first use)."""
    ident = (storage, key, rate, burst)
    with _LOCK:
        limiter = _LIMITERS.get(ident)
        if limiter is None:
            rates = [Rate(burst, max(1, round(1000 * burst / rate)))]
            bucket = _bucket(storage, key, rates)
            buffer_ms = WAIT_BUFFER_MS if storage == "memory" else SHARED_WAIT_BUFFER_MS
            if isinstance(bucket, _RedisBucket):
                # Its script trims and expires the set itself: no leak thread polling Redis every 10 s.
                limiter = Limiter(SingleBucketFactory(bucket, schedule_leak=False), buffer_ms=buffer_ms)
            else:
                limiter = Limiter(bucket, buffer_ms=buffer_ms)
            _LIMITERS[ident] = limiter
        return limiter
