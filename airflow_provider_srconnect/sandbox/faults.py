"""Faults injected at runtime: server errors, broken bodies, slowness, throttling, revoked keys.

Rates are probabilities in [0, 1], drawn from one RNG (``fault_seed`` makes runs reproducible; a
rate of 0 draws nothing). For each request the first fault that fires wins, in this order:
error (500/502/503/504), then, on a 200 only, reset (headers and half the body, then the socket is
closed), truncate (JSON cut in half, Content-Length matching the cut body), malformed (invalid JSON
of full length) and missing field (a listing without its record list; a bare list becomes ``{}``). ``slow_rate``
delays a response by ``slow_seconds`` independently of those. ``expired_url_rate`` hands out
download URLs that have already expired (as when a URL waits in a queue past its TTL).

A 429 storm (``throttle_for``) answers every API request with 429; its ``Retry-After`` is the time
left, or ``storm_retry_after`` when set (a server that understates the storm). ``revoke`` makes a
key invalid at once or after a number of further requests (a key revoked mid-export).

Downloads (presigned URLs) get error, reset and slow like API calls, as S3 has them too. They are
never throttled or affected by revoked keys (no credentials are involved), get no "missing
field" (a log file is no listing), and get truncate/malformed only for JSON files.

Download faults hit every log file and large message, served by a presigned URL or ``inline`` by the
log endpoint, when no fault above fired; the first that fires wins, in this order (``DOWNLOAD_FAULTS``):
``html`` (a ``200`` HTML page, as from a captive portal or proxy), ``truncate`` (the body cut at a
random byte, ``Content-Length`` matching the cut, the whole file's ``ETag`` kept: the lie only the
ETag can expose, for text as for JSON), ``wrong_etag`` (the whole file, with the MD5 of other bytes
as ETag), ``kms_etag`` (an ETag that looks like an MD5 but is not the file's, the same on every
download, as S3 gives SSE-KMS objects: must pass) and ``gzip`` (the file gzip-encoded, with
``Content-Encoding: gzip`` and the MD5 of the gzip bytes as ETag, as S3 serves an object stored so:
must pass). Without a fault every file carries its MD5 as ETag, as S3 sends.

``break_logs`` makes the log endpoints of one invocation answer a fixed status (a 400 that fails a
log fetch for good, a 503 that keeps it retrying).
"""

from __future__ import annotations

import math
import random
import threading
import time
from typing import Literal

BodyFault = Literal["reset", "truncate", "malformed", "missing"]
DownloadFault = Literal["html", "truncate", "wrong_etag", "kms_etag", "gzip"]
#: The download faults, in the order they are drawn (the rate of each is ``download_{name}_rate``).
DOWNLOAD_FAULTS: tuple[DownloadFault, ...] = ("html", "truncate", "wrong_etag", "kms_etag", "gzip")
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
        expired_url_rate: float = 0.0,
        download_html_rate: float = 0.0,
        download_truncate_rate: float = 0.0,
        download_wrong_etag_rate: float = 0.0,
        download_kms_etag_rate: float = 0.0,
        download_gzip_rate: float = 0.0,
        throttle_until: float = 0.0,
        storm_retry_after: int | None = None,
        fault_seed: int | None = None,
    ) -> None:
        self._lock = threading.Lock()
        self._rng = random.Random(fault_seed)
        self._fault_seed = fault_seed
        self._revoked: set[str] = set()
        #: Keys that stop working after this many more accepted requests.
        self._revoke_countdown: dict[str, int] = {}
        #: Invocation id -> the status its log endpoints answer (``break_logs``).
        self._broken_logs: dict[str, int] = {}
        self.error_rate = error_rate
        self.reset_rate = reset_rate
        self.truncate_rate = truncate_rate
        self.malformed_rate = malformed_rate
        self.missing_field_rate = missing_field_rate
        self.slow_rate = slow_rate
        self.slow_seconds = slow_seconds
        self.expired_url_rate = expired_url_rate
        self.download_html_rate = download_html_rate
        self.download_truncate_rate = download_truncate_rate
        self.download_wrong_etag_rate = download_wrong_etag_rate
        self.download_kms_etag_rate = download_kms_etag_rate
        self.download_gzip_rate = download_gzip_rate
        #: A ``time.monotonic()`` deadline: every API request is answered 429 until then.
        self.throttle_until = throttle_until
        #: The ``Retry-After`` sent during a storm instead of the time left (None: the time left).
        self.storm_retry_after = storm_retry_after

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
        """No faults, no throttling, no revoked keys, no broken logs."""
        self.error_rate = self.reset_rate = self.truncate_rate = 0.0
        self.malformed_rate = self.missing_field_rate = self.slow_rate = 0.0
        self.expired_url_rate = 0.0
        for name in DOWNLOAD_FAULTS:
            setattr(self, f"download_{name}_rate", 0.0)
        self.throttle_until = 0.0
        self.storm_retry_after = None
        with self._lock:
            self._revoked.clear()
            self._revoke_countdown.clear()
            self._broken_logs.clear()

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

    def download_fault(self) -> DownloadFault | None:
        """The download fault to apply to a log file or large message, or None."""
        for name in DOWNLOAD_FAULTS:
            if self.roll(getattr(self, f"download_{name}_rate")):
                return name
        return None

    def cut_at(self, size: int) -> int:
        """Where the ``truncate`` download fault cuts a body of ``size`` bytes: a random byte, never 0 or all."""
        with self._lock:
            return self._rng.randint(1, size - 1) if size > 1 else 0

    def other_md5(self) -> str:
        """The MD5 of other bytes (the ``wrong_etag`` fault): 32 random hex digits."""
        with self._lock:
            return f"{self._rng.getrandbits(128):032x}"

    def break_logs(self, invocation_id: str, status: int) -> None:
        """Answer every log request of ``invocation_id`` (console, HTTP, large message) with ``status``."""
        with self._lock:
            self._broken_logs[invocation_id] = status

    def logs_status(self, invocation_id: str) -> int | None:
        """The status ``break_logs`` set for the invocation's log endpoints, or None."""
        with self._lock:
            return self._broken_logs.get(invocation_id)

    def maybe_sleep(self) -> bool:
        """Sleep ``slow_seconds`` if the slow fault fires; whether it did."""
        if not self.roll(self.slow_rate):
            return False
        time.sleep(self.slow_seconds)
        return True

    def throttle_for(self, seconds: float) -> None:
        """Answer every API request with 429 for the next ``seconds``."""
        self.throttle_until = time.monotonic() + seconds

    def throttle_retry_after(self) -> int | None:
        """Retry-After (whole seconds) while throttled, else None.

        The time left (at least 1), or ``storm_retry_after`` when set, which may understate the storm.
        """
        remaining = self.throttle_until - time.monotonic()
        if remaining <= 0:
            return None
        if self.storm_retry_after is not None:
            return max(0, self.storm_retry_after)
        return max(1, math.ceil(remaining))

    def revoke(self, email: str, *, after: int = 0) -> None:
        """Make the API key of ``email`` invalid (401) until ``restore``.

        :param after: accept this many more requests with the key first (a key revoked mid-export).
        """
        with self._lock:
            if after <= 0:
                self._revoked.add(email)
                self._revoke_countdown.pop(email, None)
            else:
                self._revoke_countdown[email] = after

    def restore(self, email: str) -> None:
        """Undo ``revoke``."""
        with self._lock:
            self._revoked.discard(email)
            self._revoke_countdown.pop(email, None)

    def use_key(self, email: str) -> bool:
        """Whether a request with ``email``'s valid key is accepted; counts down a pending ``revoke``."""
        with self._lock:
            if email in self._revoked:
                return False
            left = self._revoke_countdown.get(email)
            if left is not None:
                if left <= 0:
                    del self._revoke_countdown[email]
                    self._revoked.add(email)
                    return False
                self._revoke_countdown[email] = left - 1
            return True

    def url_expired(self) -> bool:
        """Whether the next download URL is handed out already expired."""
        return self.roll(self.expired_url_rate)

    def is_revoked(self, email: str) -> bool:
        """Whether ``email``'s key is revoked."""
        with self._lock:
            return email in self._revoked
