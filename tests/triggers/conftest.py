"""Fixtures of the trigger tests: a sandbox with a fixed clock, windows chosen from its ground truth."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator

import pendulum
import pytest

from airflow_provider_srconnect import contract
from airflow_provider_srconnect.sandbox import (
    DEFAULT_API_KEY,
    DEFAULT_EMAIL,
    DEFAULT_TEAM,
    SandboxConfig,
    SandboxServer,
)
from airflow_provider_srconnect.windows import LogWindow
from tests.sensors.conftest import Clock, clock, src_conn

__all__ = ["NOW", "clock", "sandbox", "sandbox_conn", "src_conn", "windows"]

#: The sandbox's fixed "now", and the time the sensor and the trigger see (the ``clock`` fixture).
NOW = dt.datetime(2026, 3, 10, 12, 30, tzinfo=dt.UTC)
_MINUTE = dt.timedelta(minutes=1)


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    """A sandbox on 127.0.0.1 whose clock stands at ``NOW``, without rate limit."""
    server = SandboxServer(SandboxConfig(now=NOW, rate_limit_per_second=0), host="127.0.0.1").start()
    yield server
    server.stop()


@pytest.fixture
def sandbox_conn(sandbox: SandboxServer, src_conn: Callable[..., str], clock: Clock) -> str:
    """The connection id of the default sandbox user and team; the clock is set to the sandbox's ``NOW``."""
    clock.set(NOW)
    return src_conn(sandbox.url, login=DEFAULT_EMAIL, password=DEFAULT_API_KEY, team_id=DEFAULT_TEAM)


class Windows:
    """Windows of the sandbox's default team, each checked against the ground truth at ``NOW``."""

    def __init__(self, sandbox: SandboxServer) -> None:
        self._truth = sandbox.ground_truth
        #: Ended, not yet settled, and one of its invocations still runs.
        self.running = self._find(running=True)
        #: Ended, not yet settled, holds invocations, none of them running.
        self.quiet = self._find(running=False)
        #: Settled: it ended more than 15 minutes ago.
        end = NOW - contract.MAX_INVOCATION_DURATION - 5 * _MINUTE
        self.past = self._window(end - dt.timedelta(hours=1), end)

    def running_in(self, window: LogWindow) -> list[dict[str, object]]:
        return self._truth.invocations(DEFAULT_TEAM, window.start, window.end, [contract.STATUS_RUNNING])

    def _find(self, *, running: bool) -> LogWindow:
        for minutes in range(1, 15):
            end = NOW - minutes * _MINUTE
            window = self._window(end - 10 * _MINUTE, end)
            holds_invocations = bool(self._truth.invocations(DEFAULT_TEAM, window.start, window.end))
            if holds_invocations and bool(self.running_in(window)) is running:
                return window
        raise AssertionError(f"the sandbox data at {NOW} has no window with running={running}; change NOW")

    @staticmethod
    def _window(start: dt.datetime, end: dt.datetime) -> LogWindow:
        return LogWindow(pendulum.instance(start), pendulum.instance(end))


@pytest.fixture
def windows(sandbox: SandboxServer) -> Windows:
    """The running, quiet and past windows of ``sandbox``."""
    return Windows(sandbox)
