"""listing.Listing: time slices listed at once give exactly the sequential listing, in its order.

Against the sandbox over HTTP under three contracts (cursor, page numbers, offsets), for both log types,
with ``step`` and Parquet; and with a stub hook for what the sandbox never does (descending or unordered
pages, a slice failing for good).
"""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pendulum
import pytest

from airflow_provider_srconnect import contract
from airflow_provider_srconnect.exceptions import SRConnectServerError
from airflow_provider_srconnect.export import ExportRequest, write_parquet, write_window
from airflow_provider_srconnect.hooks.srconnect import SRConnectHook
from airflow_provider_srconnect.listing import Listing
from airflow_provider_srconnect.sandbox import (
    DEFAULT_API_KEY,
    DEFAULT_EMAIL,
    DEFAULT_TEAM,
    SandboxConfig,
    SandboxServer,
)
from airflow_provider_srconnect.windows import LogWindow

NOW = dt.datetime(2026, 3, 10, 12, 30, tzinfo=dt.UTC)
DAY = LogWindow(pendulum.datetime(2026, 3, 8), pendulum.datetime(2026, 3, 9))
HALF_DAY = LogWindow(DAY.start, DAY.start.add(hours=12))
CONTRACTS = {
    "default": {},
    **{p.stem: json.loads(p.read_text()) for p in sorted((Path(__file__).parent / "contracts").glob("*.json"))},
}


@pytest.fixture(scope="module", params=sorted(CONTRACTS))
def served(request: pytest.FixtureRequest) -> Iterator[tuple[SandboxServer, SRConnectHook]]:
    """A dense sandbox (50 to 100 pages in half a day) with 10 ms per call, and a hook on it, under one contract."""
    override = CONTRACTS[request.param]
    config = SandboxConfig(
        seed=3,
        now=NOW,
        invocations_per_hour=400,
        audit_per_hour=400,
        latency_ms=10,
        rate_limit_per_second=0,
        contract=contract.load(override),
    )
    extra: dict[str, Any] = {"team_id": DEFAULT_TEAM, "rate_limit_per_second": 1000, "burst": 1000}
    if override:
        extra["contract"] = override
    conn = {"conn_type": "srconnect", "login": DEFAULT_EMAIL, "password": DEFAULT_API_KEY, "extra": extra}
    with SandboxServer(config) as server, pytest.MonkeyPatch.context() as mp:
        mp.setenv("AIRFLOW_CONN_SRCONNECT_LISTING", json.dumps({**conn, "host": server.url}))
        yield server, SRConnectHook(srconnect_conn_id="srconnect_listing")


def listed(hook: Any, parts: list[LogWindow], **request: Any) -> list[list[dict[str, Any]]]:
    with Listing(hook, parts, ExportRequest(**request)) as listing:
        return [list(listing.records(index)) for index in range(len(parts))]


@pytest.mark.parametrize("log_type", ["invocations", "audit"])
def test_slices_listed_at_once_are_the_sequential_listing(served, log_type, caplog, capsys):
    server, hook = served
    server.stats.reset()
    sequential = listed(hook, [HALF_DAY], log_type=log_type, list_workers=1)
    calls = server.stats.requests_total
    server.stats.reset()
    with caplog.at_level(logging.INFO):
        sliced = listed(hook, [HALF_DAY], log_type=log_type, list_workers=4)
    assert "time slices at once" in caplog.text + capsys.readouterr().out  # Airflow 3's hook logs to stdout
    assert len(sequential[0]) > 16 * hook.contract.pagination.size_default  # pages enough for slices
    assert sliced == sequential  # every record once, in the same order, field for field
    # The extra calls: the first page, asked again by the first slice, and one partial page per slice.
    assert calls < server.stats.requests_total <= calls + 1 + 8


def test_a_window_of_one_page_costs_one_call(served):
    server, hook = served
    hour = LogWindow(DAY.start, DAY.start.add(minutes=5))
    server.stats.reset()
    [records] = listed(hook, [hour], list_workers=4)
    assert 0 < len(records) < hook.contract.pagination.size_default
    assert server.stats.requests_total == 1


def test_steps_and_parquet_give_the_bytes_of_the_sequential_listing(served):
    _, hook = served
    parts = list(HALF_DAY.split(dt.timedelta(hours=3)))

    def jsonl(workers: int) -> bytes:
        out = io.BytesIO()
        with Listing(hook, parts, ExportRequest(list_workers=workers)) as listing:
            for index, part in enumerate(parts):
                write_window(hook, part, ExportRequest(), out, listing.records(index))
        return out.getvalue()

    def parquet(workers: int) -> list[bytes]:
        files: list[io.BytesIO] = []

        def open_file() -> io.BytesIO:
            files.append(io.BytesIO())
            return files[-1]

        write_parquet(hook, parts, ExportRequest(output_format="parquet", list_workers=workers), open_file)
        return [file.getvalue() for file in files]

    assert jsonl(4) == jsonl(1)
    assert parquet(4) == parquet(1)


# --- A stub hook: orders and failures the sandbox does not serve ----------------------------------------


class StubWalk(SimpleNamespace):
    what = "a stub listing"
    time_field = contract.InvocationField.START_TIME
    wire = contract.DEFAULT


class OrderedHook:
    """One record a minute over ``DAY``, in pages of 10, ascending, descending or shuffled per page."""

    contract = contract.DEFAULT
    settings = SimpleNamespace(rate_limit_per_second=1000.0)
    log = logging.getLogger("tests.listing")

    def __init__(self, order: str = "asc", fail_at: dt.datetime | None = None) -> None:
        self.order = order
        self.fail_at = fail_at
        self.listings: list[tuple[dt.datetime, dt.datetime]] = []
        start = contract.plain_utc(DAY.start)
        self.records = [
            {
                "id": f"inv-{n}",
                contract.InvocationField.START_TIME: contract.format_time(start + dt.timedelta(minutes=n)),
            }
            for n in range(24 * 60)
        ]

    def invocation_walk(self, start: dt.datetime, end: dt.datetime, **query: Any) -> StubWalk:
        return StubWalk(start=start, end=end, done=False)

    def pages(self, walk: StubWalk, log_type: str, team_id: str | None) -> Iterator[list[dict[str, Any]]]:
        self.listings.append((walk.start, walk.end))
        time.sleep(0.01)  # a round trip: one chain cannot reach the budget
        chosen = [r for r in self.records if walk.start <= contract.parse_time(r["startTime"]) < walk.end]
        if self.order == "desc":
            chosen.reverse()
        for at in range(0, len(chosen), 10):
            page = chosen[at : at + 10]
            if self.order == "shuffled":
                page = [page[1], page[0], *page[2:]]
            if self.fail_at is not None and walk.start == self.fail_at:
                raise SRConnectServerError("SRC answered 503 for good", status=503)
            walk.done = at + 10 >= len(chosen)
            yield page
        if not chosen:
            walk.done = True
            yield []


def ids(records: list[dict[str, Any]]) -> list[str]:
    return [record["id"] for record in records]


@pytest.mark.parametrize("order", ["asc", "desc"])
def test_slices_follow_the_order_of_the_first_page(order):
    hook = OrderedHook(order)
    [records] = listed(hook, [DAY], list_workers=4)
    expected = ids(hook.records)
    assert ids(records) == (expected if order == "asc" else expected[::-1])
    assert len(hook.listings) == 1 + 8  # the first page, then 8 slices


def test_pages_in_no_order_are_listed_as_one_chain():
    hook = OrderedHook("shuffled")
    [records] = listed(hook, [DAY], list_workers=4)
    assert sorted(ids(records)) == sorted(ids(hook.records))
    assert hook.listings == [(contract.plain_utc(DAY.start), contract.plain_utc(DAY.end))]


def test_a_slice_that_fails_for_good_fails_the_listing_and_stops_the_others():
    fail_at = contract.plain_utc(DAY.start.add(hours=12))
    hook = OrderedHook(fail_at=fail_at)
    with pytest.raises(SRConnectServerError, match="503 for good"):
        listed(hook, [DAY], list_workers=4)
    deadline = time.monotonic() + 5
    while any(t.name.startswith("srconnect-list") for t in threading.enumerate()):
        assert time.monotonic() < deadline, "a listing thread outlived the failure"
        time.sleep(0.05)


def test_a_reader_that_stops_early_stops_every_chain():
    hook = OrderedHook()
    with Listing(hook, [DAY], ExportRequest(list_workers=4)) as listing:
        first = next(listing.records(0))
    assert first["id"] == "inv-0"
    deadline = time.monotonic() + 5
    while any(t.name.startswith("srconnect-list") for t in threading.enumerate()):
        assert time.monotonic() < deadline, "a listing thread outlived the listing"
        time.sleep(0.05)
