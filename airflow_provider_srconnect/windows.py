"""Log windows: the half-open UTC interval ``[start, end)`` a task archives.

A window comes from the DAG run's data interval, or from explicit overrides, and is checked
before any request: empty, reversed, future and expired windows fail with a message that says
what to change. SRC keeps logs for six months, so a window is clipped to what SRC still serves.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import pendulum

from airflow_provider_srconnect import contract
from airflow_provider_srconnect.exceptions import SRConnectParamError

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

OnExpired = Literal["fail", "skip"]
ON_EXPIRED_VALUES: tuple[OnExpired, ...] = ("fail", "skip")


class SRConnectWindowExpiredError(SRConnectParamError):
    """The whole window is older than SRC's retention; nothing can be archived any more."""


@dataclass(frozen=True)
class LogWindow:
    """A half-open UTC window ``[start, end)``.

    ``served_from`` is set when SRC's retention has already cut the window's beginning: records
    are read from there, while keys and manifests keep naming the whole window.
    """

    start: pendulum.DateTime
    end: pendulum.DateTime
    served_from: pendulum.DateTime | None = None

    @property
    def fetch_start(self) -> pendulum.DateTime:
        """Where reading starts: the window's start, or the retention horizon inside it."""
        return self.served_from or self.start

    @property
    def retention_note(self) -> str | None:
        """What the manifest says about retention, if it cut the window."""
        if self.served_from is None:
            return None
        return f"SRC keeps {contract.RETENTION_MONTHS} months: records before {self.served_from} were already gone"

    @property
    def settled_at(self) -> pendulum.DateTime:
        """When no invocation that started in the window can still be running (SRC stops them at 15 min)."""
        return self.end + contract.MAX_INVOCATION_DURATION

    def split(self, step: dt.timedelta | None) -> Iterator[LogWindow]:
        """Consecutive sub-windows of at most ``step`` that cover this window exactly once, in order.

        Retention applies to each part: a part wholly before ``served_from`` reads nothing.
        """
        check_step(step)
        if step is None:
            yield self
            return
        cursor = self.start
        while cursor < self.end:
            upper = min(cursor + step, self.end)
            yield LogWindow(cursor, upper, self.served_from if self.served_from and self.served_from > cursor else None)
            cursor = upper

    def label(self) -> str:
        """Compact, sortable text of the window for object keys: ``20261126T000000Z_20261127T000000Z``."""
        return f"{_compact(self.start)}_{_compact(self.end)}"


def _compact(moment: pendulum.DateTime) -> str:
    text = moment.strftime("%Y%m%dT%H%M%S")
    return f"{text}.{moment.microsecond // 1000:03d}Z" if moment.microsecond else f"{text}Z"


def _utc(name: str, value: Any) -> pendulum.DateTime:
    if isinstance(value, str):
        try:
            value = pendulum.parse(value)
        except ValueError:
            raise SRConnectParamError(
                name, f"{value!r} is not an ISO-8601 time", "Use e.g. 2026-11-01T00:00:00+00:00."
            ) from None
    if not isinstance(value, dt.datetime):
        raise SRConnectParamError(
            name,
            f"expected a datetime or ISO-8601 text, got {type(value).__name__}",
            "Pass e.g. '{{ data_interval_start }}' or a pendulum datetime.",
        )
    if value.tzinfo is None:
        raise SRConnectParamError(name, f"{value} has no time zone", "Give an aware time, e.g. with tz='UTC'.")
    # Through the standard library first: pendulum reads a local time in a DST gap as another instant.
    return pendulum.instance(value.astimezone(dt.UTC)).in_timezone("UTC")


def check_step(step: object) -> None:
    """Check a ``step``: None (the whole window at once) or a positive ``timedelta``."""
    if step is None:
        return
    if not isinstance(step, dt.timedelta):
        raise SRConnectParamError(
            "step", f"expected a timedelta or None, got {type(step).__name__}", "Use e.g. timedelta(hours=1)."
        )
    if step <= dt.timedelta(0):
        raise SRConnectParamError("step", f"must be positive, got {step}", "Use e.g. timedelta(hours=1).")


def check_on_expired(value: object) -> None:
    """Check the ``on_expired`` choice."""
    if value not in ON_EXPIRED_VALUES:
        raise SRConnectParamError("on_expired", f"unknown value {value!r}", "Use 'fail' or 'skip'.")


def resolve_window(
    context: Mapping[str, Any],
    window_start: Any = None,
    window_end: Any = None,
    *,
    on_expired: OnExpired = "fail",
    allow_future: bool = False,
    now: dt.datetime | None = None,
) -> LogWindow | None:
    """The window a task archives: overrides win over the run's data interval.

    ``allow_future`` lets a sensor take a window that has not ended yet. Returns None when the
    window is past retention and ``on_expired="skip"``; raises
    ``SRConnectParamError`` (or ``SRConnectWindowExpiredError``) otherwise.
    """
    check_on_expired(on_expired)
    raw_start = window_start if window_start not in (None, "") else context.get("data_interval_start")
    raw_end = window_end if window_end not in (None, "") else context.get("data_interval_end")
    if raw_start is None or raw_end is None:
        raise SRConnectParamError(
            "window_start/window_end",
            "this run has no data interval (a manual run of a DAG without a schedule?) and no override",
            "Give window_start and window_end, or run the DAG on a schedule.",
        )
    start, end = _utc("window_start", raw_start), _utc("window_end", raw_end)
    if start == end:
        raise SRConnectParamError(
            "data interval",
            f"the window [{start}, {end}) is empty",
            "On Airflow 3 a "
            "cron schedule gives runs without an interval; schedule the DAG with "
            "CronDataIntervalTimetable (or a timedelta), or pass window_start/window_end.",
        )
    if end < start:
        raise SRConnectParamError("window_end", f"{end} is before window_start {start}", "Swap or fix the bounds.")
    current = pendulum.instance(now) if now else pendulum.now("UTC")
    if end > current and not allow_future:
        raise SRConnectParamError(
            "window_end",
            f"{end} is in the future (now {current})",
            "Archive a window only once it has ended; run the task after the interval.",
        )
    horizon = current.subtract(months=contract.RETENTION_MONTHS)
    if end <= horizon:
        if on_expired == "skip":
            return None
        raise SRConnectWindowExpiredError(
            "window",
            f"[{start}, {end}) is older than SRC's {contract.RETENTION_MONTHS}-month retention (limit {horizon})",
            "Those logs are gone from SRC; set on_expired='skip' to pass such runs.",
        )
    return LogWindow(start, end, served_from=horizon if start < horizon else None)
