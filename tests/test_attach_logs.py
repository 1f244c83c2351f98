"""Log attachment: a rolling window of fetches that keeps the order, bounds what is held and fails fast."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from airflow_provider_srconnect import contract
from airflow_provider_srconnect.export import CONSOLE_LINES_KEY, LOG_WINDOW, ExportRequest, _attach_logs

F = contract.InvocationField
#: How long a test waits for a thread before it calls the behaviour broken.
PATIENCE_S = 10.0


class Hook:
    """Console logs only; ``gate(n)`` runs inside the fetch of record ``n`` (to block or fail it)."""

    contract = contract.DEFAULT

    def __init__(self, gate: Callable[[int], None] = lambda n: None) -> None:
        self.gate = gate
        self.started: list[int] = []
        self.finished: list[int] = []
        self.running = self.most_running = 0
        self._lock = threading.Lock()

    def get_console_logs(self, invocation: str) -> list[dict[str, Any]]:
        n = int(invocation.removeprefix("inv-"))
        with self._lock:
            self.started.append(n)
            self.running += 1
            self.most_running = max(self.most_running, self.running)
        try:
            self.gate(n)
        finally:
            with self._lock:
                self.running -= 1
                self.finished.append(n)
        return [{"message": f"line of {n}"}]

    def get_http_logs(self, invocation: str) -> list[dict[str, Any]]:
        raise AssertionError("the records have no HTTP logs")


class Source:
    """Records 0..count-1, counting how many the export has pulled."""

    def __init__(self, count: int, failed_every: int = 0) -> None:
        self.count = count
        self.failed_every = failed_every
        self.pulled = 0

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for n in range(self.count):
            self.pulled += 1
            failed = bool(self.failed_every) and n % self.failed_every == 0
            yield {
                F.ID: f"inv-{n}",
                F.EXECUTION_STATUS: "FUNCTION_ERROR" if failed else "FINISHED",
                F.CONSOLE_LOGS: 1,
                F.HTTP_LOGS: 0,
            }


def until(condition: Callable[[], bool]) -> bool:
    deadline = time.monotonic() + PATIENCE_S
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


@pytest.mark.parametrize(("include_logs", "failed_every"), [("all", 0), ("failed", 3)])
def test_records_come_out_in_their_order_whatever_order_fetches_finish_in(include_logs: str, failed_every: int) -> None:
    hook = Hook(lambda n: time.sleep(random.uniform(0, 0.004)))
    source = Source(3 * LOG_WINDOW + 5, failed_every)
    out = list(_attach_logs(hook, source, ExportRequest(include_logs=include_logs, log_workers=6)))  # type: ignore[arg-type]

    assert [r[F.ID] for r in out] == [f"inv-{n}" for n in range(source.count)]
    with_logs = [int(r[F.ID].removeprefix("inv-")) for r in out if CONSOLE_LINES_KEY in r]
    assert with_logs == [n for n in range(source.count) if not failed_every or n % failed_every == 0]
    assert sorted(hook.started) == with_logs


def test_held_records_and_running_fetches_are_bounded() -> None:
    hook = Hook(lambda n: time.sleep(random.uniform(0, 0.002)))
    source = Source(5 * LOG_WINDOW)
    held = []
    for taken, _ in enumerate(_attach_logs(hook, source, ExportRequest(include_logs="all", log_workers=4)), 1):  # type: ignore[arg-type]
        held.append(source.pulled - taken)

    assert max(held) < LOG_WINDOW
    assert hook.most_running <= 4


def test_a_slow_fetch_does_not_hold_back_the_fetches_after_it() -> None:
    """While one fetch is stuck, the window rolls past the batch boundary a batch barrier would stop at."""
    stuck = 5
    release = threading.Event()
    hook = Hook(lambda n: release.wait(3 * PATIENCE_S) if n == stuck else None)
    source = Source(3 * LOG_WINDOW)
    records = _attach_logs(hook, source, ExportRequest(include_logs="all", log_workers=4))  # type: ignore[arg-type]
    got = [next(records) for _ in range(stuck)]  # the records before the stuck one are ready

    consumer = threading.Thread(target=lambda: got.extend(records))
    consumer.start()
    # A batch barrier would stop at record 31 (31 fetches done); the window rolls on to 36.
    rolled = until(lambda: len(hook.finished) == stuck + LOG_WINDOW - 1)
    release.set()
    consumer.join(PATIENCE_S)

    assert rolled
    assert [r[F.ID] for r in got] == [f"inv-{n}" for n in range(source.count)]


def test_a_failed_fetch_raises_at_once_and_cancels_the_fetches_not_started() -> None:
    """Record 3 fails while 0-2 hold every other worker: the error comes before any of them ends."""
    release = threading.Event()

    def gate(n: int) -> None:
        if n == 3:
            until(lambda: len(hook.started) == 4)
            raise RuntimeError("permanent failure of inv-3")
        release.wait(PATIENCE_S)

    hook = Hook(gate)
    source = Source(4 * LOG_WINDOW)
    with pytest.raises(RuntimeError, match="inv-3"):
        list(_attach_logs(hook, source, ExportRequest(include_logs="all", log_workers=4)))  # type: ignore[arg-type]
    raised_before_release = not release.is_set()
    release.set()

    assert raised_before_release
    assert until(lambda: len(hook.finished) == len(hook.started))
    time.sleep(0.1)  # a cancelled fetch that started anyway would show here
    # The worker freed by 3 may take record 4 before the cancel lands; nothing after it starts.
    assert sorted(hook.started) in ([0, 1, 2, 3], [0, 1, 2, 3, 4])
    assert source.pulled <= LOG_WINDOW


def test_a_consumer_that_stops_early_cancels_the_queued_fetches() -> None:
    """The window fills behind record 0; closing after it drops the ~30 fetches still queued."""
    release = threading.Event()
    source = Source(2 * LOG_WINDOW)

    def gate(n: int) -> None:
        if n == 0:
            until(lambda: source.pulled == LOG_WINDOW)
        else:
            release.wait(PATIENCE_S)

    hook = Hook(gate)
    records = _attach_logs(hook, source, ExportRequest(include_logs="all", log_workers=2))  # type: ignore[arg-type]
    assert next(records)[F.ID] == "inv-0"
    records.close()
    release.set()

    assert until(lambda: len(hook.finished) == len(hook.started))
    time.sleep(0.1)
    assert sorted(hook.started) in ([0, 1], [0, 1, 2])  # 2 only if a worker took it before the close
    assert source.pulled == LOG_WINDOW
