"""The I/O-free half of the SRC client, shared by the sync and the async hook.

It builds query parameters from the contract (checking them before anything is sent), reads
replies into data or typed errors, and walks paginated listings one page at a time. The hooks
only move bytes.
"""

from __future__ import annotations

import datetime as dt
import difflib
import email.utils
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

from airflow_provider_srconnect import contract
from airflow_provider_srconnect.exceptions import (
    SRConnectAuthError,
    SRConnectContractError,
    SRConnectDownloadExpiredError,
    SRConnectError,
    SRConnectLogsNotStoredError,
    SRConnectNotFoundError,
    SRConnectParamError,
    SRConnectRateLimitError,
    SRConnectRequestError,
    SRConnectServerError,
    SRConnectTransportError,
)

if TYPE_CHECKING:
    from airflow_provider_srconnect._paging import Pagination

Params = list[tuple[str, str]]
#: A guard against a server that never stops paginating: 10 million records at the largest page.
MAX_PAGES = 100_000
_ERROR_TEXT_LIMIT = 300


class Reply(NamedTuple):
    """One HTTP response, transport-neutral."""

    status: int
    headers: Mapping[str, str]
    text: str


# --- Building requests ----------------------------------------------------------------------------


def _ms_ceiling(moment: dt.datetime) -> dt.datetime:
    """The first whole millisecond at or after ``moment``."""
    extra = moment.microsecond % 1000
    return moment + dt.timedelta(microseconds=1000 - extra) if extra else moment


def window_params(start: dt.datetime, end: dt.datetime) -> Params:
    """The half-open time window ``[start, end)`` as query parameters.

    The API counts in milliseconds: ``from`` is rounded down and ``to`` up, so a window with finer
    bounds (a sub-window of an odd ``step``) still asks for every record in it; ``PageWalk`` drops
    the few outside.
    """
    for name, moment in (("start", start), ("end", end)):
        if not isinstance(moment, dt.datetime) or moment.tzinfo is None:
            raise SRConnectParamError(
                name,
                f"expected a timezone-aware datetime, got {moment!r}",
                "Pass e.g. pendulum.datetime(2026, 1, 1, tz='UTC').",
            )
    if start >= end:
        raise SRConnectParamError(
            "start",
            f"the window [{start}, {end}) is empty or reversed",
            "Give a start strictly before the end.",
        )
    return [
        (contract.PARAM_FROM, contract.format_time(start)),
        (contract.PARAM_TO, contract.format_time(_ms_ceiling(end))),
    ]


def _choices(param: str, values: str | Iterable[str] | None, allowed: Sequence[str]) -> list[str]:
    if values is None:
        return []
    chosen = [values] if isinstance(values, str) else list(values)
    for value in chosen:
        if value not in allowed:
            near = difflib.get_close_matches(str(value).upper(), allowed, n=1)
            hint = f"Did you mean {near[0]!r}? " if near else ""
            raise SRConnectParamError(param, f"unknown value {value!r}", f"{hint}Use any of: {', '.join(allowed)}.")
    return chosen


def page_size_param(page_size: object) -> Params:
    if isinstance(page_size, bool) or not isinstance(page_size, int) or not 1 <= page_size <= contract.PAGE_SIZE_MAX:
        raise SRConnectParamError(
            "page_size",
            f"expected a whole number from 1 to {contract.PAGE_SIZE_MAX}, got {page_size!r}",
            f"Use e.g. {contract.PAGE_SIZE_DEFAULT}.",
        )
    return [(contract.PARAM_PAGE_SIZE, str(page_size))]


def invocation_query(
    start: dt.datetime,
    end: dt.datetime,
    *,
    execution_statuses: str | Iterable[str] | None = None,
    trigger_types: str | Iterable[str] | None = None,
    order_by: str = contract.DEFAULT_ORDER_BY,
    order_direction: str = contract.DEFAULT_ORDER_DIRECTION,
    page_size: int = contract.PAGE_SIZE_DEFAULT,
) -> Params:
    """Query parameters of an invocation-log listing; raises ``SRConnectParamError`` on bad input."""
    params = window_params(start, end) + page_size_param(page_size)
    if order_by not in contract.ORDER_BY_VALUES:
        raise SRConnectParamError(
            "order_by",
            f"unknown value {order_by!r} (SRC matches it case-sensitively)",
            f"Use one of: {', '.join(sorted(contract.ORDER_BY_VALUES))}.",
        )
    if order_direction not in contract.ORDER_DIRECTIONS:
        raise SRConnectParamError(
            "order_direction",
            f"unknown value {order_direction!r}",
            f"Use one of: {', '.join(contract.ORDER_DIRECTIONS)}.",
        )
    params += [(contract.PARAM_ORDER_BY, order_by), (contract.PARAM_ORDER_DIRECTION, order_direction)]
    for param, name, values, allowed in (
        (
            contract.PARAM_EXECUTION_STATUSES,
            "execution_statuses",
            execution_statuses,
            contract.EXECUTION_STATUSES,
        ),
        (contract.PARAM_TRIGGER_TYPES, "trigger_types", trigger_types, contract.TRIGGER_TYPES),
    ):
        chosen = _choices(name, values, allowed)
        if contract.MULTI_VALUE_AS_REPEATED_KEY:
            params += [(param, value) for value in chosen]
        elif chosen:
            params.append((param, ",".join(chosen)))
    return params


# --- Reading replies ------------------------------------------------------------------------------


def retry_after_seconds(value: str | None, now: dt.datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delay-seconds or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - (now or dt.datetime.now(dt.UTC))).total_seconds())


def _server_message(text: str) -> str:
    try:
        body = json.loads(text)
        message = body.get(contract.ERROR_MESSAGE_FIELD) if isinstance(body, dict) else None
    except ValueError:
        message = None
    return str(message or text.strip() or "no message")[:_ERROR_TEXT_LIMIT]


def raise_for_status(reply: Reply, what: str, *, logs: bool = False) -> None:
    """Turn a non-2xx reply into the typed error, saying what to do about it."""
    status = reply.status
    if 200 <= status < 300:
        return
    said = f"SRC answered {status} to {what}: {_server_message(reply.text)}"
    if status in (401, 403):
        raise SRConnectAuthError(
            f"{said}. Check the connection's Login (account e-mail) and Password (API key) "
            "- keys can be revoked - and that team_id is a team of that user.",
            status=status,
        )
    if status == contract.STATUS_NOT_STORED:
        if logs:
            raise SRConnectLogsNotStoredError(
                f"{said}. The invocation is still running or SRC stored no logs for it; try again after it finishes.",
                status=status,
            )
        raise SRConnectNotFoundError(f"{said}. Check the team or invocation id.", status=status)
    if status == contract.STATUS_THROTTLED:
        wait = retry_after_seconds(reply.headers.get(contract.RETRY_AFTER_HEADER))
        raise SRConnectRateLimitError(
            f"{said}. Lower the connection's rate_limit_per_second, or share one budget "
            "between workers with rate_limit_storage.",
            retry_after=wait,
        )
    if status >= 500:
        raise SRConnectServerError(f"{said}. SRC is failing; the request is retried.", status=status)
    raise SRConnectRequestError(f"{said}. SRC rejected the request; fix the parameter it names.", status=status)


def read_json(reply: Reply, what: str, *, logs: bool = False) -> Any:
    """The JSON body of a 2xx reply (None when empty), or the typed error."""
    raise_for_status(reply, what, logs=logs)
    if not reply.text.strip():
        return None
    try:
        return json.loads(reply.text)
    except ValueError:
        # A cut or garbled body: the same GET may well succeed, so this one is retried.
        raise SRConnectTransportError(f"SRC sent a body that is not JSON to {what}", status=reply.status) from None


def read_download_url(reply: Reply, what: str) -> str | None:
    """The download URL of a log endpoint; None when the invocation emitted no logs."""
    body = read_json(reply, what, logs=True)
    if body is None:
        return None
    if not isinstance(body, dict) or contract.DOWNLOAD_URL_FIELD not in body:
        raise SRConnectContractError(
            f"the reply to {what} has no '{contract.DOWNLOAD_URL_FIELD}' field (contract.DOWNLOAD_URL_FIELD)"
        )
    url = body[contract.DOWNLOAD_URL_FIELD]
    return str(url) if url else None


def read_download(reply: Reply, what: str) -> str:
    """The text of a downloaded log file; a refused URL is retried with a fresh one."""
    if reply.status in (400, 403, 404):
        raise SRConnectDownloadExpiredError(
            f"the download URL of {what} was refused ({reply.status}); asking SRC for a fresh one",
            status=reply.status,
        )
    raise_for_status(reply, f"the download of {what}")
    return reply.text


def log_entries(text: str, field: str, what: str) -> list[dict[str, Any]]:
    """The entries of a downloaded console- or HTTP-log file."""
    if not text.strip():
        return []
    try:
        body = json.loads(text)
    except ValueError:
        raise SRConnectTransportError(f"the log file of {what} is not JSON") from None
    entries = body.get(field) if isinstance(body, dict) else None
    if not isinstance(entries, list):
        raise SRConnectContractError(f"the log file of {what} has no '{field}' list")
    return entries


# --- Walking listings -----------------------------------------------------------------------------


@dataclass
class PageWalk:
    """Walks a paginated listing: says which page to ask for next and checks each page it is given.

    It keeps only the window's records (``[start, end)`` on ``time_field``), whatever bound
    semantics the server uses, and stops with ``SRConnectContractError`` if a server repeats a
    cursor or pages on forever.
    """

    what: str
    base_params: Params
    page_size: int
    time_field: str
    start: dt.datetime
    end: dt.datetime
    pagination: Pagination | None = None

    def __post_init__(self) -> None:
        self._scheme: Pagination = self.pagination or contract.PAGINATION
        self.pages = 0
        self.records = 0
        self._current: dict[str, str] | None = self._scheme.first_params()
        self._asked = 0
        self._previous: list[tuple[str, str]] | None = None
        self._mark: list[tuple[str, str]] | None = None

    def next_params(self) -> Params | None:
        """The query of the next page, or None when the listing is done.

        A repeated cursor is caught in constant memory (Brent's cycle detection): each query is compared
        with the one before it and with a mark moved to the 1st, 2nd, 4th, 8th, ... query, so a server
        that cycles through cursors is stopped within about twice the cycle's length. A set of every
        cursor seen grew with the window (10,000 pages for 1M records).
        """
        if self._current is None:
            return None
        key = sorted(self._current.items())
        if key in (self._previous, self._mark) or self._asked >= MAX_PAGES:
            raise SRConnectContractError(
                f"{self.what}: the server sent page {self.pages + 1} "
                f"with a cursor already seen, or more than {MAX_PAGES} pages"
            )
        self._asked += 1
        self._previous = key
        if self._asked & (self._asked - 1) == 0:  # a power of two
            self._mark = key
        return self.base_params + key

    def accept(self, body: Any) -> list[dict[str, Any]]:
        """Check one page and return its records inside the window."""
        items = body.get(contract.ITEMS_FIELD) if isinstance(body, dict) else None
        if not isinstance(items, list):
            raise SRConnectContractError(
                f"the reply to {self.what} has no '{contract.ITEMS_FIELD}' list (contract.ITEMS_FIELD)"
            )
        kept = [item for item in items if self._in_window(item)]
        assert self._current is not None
        self._current = self._scheme.next_params(self._current, body, len(items), self.page_size)
        self.pages += 1
        self.records += len(kept)
        return kept

    def _in_window(self, item: Any) -> bool:
        if not isinstance(item, dict) or self.time_field not in item:
            raise SRConnectContractError(f"a record from {self.what} has no '{self.time_field}' field")
        try:
            moment = contract.parse_time(item[self.time_field])
        except ValueError as exc:
            raise SRConnectContractError(f"a record from {self.what} has a bad '{self.time_field}': {exc}") from None
        return self.start <= moment < self.end


def is_retryable(exc: BaseException) -> bool:
    """Whether the retry policy tries a request again after this error."""
    return isinstance(exc, SRConnectError) and exc.retryable
