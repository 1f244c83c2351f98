"""Properties that must hold for any input: window arithmetic, and pagination under random faults.

Windows are built as local times in zones with DST changes (ambiguous times both ways) and near
month ends, then taken as instants. Pagination runs the real hook against one sandbox per test, with
fault rates, a fault seed, the window, page size, filters and pagination scheme drawn per example.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import json
import math
from collections.abc import Iterator
from typing import Any
from zoneinfo import ZoneInfo

import pendulum
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from airflow_provider_srconnect import contract
from airflow_provider_srconnect.export import archive_keys
from airflow_provider_srconnect.hooks.srconnect import SRConnectHook
from airflow_provider_srconnect.sandbox import (
    DEFAULT_API_KEY,
    DEFAULT_EMAIL,
    DEFAULT_TEAM,
    SandboxConfig,
    SandboxServer,
)
from airflow_provider_srconnect.windows import LogWindow, resolve_window

SETTINGS = settings(max_examples=25, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
UTC = dt.UTC
ZONES = ("Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata", "UTC")
#: Local times where window arithmetic goes wrong first: DST changes (2026) and month ends.
ANCHORS = (
    dt.datetime(2026, 3, 8, 2),  # New York springs forward
    dt.datetime(2026, 3, 29, 2),  # Berlin springs forward
    dt.datetime(2026, 10, 4, 2),  # Lord Howe: half-hour DST
    dt.datetime(2026, 10, 25, 2, 30),  # Berlin falls back: 02:30 happens twice
    dt.datetime(2026, 11, 1, 1, 30),  # New York falls back
    dt.datetime(2026, 1, 31, 23, 59),
    dt.datetime(2026, 2, 28, 23, 59),
    dt.datetime(2028, 2, 29, 12),
    dt.datetime(2026, 12, 31, 23, 59, 59),
)
#: The most sub-windows one split example may make.
MAX_PARTS = 2_000


def _exists(local: dt.datetime) -> bool:
    """Whether an aware local time exists (is not skipped by a DST change)."""
    return local.astimezone(UTC).astimezone(local.tzinfo).replace(tzinfo=None) == local.replace(tzinfo=None)


@st.composite
def local_times(draw: st.DrawFn) -> dt.datetime:
    """An aware, existing local time in one of ``ZONES``, often near a DST change or a month end."""
    naive = draw(
        st.one_of(
            st.builds(
                lambda anchor, offset: anchor + offset,
                st.sampled_from(ANCHORS),
                st.timedeltas(min_value=dt.timedelta(hours=-3), max_value=dt.timedelta(hours=3)),
            ),
            st.datetimes(min_value=dt.datetime(2025, 1, 1), max_value=dt.datetime(2028, 12, 31)),
        )
    )
    local = naive.replace(tzinfo=ZoneInfo(draw(st.sampled_from(ZONES))), fold=draw(st.integers(0, 1)))
    if not _exists(local):
        local += dt.timedelta(hours=1)  # past the gap, as a clock would read it
    return local


def utc(moment: dt.datetime) -> pendulum.DateTime:
    """The same instant as a UTC pendulum time (how windows hold their bounds)."""
    return pendulum.instance(moment.astimezone(UTC))


def span(window: LogWindow) -> dt.timedelta:
    """The window's length as a stdlib timedelta (pendulum's cannot be divided by one)."""
    return dt.datetime.fromisoformat(window.end.isoformat()) - dt.datetime.fromisoformat(window.start.isoformat())


@st.composite
def windows(draw: st.DrawFn) -> LogWindow:
    """A non-empty window between two local times, with retention cutting it or not."""
    a, b = draw(local_times()), draw(local_times())
    start, end = sorted((utc(a), utc(b)))
    if start == end:
        end = end.add(seconds=1)
    served_from = None
    if draw(st.booleans()):
        served_from = start + (end - start) * draw(st.floats(0.01, 0.99))
    return LogWindow(start, end, served_from if served_from and served_from > start else None)


@st.composite
def windows_and_steps(draw: st.DrawFn) -> tuple[LogWindow, dt.timedelta]:
    """A window and a step that splits it into at most ``MAX_PARTS`` parts (often at an odd microsecond)."""
    window = draw(windows())
    length = span(window)
    shortest = max(length / MAX_PARTS, dt.timedelta(microseconds=1))
    step = draw(
        st.one_of(
            st.sampled_from([dt.timedelta(minutes=15), dt.timedelta(hours=1), dt.timedelta(days=1)]),
            st.timedeltas(min_value=shortest, max_value=length * 2),
        )
    )
    return window, max(step, shortest)


# --- Window arithmetic ----------------------------------------------------------------------------


@SETTINGS
@given(windows_and_steps())
def test_split_covers_any_window_exactly_once(case: tuple[LogWindow, dt.timedelta]) -> None:
    window, step = case
    parts = list(window.split(step))

    assert len(parts) == math.ceil(span(window) / step)
    assert parts[0].start == window.start and parts[-1].end == window.end
    assert all(before.end == after.start for before, after in itertools.pairwise(parts))
    assert all(p.start < p.end and span(p) <= step for p in parts)
    assert all(span(p) == step for p in parts[:-1])
    assert all(p.start.utcoffset() == dt.timedelta(0) for p in parts)
    # Retention: each part reads from the horizon on, so together they read [fetch_start, end) once.
    assert all(p.fetch_start == max(p.start, window.fetch_start) for p in parts)
    read = [(p.fetch_start, p.end) for p in parts if p.fetch_start < p.end]
    assert read[0][0] == window.fetch_start and read[-1][1] == window.end
    assert all(before[1] == after[0] for before, after in itertools.pairwise(read))


@st.composite
def data_intervals(draw: st.DrawFn) -> tuple[Any, Any, dt.datetime]:
    """A data interval as a DAG run or a user gives it (aware stdlib or pendulum times, or ISO text), and a now."""
    a, b = draw(local_times()), draw(local_times())
    start, end = sorted((a, b), key=lambda m: m.astimezone(UTC))
    if start.astimezone(UTC) == end.astimezone(UTC):
        # In UTC: wall-clock arithmetic drops the fold, so 02:30 (second) + 1 s would be the first 02:30:01.
        end = (end.astimezone(UTC) + dt.timedelta(seconds=1)).astimezone(end.tzinfo)
    now = end.astimezone(UTC) + draw(st.timedeltas(dt.timedelta(0), dt.timedelta(days=400)))
    form = draw(st.sampled_from(["stdlib", "pendulum", "text"]))
    if form == "pendulum":
        return pendulum.instance(start.astimezone(UTC)).in_tz(str(start.tzinfo)), utc(end).in_tz("Asia/Tokyo"), now
    if form == "text":
        return start.isoformat(), end.isoformat(), now
    return start, end, now


@SETTINGS
@given(data_intervals())
def test_resolve_window_returns_the_input_instants_in_utc(case: tuple[Any, Any, dt.datetime]) -> None:
    start, end, now = case
    horizon = pendulum.instance(now).subtract(months=contract.RETENTION_MONTHS)
    # As UTC instants: Python never finds an ambiguous local time equal to a time in another zone (PEP 495).
    expected_start, expected_end = (
        (pendulum.parse(m) if isinstance(m, str) else m).astimezone(UTC) for m in (start, end)
    )

    if expected_end <= horizon:
        assert resolve_window({}, start, end, on_expired="skip", now=now) is None
        return
    window = resolve_window({"data_interval_start": start, "data_interval_end": end}, now=now)

    assert window is not None
    assert window.start == expected_start and window.end == expected_end and window.start < window.end
    assert window.start.utcoffset() == window.end.utcoffset() == dt.timedelta(0)
    assert window.served_from == (horizon if expected_start < horizon else None)


@st.composite
def whole_second_windows(draw: st.DrawFn) -> LogWindow:
    """A window whose bounds are whole seconds, as data intervals are."""
    window = draw(windows())
    start, end = window.start.replace(microsecond=0), window.end.replace(microsecond=0)
    return LogWindow(start, end if end > start else start.add(seconds=1))


def resolved(window: LogWindow, zone: str) -> LogWindow:
    """``window`` as ``resolve_window`` makes it from a data interval given in ``zone``."""
    found = resolve_window(
        {"data_interval_start": window.start.in_tz(zone), "data_interval_end": window.end.in_tz(zone).isoformat()},
        now=window.end.add(days=1),
    )
    assert found is not None
    return found


@SETTINGS
@given(st.lists(whole_second_windows(), min_size=2, max_size=8), st.sampled_from(["invocations", "audit"]))
def test_archive_keys_are_deterministic_and_sort_like_time(found: list[LogWindow], log_type: str) -> None:
    keys = [archive_keys("srconnect/archive", log_type, resolved(w, "UTC")).data for w in found]
    by_time = sorted(found, key=lambda w: (w.start, w.end))

    for zone in ("Europe/Berlin", "America/New_York"):  # the same instants in any zone: the same keys
        assert [archive_keys("srconnect/archive", log_type, resolved(w, zone)).data for w in found] == keys
    assert all(f"/dt={w.start.date().isoformat()}/{w.label()}." in k for w, k in zip(found, keys, strict=True))
    assert sorted(w.label() for w in found) == [w.label() for w in by_time]
    assert sorted(keys) == [archive_keys("srconnect/archive", log_type, w).data for w in by_time]


@pytest.mark.xfail(
    strict=True,
    reason="known and kept: a whole second renders 'T000000Z', a fraction 'T000000.001Z', and '.' sorts before "
    "'Z'; fixing it would change every key. Keys stay unique and deterministic; only windows that start "
    "within the same second list out of time order (data intervals are whole seconds)",
)
def test_labels_within_one_second_sort_like_time() -> None:
    start = pendulum.datetime(2026, 11, 1, tz="UTC")
    whole = LogWindow(start, start.add(hours=1))
    later = LogWindow(start.add(microseconds=1000), start.add(hours=1))

    assert sorted([later.label(), whole.label()]) == [whole.label(), later.label()]


def test_resolve_window_keeps_a_time_in_a_dst_gap() -> None:
    gap = dt.datetime(2026, 3, 29, 2, 30, tzinfo=ZoneInfo("Europe/Berlin"))  # clocks jump 02:00 -> 03:00
    end = dt.datetime(2026, 3, 30, tzinfo=UTC)

    window = resolve_window({}, gap, end, now=dt.datetime(2026, 4, 1, tzinfo=UTC))

    # Compared as instants: Python never calls a time in a gap equal to a time in another zone (PEP 495).
    assert window is not None and window.start.timestamp() == gap.timestamp()


# --- Pagination under random faults ---------------------------------------------------------------

NOW = dt.datetime(2026, 3, 10, 12, 30, tzinfo=UTC)
#: Every 6th hour of the sandbox starts with an invocation at exactly :00:00.000; 2026-03-08 12:00 is one.
BOUNDARY = dt.datetime(2026, 3, 8, 12, tzinfo=UTC)
FAULT_RATE = st.floats(0.0, 0.3)


#: The pagination schemes the pagination property draws from: contract overrides, served and read alike.
SCHEMES: dict[str, dict[str, Any]] = {
    "cursor": {},
    "page number": {"pagination": {"style": "page", "param": "page", "next_field": None, "last_page": "short"}},
}


@pytest.fixture(scope="module")
def sandboxes() -> Iterator[dict[str, SandboxServer]]:
    """One sandbox per scheme for the module (fixed clock, no rate limit); each example sets its own faults."""
    with contextlib.ExitStack() as stack:
        yield {
            name: stack.enter_context(
                SandboxServer(
                    SandboxConfig(
                        now=NOW, rate_limit_per_second=0, invocations_per_hour=40, contract=contract.load(override)
                    )
                )
            )
            for name, override in SCHEMES.items()
        }


@pytest.fixture(scope="module")
def sandbox(sandboxes: dict[str, SandboxServer]) -> SandboxServer:
    """The sandbox of the default contract."""
    return sandboxes["cursor"]


@contextlib.contextmanager
def hook_on(server: SandboxServer, override: dict[str, Any] | None = None) -> Iterator[SRConnectHook]:
    """A hook on ``server`` (with its contract ``override``) and retries enough for any drawn fault rate."""
    extra = {
        "team_id": DEFAULT_TEAM,
        "rate_limit_per_second": 1000,
        "max_retries": 60,
        "max_retry_wait": 10**6,
        "contract": override or {},
    }
    conn = {"conn_type": "srconnect", "host": server.url, "login": DEFAULT_EMAIL, "password": DEFAULT_API_KEY}
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AIRFLOW_CONN_SRCONNECT_PROPERTIES", json.dumps({**conn, "extra": extra}))
        yield SRConnectHook(srconnect_conn_id="srconnect_properties")


@st.composite
def listings(draw: st.DrawFn) -> dict[str, Any]:
    """A window (microsecond bounds, up to 3 h, near the sandbox's past), a page size, filters and a scheme."""
    start = BOUNDARY + draw(st.timedeltas(dt.timedelta(hours=-30), dt.timedelta(hours=30)))
    end = start + draw(st.timedeltas(dt.timedelta(microseconds=1), dt.timedelta(hours=3)))
    statuses = draw(st.none() | st.lists(st.sampled_from(contract.EXECUTION_STATUSES), min_size=1, unique=True))
    return {
        "start": start,
        "end": end,
        "page_size": draw(st.integers(1, contract.DEFAULT.pagination.size_max)),
        "execution_statuses": statuses,
        "scheme": draw(st.sampled_from(["cursor", "page number"])),
    }


@st.composite
def fault_settings(draw: st.DrawFn) -> dict[str, float | int]:
    """Rates of the faults a retry can cure, and the seed of their schedule."""
    return {
        "error_rate": draw(FAULT_RATE),
        "reset_rate": draw(FAULT_RATE),
        "truncate_rate": draw(FAULT_RATE),
        "malformed_rate": draw(FAULT_RATE),
        "fault_seed": draw(st.integers(0, 2**32 - 1)),
    }


def test_pagination_equals_the_ground_truth_under_any_fault_schedule(
    sandboxes: dict[str, SandboxServer], mocker: Any
) -> None:
    mocker.patch("tenacity.nap.time.sleep")  # no fault here is time-based
    for server in sandboxes.values():
        server.stats.reset()

    @SETTINGS
    @given(listing=listings(), faults=fault_settings())
    @example(  # a window ending a microsecond after a record: `to` must round up, not down
        listing={
            "start": BOUNDARY - dt.timedelta(hours=1),
            "end": BOUNDARY + dt.timedelta(microseconds=500),
            "page_size": 7,
            "execution_statuses": None,
            "scheme": "cursor",
        },
        faults={"error_rate": 0.0, "reset_rate": 0.0, "truncate_rate": 0.0, "malformed_rate": 0.0, "fault_seed": 0},
    )
    def check(listing: dict[str, Any], faults: dict[str, float | int]) -> None:
        sandbox = sandboxes[listing["scheme"]]
        sandbox.faults.clear()
        for name, value in faults.items():
            setattr(sandbox.faults, name, value)
        query = {k: v for k, v in listing.items() if k not in ("start", "end", "scheme")}
        with hook_on(sandbox, SCHEMES[listing["scheme"]]) as hook:
            got = list(hook.iter_invocation_logs(listing["start"], listing["end"], **query))
            truth = sandbox.ground_truth.invocations(
                DEFAULT_TEAM, listing["start"], listing["end"], listing["execution_statuses"]
            )

        assert got == truth

    check()

    assert sum(sum(s.stats.faults.values()) for s in sandboxes.values()) > 0, "no example met a fault"


def test_adjacent_windows_split_at_any_microsecond_read_each_record_once(sandbox: SandboxServer, mocker: Any) -> None:
    mocker.patch("tenacity.nap.time.sleep")

    @SETTINGS
    @given(cut=st.timedeltas(dt.timedelta(microseconds=-2000), dt.timedelta(microseconds=2000)))
    @example(cut=dt.timedelta(microseconds=500))
    def check(cut: dt.timedelta) -> None:
        sandbox.faults.clear()
        start, middle, end = BOUNDARY - dt.timedelta(hours=1), BOUNDARY + cut, BOUNDARY + dt.timedelta(hours=1)
        with hook_on(sandbox) as hook:
            halves = [*hook.iter_invocation_logs(start, middle), *hook.iter_invocation_logs(middle, end)]

        assert halves == sandbox.ground_truth.invocations(DEFAULT_TEAM, start, end)

    check()
