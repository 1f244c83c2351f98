"""The client-side request budget: one per SRC user, shared by every thread and hook in a process,
or by several processes through SQLite (one machine) or Redis (several workers).

Built on pyrate-limiter. The budget is a sliding window of ``burst`` requests per
``burst / rate`` seconds, which never exceeds a server-side token bucket of the same rate and burst.
"""

from __future__ import annotations

import threading
from urllib.parse import urlsplit

from pyrate_limiter import AbstractBucket, InMemoryBucket, Limiter, Rate, RedisBucket, SQLiteBucket

from airflow_provider_srconnect.exceptions import SRConnectParamError

_LIMITERS: dict[tuple[str, str, float, int], Limiter] = {}
_LOCK = threading.Lock()


def _bucket(storage: str, key: str, rates: list[Rate]) -> AbstractBucket:
    if storage == "memory":
        return InMemoryBucket(rates)
    url = urlsplit(storage)
    if url.scheme == "sqlite":
        # sqlite:////abs/path.db -> /abs/path.db; a file lock makes it safe across processes.
        path = storage.split("://", 1)[1]
        return SQLiteBucket.init_from_file(rates, table=key.replace("-", "_"), db_path=path, use_file_lock=True)
    try:
        import redis
    except ImportError:
        raise SRConnectParamError(
            "connection extra 'rate_limit_storage'",
            "needs the redis package",
            "Install airflow-provider-srconnect[redis].",
        ) from None
    bucket: AbstractBucket = RedisBucket.init(rates, redis.Redis.from_url(storage), key)
    return bucket


def get_limiter(storage: str, key: str, rate: float, burst: int) -> Limiter:
    """The process-wide limiter of one budget (created on first use)."""
    ident = (storage, key, rate, burst)
    with _LOCK:
        limiter = _LIMITERS.get(ident)
        if limiter is None:
            rates = [Rate(burst, max(1, round(1000 * burst / rate)))]
            limiter = _LIMITERS[ident] = Limiter(_bucket(storage, key, rates))
        return limiter
