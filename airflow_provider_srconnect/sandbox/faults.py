"""Faults injected at runtime: server errors, broken bodies, slowness, throttling, revoked keys.

Rates are probabilities in [0, 1], drawn from one RNG (``fault_seed`` makes runs reproducible; a
rate of 0 draws nothing). For each request the first fault that fires wins, in this order:
error (500/502/503/504), then, on a 200 only, reset (headers and half the body, then the socket is
closed), truncate (JSON cut in half, Content-Length matching the cut body), malformed (invalid JSON
of full length) and missing field (a listing without ``contract.ITEMS_FIELD``). ``slow_rate``
delays a response by ``slow_seconds`` independently of those.

Downloads (presigned URLs) get error, reset and slow like API calls, as S3 has them too. They are
never throttled or affected by revoked keys (no credentials are involved), get no "missing
field" (a log file has no ``ITEMS_FIELD``), and get truncate/malformed only for JSON files: a
text/plain large message cut short with a matching Content-Length would be undetectable by any
client, so it would only test luck.
"""

from __future__ import annotations

import math
import random
import threading
import time
from typing import Literal

BodyFault = Literal["reset", "truncate", "malformed", "missing"]
ERROR_STATUSES = (500, 502, 503, 504)


class Faults:
    """The mutable fault settings of one sandbox; safe to change while it serves."""

    def __init__(
        self,
        *,
        error_rate: float = 0.0,
        reset_rate: float = 0.0,
        truncate_rate: float = 0.0,
        malformed_rate: float = 0.0,
        missing_field_rate: float = 0.0,
        slow_rate: float = 0.0,
        slow_seconds: float = 1.0,
        throttle_until: float = 0.0,
        fault_seed: int | None = None,
    ) -> None:
        self._lock = threading.Lock()
        self._rng = random.Random(fault_seed)
        self._fault_seed = fault_seed
        self._revoked: set[str] = set()
        self.error_rate = error_rate
        self.reset_rate = reset_rate
        self.truncate_rate = truncate_rate
        self.malformed_rate = malformed_rate
        self.missing_field_rate = missing_field_rate
        self.slow_rate = slow_rate
        self.slow_seconds = slow_seconds
        #: A ``time.monotonic()`` deadline: every API request is answered 429 until then.
        self.throttle_until = throttle_until

    @property
    def fault_seed(self) -> int | None:
        """Seed of the fault RNG; setting it restarts the RNG."""
        return self._fault_seed

    @fault_seed.setter
    def fault_seed(self, value: int | None) -> None:
        with self._lock:
            self._fault_seed = value
            self._rng = random.Random(value)

    def clear(self) -> None:
        """No faults, no throttling, no revoked keys."""
        self.error_rate = self.reset_rate = self.truncate_rate = 0.0
        self.malformed_rate = self.missing_field_rate = self.slow_rate = 0.0
        self.throttle_until = 0.0
        with self._lock:
            self._revoked.clear()

    def roll(self, rate: float) -> bool:
        """True with probability ``rate``."""
        if rate <= 0:
            return False
        with self._lock:
            return self._rng.random() < rate

    def error_status(self) -> int | None:
        """A 5xx status if the error fault fires, else None."""
        if not self.roll(self.error_rate):
            return None
        with self._lock:
            return self._rng.choice(ERROR_STATUSES)

    def body_fault(self, *, json_body: bool, listing: bool) -> BodyFault | None:
        """The fault to apply to a 200 response, or None."""
        if self.roll(self.reset_rate):
            return "reset"
        if json_body and self.roll(self.truncate_rate):
            return "truncate"
        if json_body and self.roll(self.malformed_rate):
            return "malformed"
        if listing and self.roll(self.missing_field_rate):
            return "missing"
        return None

    def maybe_sleep(self) -> None:
        """Sleep ``slow_seconds`` if the slow fault fires."""
        if self.roll(self.slow_rate):
            time.sleep(self.slow_seconds)

    def throttle_for(self, seconds: float) -> None:
        """Answer every API request with 429 for the next ``seconds``."""
        self.throttle_until = time.monotonic() + seconds

    def throttle_retry_after(self) -> int | None:
        """Retry-After (whole seconds, at least 1) while throttled, else None."""
        remaining = self.throttle_until - time.monotonic()
        return max(1, math.ceil(remaining)) if remaining > 0 else None

    def revoke(self, email: str) -> None:
        """Make the API key of ``email`` invalid (401) until ``restore``."""
        with self._lock:
            self._revoked.add(email)

    def restore(self, email: str) -> None:
        """Undo ``revoke``."""
        with self._lock:
            self._revoked.discard(email)

    def is_revoked(self, email: str) -> bool:
        """Whether ``email``'s key is revoked."""
        with self._lock:
            return email in self._revoked
