"""Thread-safe counters of what the sandbox answered (for tests and benchmarks)."""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
from collections.abc import Callable

from airflow_provider_srconnect import contract

#: The sliding window of the per-user peak request rate, in seconds.
RATE_WINDOW = 1.0


class Stats:
    """API requests, responses by status, 429s, downloads, injected faults and the peak request rate per user.

    The peak rate of a user is the most API requests (accepted or rejected) that user sent within
    any ``RATE_WINDOW`` seconds; requests without valid credentials belong to no user.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._requests = 0
        self._downloads = 0
        self._statuses: Counter[int] = Counter()
        self._faults: Counter[str] = Counter()
        self._recent: dict[str, deque[float]] = {}
        self._peaks: dict[str, int] = {}

    def record_request(self, user: str | None) -> None:
        """Count one API request, from ``user`` when its credentials were valid."""
        now = self._clock()
        with self._lock:
            self._requests += 1
            if user is None:
                return
            recent = self._recent.setdefault(user, deque())
            recent.append(now)
            while recent and recent[0] <= now - RATE_WINDOW:
                recent.popleft()
            self._peaks[user] = max(self._peaks.get(user, 0), len(recent))

    def record_status(self, status: int) -> None:
        """Count one API response."""
        with self._lock:
            self._statuses[status] += 1

    def record_download(self) -> None:
        """Count one download request."""
        with self._lock:
            self._downloads += 1

    def record_fault(self, kind: str, *, download: bool = False) -> None:
        """Count one injected fault: ``error``, ``reset``, ``truncate``, ``malformed``, ``missing``,
        ``slow``, ``expired_url``, ``storm`` or ``revoked``; prefixed ``download:`` on a download."""
        with self._lock:
            self._faults[f"download:{kind}" if download else kind] += 1

    @property
    def requests_total(self) -> int:
        """API requests received (downloads excluded)."""
        with self._lock:
            return self._requests

    @property
    def by_status(self) -> dict[int, int]:
        """API responses by status code (a copy)."""
        with self._lock:
            return dict(self._statuses)

    @property
    def throttled(self) -> int:
        """API responses with status 429."""
        with self._lock:
            return self._statuses[contract.STATUS_THROTTLED]

    @property
    def downloads(self) -> int:
        """Download requests received."""
        with self._lock:
            return self._downloads

    @property
    def faults(self) -> dict[str, int]:
        """Injected faults by kind (a copy)."""
        with self._lock:
            return dict(self._faults)

    @property
    def peak_rate_per_user(self) -> dict[str, int]:
        """Peak requests within one second, by user e-mail (a copy)."""
        with self._lock:
            return dict(self._peaks)

    @property
    def peak_rate(self) -> int:
        """The highest per-user peak (0 before any authenticated request)."""
        with self._lock:
            return max(self._peaks.values(), default=0)

    def reset(self) -> None:
        """Zero every counter."""
        with self._lock:
            self._requests = self._downloads = 0
            self._statuses.clear()
            self._faults.clear()
            self._recent.clear()
            self._peaks.clear()
