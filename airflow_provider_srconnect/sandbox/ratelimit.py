"""Per-user token buckets (SRC counts its API rate limit per user, per second)."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable


class TokenBucket:
    """``capacity`` tokens, refilled at ``rate`` per second; one request takes one token."""

    def __init__(self, capacity: int, rate: float, now: float) -> None:
        self.capacity = capacity
        self.rate = rate
        self.tokens = float(capacity)
        self.updated = now

    def take(self, now: float) -> float:
        """Take a token: 0.0 if granted, else the seconds until one is available."""
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate


class RateLimiter:
    """One bucket per user; ``rate`` of 0 or None lets everything through."""

    def __init__(self, rate: float | None, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate or 0.0
        self.burst = burst
        self._clock = clock
        self._buckets: dict[str, TokenBucket] = {}
        self._lock = threading.Lock()

    def acquire(self, user: str) -> int | None:
        """None if the request may go on, else the Retry-After in whole seconds (at least 1)."""
        if self.rate <= 0:
            return None
        with self._lock:
            now = self._clock()
            bucket = self._buckets.get(user)
            if bucket is None:
                bucket = self._buckets[user] = TokenBucket(self.burst, self.rate, now)
            wait = bucket.take(now)
        return None if wait == 0.0 else max(1, math.ceil(wait))
