"""Windows from the task context: overrides, fail-fast checks, retention and splitting."""

from __future__ import annotations

import datetime as dt

import pendulum
import pytest

from airflow_provider_srconnect.exceptions import SRConnectParamError
from airflow_provider_srconnect.windows import LogWindow, SRConnectWindowExpiredError, resolve_window

NOW = pendulum.datetime(2026, 11, 27, 12, tz="UTC")
DAY = {
    "data_interval_start": pendulum.datetime(2026, 11, 25, tz="UTC"),
    "data_interval_end": pendulum.datetime(2026, 11, 26, tz="UTC"),
}


def test_the_data_interval_is_the_window():
    window = resolve_window(DAY, now=NOW)

    assert window == LogWindow(DAY["data_interval_start"], DAY["data_interval_end"])
    assert window.fetch_start == window.start and window.retention_note is None
    assert window.settled_at == pendulum.datetime(2026, 11, 26, 0, 15, tz="UTC")


def test_overrides_win_and_may_be_rendered_text_in_any_zone():
    window = resolve_window(
        DAY, "2026-11-20T01:00:00+01:00", pendulum.datetime(2026, 11, 21, tz="Europe/Paris"), now=NOW
    )

    assert (window.start, window.end) == (
        pendulum.datetime(2026, 11, 20, tz="UTC"),
        pendulum.datetime(2026, 11, 20, 23, tz="UTC"),
    )
    assert window.start.timezone_name == "UTC"


@pytest.mark.parametrize(
    ("context", "start", "end", "match"),
    [
        (
            {"data_interval_start": NOW.subtract(days=1), "data_interval_end": NOW.subtract(days=1)},
            None,
            None,
            "CronDataIntervalTimetable",
        ),
        (DAY, "2026-11-26T00:00:00Z", "2026-11-25T00:00:00Z", "before window_start"),
        (DAY, None, "2026-11-28T00:00:00Z", "in the future"),
        ({}, None, None, "no data interval"),
        ({"data_interval_start": None, "data_interval_end": None}, None, None, "no data interval"),
        (DAY, "yesterday", None, "not an ISO-8601 time"),
        (DAY, dt.datetime(2026, 11, 25), None, "no time zone"),
        (DAY, 20261125, None, "expected a datetime"),
    ],
)
def test_bad_windows_fail_fast_saying_what_to_change(context, start, end, match):
    with pytest.raises(SRConnectParamError, match=match):
        resolve_window(context, start, end, now=NOW)


def test_a_future_window_is_allowed_for_sensors():
    window = resolve_window(DAY, None, "2026-11-28T00:00:00Z", allow_future=True, now=NOW)
    assert window is not None and window.end > NOW


def test_a_window_past_retention_fails_or_skips():
    old = {
        "data_interval_start": pendulum.datetime(2026, 5, 1, tz="UTC"),
        "data_interval_end": pendulum.datetime(2026, 5, 2, tz="UTC"),
    }

    with pytest.raises(SRConnectWindowExpiredError, match="on_expired='skip'"):
        resolve_window(old, now=NOW)
    assert resolve_window(old, on_expired="skip", now=NOW) is None
    with pytest.raises(SRConnectParamError, match="'fail' or 'skip'"):
        resolve_window(old, on_expired="ignore", now=NOW)  # type: ignore[arg-type]


def test_a_window_partly_inside_retention_is_served_from_the_horizon():
    context = {
        "data_interval_start": pendulum.datetime(2026, 5, 27, tz="UTC"),
        "data_interval_end": pendulum.datetime(2026, 5, 28, tz="UTC"),
    }

    window = resolve_window(context, now=NOW)

    assert window.start == context["data_interval_start"]
    assert window.fetch_start == pendulum.datetime(2026, 5, 27, 12, tz="UTC")
    assert "6 months" in window.retention_note


def test_split_covers_the_window_exactly_once():
    window = LogWindow(pendulum.datetime(2026, 11, 1, tz="UTC"), pendulum.datetime(2026, 11, 1, 10, 30, tz="UTC"))

    parts = list(window.split(dt.timedelta(hours=4)))

    assert [(p.start.hour, p.end.hour, p.end.minute) for p in parts] == [(0, 4, 0), (4, 8, 0), (8, 10, 30)]
    assert list(window.split(None)) == [window]
    with pytest.raises(SRConnectParamError, match="step"):
        list(window.split(dt.timedelta(0)))
    with pytest.raises(SRConnectParamError, match="timedelta"):
        list(window.split(3600))  # type: ignore[arg-type]


def test_split_applies_retention_to_each_part():
    start = pendulum.datetime(2026, 11, 1, tz="UTC")
    window = LogWindow(start, start.add(hours=12), served_from=start.add(hours=5))

    parts = list(window.split(dt.timedelta(hours=4)))

    assert [p.fetch_start.hour for p in parts] == [5, 5, 8]
    assert parts[0].fetch_start >= parts[0].end  # wholly past retention: reads nothing


def test_labels_sort_like_time_and_keep_milliseconds():
    window = LogWindow(
        pendulum.datetime(2026, 11, 1, tz="UTC"), pendulum.datetime(2026, 11, 1, 0, 0, 0, 5000, tz="UTC")
    )
    assert window.label() == "20261101T000000Z_20261101T000000.005Z"
