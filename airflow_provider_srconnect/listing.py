"""A window's listing at the rate limit: time slices listed at once, each with its own continuation.

A cursor chain asks for one page per round trip (at 150 ms a call, about 6.7 pages/s, whatever the
budget). ``Listing`` lists the parts of a window (the sub-windows of ``step``) with ``list_workers``
threads inside the connection's one budget:

- Each part's first page is asked for as a sequential listing would. If it is the last page, that is
  the part's listing: a small window costs no extra call.
- Otherwise the page tells the server's order and how much of the part it covered. When the times on
  it run one way (ascending or descending), the part holds enough pages for several slices, and one
  chain cannot reach the budget (``rate * latency`` of that first call), the part is listed again as
  equal time slices, each a listing of its own (``[start, end)`` on the server, filtered exactly by
  ``PageWalk``), concatenated in the server's order. The first page is then one extra call, and each
  slice ends on a partial page. Else the first page's chain goes on, as before.
- Records come out part by part, slice by slice, in the order a sequential listing gives when the
  server sorts by time (the default contract's ``startTime`` sort): each record exactly once, since
  the slices cover the part exactly. Slices that wait their turn spool their pages to a temporary
  file (pickled, zlib level 1); the slice being written holds at most ``LIVE_PAGES`` pages in memory.

The first listing that fails for good stops the others (``_retry.stop_on``) and is raised to the reader.
"""

from __future__ import annotations

import datetime as dt
import heapq
import io
import itertools
import math
import pickle
import tempfile
import threading
import time
import zlib
from collections import deque
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any

from airflow_provider_srconnect import contract
from airflow_provider_srconnect._retry import stop_on

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence

    from airflow_provider_srconnect import _api
    from airflow_provider_srconnect.export import ExportRequest
    from airflow_provider_srconnect.hooks.srconnect import SRConnectHook
    from airflow_provider_srconnect.windows import LogWindow

Record = dict[str, Any]
Page = list[Record]

#: A part is sliced only when its first page suggests at least this many pages per slice.
MIN_PAGES_PER_SLICE = 4
#: Slices per listing thread: more than one evens out parts whose density varies over time.
SLICES_PER_WORKER = 2
#: Pages the slice being written may hold in memory ahead of the writer.
LIVE_PAGES = 4
#: Slice bounds fall on whole seconds (every contract time format can say them exactly).
_SECOND = dt.timedelta(seconds=1)


class _Spool:
    """The pages of one chain, in order: on disk while they wait their turn, in memory once read live.

    A page put before the reader arrives goes to a temporary file (one too deeply nested to pickle stays
    in memory); after it (``live``), to memory, at most ``LIVE_PAGES`` ahead of the reader.
    """

    def __init__(self, lock: threading.Condition) -> None:
        self._lock = lock
        self._file: IO[bytes] | None = None
        self._entries: deque[Page | tuple[int, int]] = deque()  # a page, or its (offset, size) in the file
        self.live = self.done = self.closed = False

    def put(self, page: Page, stopped: Callable[[], bool]) -> None:
        """Append a page (called by the chain's thread); waits while the live reader is ``LIVE_PAGES`` behind."""
        with self._lock:
            live = self.live
        data = None if live else _packed(page)
        with self._lock:
            while self.live and len(self._entries) >= LIVE_PAGES and not stopped():
                self._lock.wait()
            if self.closed:
                return
            if data is None:
                self._entries.append(page)
            else:
                if self._file is None:
                    self._file = tempfile.TemporaryFile()  # noqa: SIM115  # closed by close()
                offset = self._file.seek(0, io.SEEK_END)
                self._file.write(data)
                self._entries.append((offset, len(data)))
            self._lock.notify_all()

    def finish(self) -> None:
        with self._lock:
            self.done = True
            self._lock.notify_all()

    def take(self) -> Page | None:
        """The next page (called under the lock, by the reader); None when none is ready."""
        if not self._entries:
            return None
        self._lock.notify_all()  # the chain may wait for room
        entry = self._entries.popleft()
        if isinstance(entry, list):
            return entry
        assert self._file is not None
        self._file.seek(entry[0])
        page: Page = pickle.loads(zlib.decompress(self._file.read(entry[1])))  # our own file
        return page

    def close(self) -> None:
        self.closed = True
        self._entries.clear()
        if self._file is not None:
            self._file.close()


def _packed(page: Page) -> bytes | None:
    """The page pickled and compressed for the spool file; None if it is nested too deep to pickle."""
    try:
        return zlib.compress(pickle.dumps(page, protocol=pickle.HIGHEST_PROTOCOL), 1)
    except RecursionError:
        return None


@dataclass(order=True)
class _Task:
    """A chain to list: a part's first page (``slot`` -1) or one of its slices; taken lowest first.

    ``start`` and ``end`` are plain UTC datetimes (``contract.plain_utc``).
    """

    part: int
    slot: int
    start: dt.datetime = field(compare=False)
    end: dt.datetime = field(compare=False)
    spool: _Spool | None = field(compare=False, default=None)


class Listing:
    """The records of consecutive parts of a window, listed at once in time slices (see the module).

    Read ``records(0)``, ``records(1)``, ... in order, then ``close()`` (or use it as a context manager).
    """

    def __init__(self, hook: SRConnectHook, parts: Sequence[LogWindow], request: ExportRequest) -> None:
        self._hook = hook
        self._request = request
        self._lock = threading.Condition()
        self._stop = threading.Event()
        self._error: BaseException | None = None
        self._plans: list[list[_Spool] | None] = [None] * len(parts)
        self._tasks = [
            _Task(index, -1, contract.plain_utc(part.fetch_start), contract.plain_utc(part.end))
            for index, part in enumerate(parts)
            if part.fetch_start < part.end
        ]
        for index, part in enumerate(parts):
            if part.fetch_start >= part.end:
                self._plans[index] = []
        self._pending = len(self._tasks)  # tasks queued or running
        self._threads = [
            threading.Thread(target=self._work, name=f"srconnect-list-{n}", daemon=True)
            for n in range(request.list_workers if self._tasks else 0)
        ]
        for thread in self._threads:
            thread.start()

    def __enter__(self) -> Listing:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def records(self, index: int) -> Iterator[Record]:
        """The records of part ``index``, in the server's order."""
        with self._lock:
            while (plan := self._plans[index]) is None:
                self._wait()
        for spool in plan:
            with self._lock:
                spool.live = True
            while (page := self._next_page(spool)) is not None:
                yield from page
            with self._lock:
                spool.close()

    def close(self) -> None:
        """Stop every chain (each sends no further request) and drop what was spooled."""
        self._stop.set()
        with self._lock:
            self._tasks.clear()
            for plan in self._plans:
                for spool in plan or ():
                    spool.close()
            self._lock.notify_all()

    # --- The reader -----------------------------------------------------------------------------

    def _wait(self) -> None:
        """Wait for news under the lock; raise the first chain's failure."""
        if self._error is not None:
            raise self._error
        self._lock.wait()
        if self._error is not None:
            raise self._error

    def _next_page(self, spool: _Spool) -> Page | None:
        with self._lock:
            while True:
                if self._error is not None:
                    raise self._error
                page = spool.take()
                if page is not None or spool.done:
                    return page
                self._wait()

    # --- The chains -----------------------------------------------------------------------------

    def _work(self) -> None:
        with stop_on(self._stop):
            while (task := self._take()) is not None:
                try:
                    self._list(task)
                except BaseException as error:  # handed to the reader
                    with self._lock:
                        if self._error is None and not self._stop.is_set():
                            self._error = error
                        self._stop.set()
                        self._lock.notify_all()
                    return
                with self._lock:
                    self._pending -= 1
                    self._lock.notify_all()

    def _take(self) -> _Task | None:
        with self._lock:
            while not self._tasks:
                if self._pending == 0 or self._stop.is_set():
                    return None
                self._lock.wait()
            return None if self._stop.is_set() else heapq.heappop(self._tasks)

    def _list(self, task: _Task) -> None:
        walk, pages = self._pages(task.start, task.end)
        if task.spool is not None:  # a slice
            self._drain(pages, task.spool)
            return
        began = time.monotonic()
        first = next(pages, [])
        latency = time.monotonic() - began
        bounds = None if walk.done else self._slices(first, walk, task, latency)
        spool = _Spool(self._lock)
        if bounds is None:
            with self._lock:
                self._plans[task.part] = [spool]
                self._lock.notify_all()
            spool.put(first, self._stop.is_set)
            self._drain(pages, spool)
            return
        slices = [_Task(task.part, slot, start, end, _Spool(self._lock)) for slot, (start, end) in enumerate(bounds)]
        with self._lock:
            self._plans[task.part] = [one.spool for one in slices if one.spool is not None]
            for one in slices:
                heapq.heappush(self._tasks, one)
            self._pending += len(slices)
            self._lock.notify_all()

    def _pages(self, start: dt.datetime, end: dt.datetime) -> tuple[_api.PageWalk, Iterator[Page]]:
        r = self._request
        if r.log_type == "audit":
            walk = self._hook.audit_walk(start, end, team_id=r.team_id, page_size=r.page_size)
        else:
            walk = self._hook.invocation_walk(
                start,
                end,
                team_id=r.team_id,
                execution_statuses=r.execution_statuses,
                trigger_types=r.trigger_types,
                page_size=r.page_size,
            )
        return walk, self._hook.pages(walk, r.log_type, r.team_id)

    def _drain(self, pages: Iterator[Page], spool: _Spool) -> None:
        for page in pages:
            if self._stop.is_set():
                return
            spool.put(page, self._stop.is_set)
        spool.finish()

    def _slices(
        self, first: Page, walk: _api.PageWalk, task: _Task, latency: float
    ) -> list[tuple[dt.datetime, dt.datetime]] | None:
        """The slices of the task's span in the server's order; None to go on with the first page's chain."""
        shape = _shape(first, walk, task.start, task.end)
        if shape is None:
            return None
        pages, ascending = shape
        # Enough chains to keep the budget busy when round trips vary: twice what one call's latency says.
        chains = min(self._request.list_workers, math.ceil(2 * self._hook.settings.rate_limit_per_second * latency))
        count = min(chains * SLICES_PER_WORKER, math.floor(pages / MIN_PAGES_PER_SLICE))
        if chains < 2 or count < 2:
            return None
        start, end = task.start, task.end
        inner = {_whole_second(start + (end - start) * n / count) for n in range(1, count)}
        points = [start, *sorted(p for p in inner if start < p < end), end]
        bounds = list(itertools.pairwise(points))
        self._hook.log.info(
            "%s: listing [%s, %s) in %d time slices at once (about %.0f pages; one call took %.0f ms)",
            walk.what,
            task.start,
            task.end,
            len(bounds),
            pages,
            latency * 1000,
        )
        return bounds if ascending else bounds[::-1]


def _shape(first: Page, walk: _api.PageWalk, start: dt.datetime, end: dt.datetime) -> tuple[float, bool] | None:
    """From a listing's first page: about how many pages ``[start, end)`` holds, and whether the times ascend.

    None when the times on the page do not run one way (the server's order is unknown) or cover no time.
    """
    fmt = walk.wire.records.time_format
    times = [contract.parse_time(record[walk.time_field], fmt) for record in first]
    if len(times) < 2 or times[0] == times[-1]:
        return None
    ascending = times[0] < times[-1]
    if any((a > b) if ascending else (a < b) for a, b in itertools.pairwise(times)):
        return None
    covered = (times[-1] - start) if ascending else (end - times[-1])
    if covered <= dt.timedelta(0):
        return None
    return (end - start) / covered, ascending


def _whole_second(moment: dt.datetime) -> dt.datetime:
    return moment - dt.timedelta(microseconds=moment.microsecond)
