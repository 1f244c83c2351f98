"""The retry policy of every SRC request, as one tenacity configuration for both hooks.

Retried: 429 (waiting at least ``Retry-After``), 5xx, transport failures, refused download URLs and
damaged downloads. Never retried: other 4xx, contract violations and bad parameters. A 429 is no failed
attempt (the budget learns from it, see ``_ratelimit``): ``max_retries`` counts the other failures, and
the total wait, 429s included, is bounded by ``max_retry_wait``; the last error is raised, saying how
long the hook tried. A host that refuses connections is retried for ``UNREACHABLE_RETRY_SECONDS`` only:
the task then fails with the host in its error line, and Airflow's own retries (minutes apart) take over.

A stop flag (``stop_on``) ends the work of a task's log fetches once one of them failed for good:
requests check it before they are sent (``check_stop``), and retry waits wake when it is set. It is
a context variable, set in the fetch threads by the export, so it reaches the hook without changing
any signature and never touches requests of other tasks.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, NoReturn

from tenacity import retry_if_exception, wait_random_exponential
from tenacity.stop import stop_base

from airflow_provider_srconnect._api import is_retryable
from airflow_provider_srconnect.exceptions import (
    SRConnectCancelledError,
    SRConnectRateLimitError,
    SRConnectUnreachableError,
)

if TYPE_CHECKING:
    from tenacity import RetryCallState

_STOP: ContextVar[threading.Event | None] = ContextVar("srconnect_stop", default=None)

#: How long one request retries a host that refuses connections, before the task fails (Airflow retries it).
UNREACHABLE_RETRY_SECONDS = 10.0
#: Full-jitter exponential backoff: a wait drawn from [0, min(cap, base * 2**attempt)].
BACKOFF_BASE_SECONDS = 0.5
BACKOFF_CAP_SECONDS = 30.0


class WaitRetryAfterOrJitter:
    """Exponential backoff with full jitter, but never less than what a 429's ``Retry-After`` asks.

    ``Retry-After`` is a floor, not a promise: a server that keeps answering 429 after the wait it
    named (or names 0 during a storm) meets a backoff that grows, instead of a client that retries
    at its pace until the retries are gone.
    """

    def __init__(self, base: float = BACKOFF_BASE_SECONDS, cap: float = BACKOFF_CAP_SECONDS) -> None:
        self._cap = cap
        self._jitter = wait_random_exponential(multiplier=base, max=cap)

    def __call__(self, state: RetryCallState) -> float:
        backoff = float(self._jitter(state))
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, SRConnectRateLimitError) and exc.retry_after is not None:
            return min(max(exc.retry_after, backoff), self._cap)
        return backoff


class StopBeforeTotalWait(stop_base):
    """Stop when the next wait would take the time spent on one request past ``limit`` seconds."""

    def __init__(self, limit: float) -> None:
        self._limit = limit

    def __call__(self, state: RetryCallState) -> bool:
        spent = max(state.idle_for, state.seconds_since_start or 0.0)
        return spent + (state.upcoming_sleep or 0.0) > self._limit


class StopAfterFailures(stop_base):
    """Stop after ``limit`` failed attempts, not counting 429s (their waits are bounded by ``StopBeforeTotalWait``)."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._throttled: weakref.WeakKeyDictionary[RetryCallState, int] = weakref.WeakKeyDictionary()

    def failed(self, state: RetryCallState) -> int:
        """The attempts of ``state`` that failed other than with a 429, so far."""
        return state.attempt_number - self._throttled.get(state, 0)

    def __call__(self, state: RetryCallState) -> bool:
        if isinstance(state.outcome.exception() if state.outcome else None, SRConnectRateLimitError):
            self._throttled[state] = self._throttled.get(state, 0) + 1
            return False
        return self.failed(state) >= self._limit


@contextmanager
def stop_on(event: threading.Event) -> Iterator[None]:
    """Within the block (in this thread), SRC requests and retry waits end once ``event`` is set."""
    token = _STOP.set(event)
    try:
        yield
    finally:
        _STOP.reset(token)


def stoppable() -> bool:
    """Whether the current thread runs inside a ``stop_on`` block."""
    return _STOP.get() is not None


def stopped() -> bool:
    """Whether the stop flag of the current ``stop_on`` block is set (False outside any)."""
    event = _STOP.get()
    return event is not None and event.is_set()


def check_stop(what: str) -> None:
    """Raise ``SRConnectCancelledError`` instead of sending ``what`` once the stop flag is set."""
    if stopped():
        raise SRConnectCancelledError(f"{what} was not sent: another log fetch of this task failed for good")


def pause(seconds: float) -> None:
    """The retry policy's sleep: ``seconds``, or less when the stop flag is set meanwhile."""
    event = _STOP.get()
    if event is None:
        time.sleep(seconds)
    else:
        event.wait(seconds)


class StopUnreachableAfter(stop_base):
    """Stop when a host that refuses connections would be retried past ``limit`` seconds in all."""

    def __init__(self, limit: float) -> None:
        self._limit = limit

    def __call__(self, state: RetryCallState) -> bool:
        if not isinstance(state.outcome.exception() if state.outcome else None, SRConnectUnreachableError):
            return False
        return (state.seconds_since_start or 0.0) + (state.upcoming_sleep or 0.0) > self._limit


class StopWhenStopped(stop_base):
    """Stop retrying once the stop flag of the current ``stop_on`` block is set."""

    def __call__(self, state: RetryCallState) -> bool:
        return stopped()


def _give_up(state: RetryCallState) -> NoReturn:
    exc = state.outcome.exception() if state.outcome else None
    assert exc is not None
    exc.args = (
        f"{exc.args[0]} (gave up after {state.attempt_number} attempts in {state.seconds_since_start or 0:.1f} s)",
        *exc.args[1:],
    )
    raise exc


def retry_kwargs(
    max_retries: int, max_total_wait: float, log: logging.Logger | Any, *, blocking: bool = True
) -> dict[str, Any]:
    """Keyword arguments for ``tenacity.Retrying`` (``blocking``) or ``AsyncRetrying``: the one policy of both hooks.

    The blocking policy sleeps with ``pause``, which wakes when the stop flag is set; both stop retrying then.
    """

    failures = StopAfterFailures(max_retries + 1)

    def before_sleep(state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        wait = state.next_action.sleep if state.next_action else 0.0
        if isinstance(exc, SRConnectRateLimitError):
            log.warning(
                "%s; trying again in %.1f s (throttling is bounded by max_retry_wait, not max_retries)", exc, wait
            )
        else:
            log.warning("%s; retry %d of %d in %.1f s", exc, failures.failed(state), max_retries, wait)

    policy: dict[str, Any] = {
        "retry": retry_if_exception(is_retryable),
        "wait": WaitRetryAfterOrJitter(),
        "stop": failures
        | StopBeforeTotalWait(max_total_wait)
        | StopUnreachableAfter(UNREACHABLE_RETRY_SECONDS)
        | StopWhenStopped(),
        "before_sleep": before_sleep,
        "retry_error_callback": _give_up,
    }
    if blocking:
        policy["sleep"] = pause
    return policy
