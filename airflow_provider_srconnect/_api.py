"""The I/O-free half of the SRC client, shared by the sync and the async hook.

It builds query parameters from a wire contract (checking them before anything is sent), reads
replies into data or typed errors as the contract shapes them, and walks paginated listings one page
at a time. Every function that touches the wire takes the ``contract.Contract`` to follow. The hooks
only move bytes.

Downloads (log files and large messages: the presigned GET in ``url`` mode, the log endpoint's reply
itself in ``inline`` mode) are verified before anything is read from them (``download_body``): as
many bytes as ``Content-Length`` says, no HTML page, the ``Content-Encoding`` undone strictly, then
strict UTF-8 and the contract's JSON shape. An MD5 ``ETag`` the body does not match
(``etag_mismatch``) makes the hook download again, accepting two downloads that agree byte for byte.
Every such failure is a retryable ``SRConnectDownloadError``.
"""

from __future__ import annotations

import datetime as dt
import difflib
import email.utils
import errno
import gzip
import hashlib
import json
import re
import sys
import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, cast
from urllib.parse import quote, urlsplit

from airflow_provider_srconnect import contract
from airflow_provider_srconnect._paging import first_page, next_page
from airflow_provider_srconnect.exceptions import (
    SRConnectAuthError,
    SRConnectContractError,
    SRConnectDownloadError,
    SRConnectDownloadExpiredError,
    SRConnectError,
    SRConnectLogsNotStoredError,
    SRConnectNotFoundError,
    SRConnectParamError,
    SRConnectRateLimitError,
    SRConnectRequestError,
    SRConnectServerError,
    SRConnectTransportError,
    SRConnectUnreachableError,
)

Params = list[tuple[str, str]]
#: A guard against a server that never stops paginating: 10 million records at the largest page.
MAX_PAGES = 100_000
_ERROR_TEXT_LIMIT = 300
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_MS = dt.timedelta(milliseconds=1)


class Reply(NamedTuple):
    """One HTTP response, transport-neutral."""

    status: int
    headers: Mapping[str, str]
    text: str


# --- Building requests ----------------------------------------------------------------------------


def path_segment(param: str, value: object) -> str:
    """A value from SRC (an invocation or large-message id) as one URL path segment.

    Server values are data, not user input: any non-empty text is URL-quoted whole (``+``, ``/``,
    ``=``, spaces and non-ASCII included), never checked against a pattern. A segment of dots only is
    escaped too, so that no URL normalisation reads it as ``.`` or ``..``.
    """
    if not isinstance(value, str) or not value:
        raise SRConnectParamError(
            param, f"expected a non-empty text, got {value!r}"[:200], "Pass the id exactly as SRC returned it."
        )
    quoted = quote(value, safe="")
    return quoted.replace(".", "%2E") if not quoted.strip(".") else quoted


def _ceiling(moment: dt.datetime, unit: dt.timedelta) -> dt.datetime:
    """The first whole ``unit`` at or after ``moment`` (a plain UTC datetime)."""
    rest = (moment - _EPOCH) % unit
    return moment + (unit - rest) if rest else moment


def window_params(start: dt.datetime, end: dt.datetime, window: contract.WindowParams) -> Params:
    """The half-open time window ``[start, end)`` as the contract's query parameters.

    ``from`` is ``start`` rounded down to the time format's unit, ``to`` is ``end`` rounded up; an
    inclusive ``to`` in milliseconds is then one ms less (the same window exactly), in seconds it stays
    (a superset). So a window with finer bounds still asks for every record in it; ``PageWalk`` drops
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
    unit = contract.TIME_UNITS[window.time_format]
    upper = _ceiling(contract.plain_utc(end), unit)
    if window.to_inclusive and unit == _MS:
        upper -= _MS
    return [
        (window.from_param, str(contract.format_time(start, window.time_format))),
        (window.to_param, str(contract.format_time(upper, window.time_format))),
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


def page_size_of(page_size: object, pagination: contract.Pagination) -> int:
    """The page size to ask for: ``page_size``, or the contract's default when None; checked."""
    if page_size is None:
        return pagination.size_default
    if isinstance(page_size, bool) or not isinstance(page_size, int) or not 1 <= page_size <= pagination.size_max:
        raise SRConnectParamError(
            "page_size",
            f"expected a whole number from 1 to {pagination.size_max}, got {page_size!r}",
            f"Use e.g. {pagination.size_default}, or leave it unset for that default.",
        )
    return page_size


def page_size_param(page_size: object, pagination: contract.Pagination) -> Params:
    """The page-size parameter (``page_size`` None: the contract's default)."""
    return [(pagination.size_param, str(page_size_of(page_size, pagination)))]


def _sort(wire: contract.Contract, order_by: str | None, order_direction: str | None) -> Params:
    """The sort parameters, checked; none when the contract has no sort parameter."""
    f = wire.filters
    if order_by is not None and order_by not in contract.ORDER_BY_VALUES | {f.order_by}:
        raise SRConnectParamError(
            "order_by",
            f"unknown value {order_by!r} (SRC matches it case-sensitively)",
            f"Use one of: {', '.join(sorted(contract.ORDER_BY_VALUES | {f.order_by}))}.",
        )
    if order_direction is not None and order_direction not in contract.ORDER_DIRECTIONS:
        raise SRConnectParamError(
            "order_direction",
            f"unknown value {order_direction!r}",
            f"Use one of: {', '.join(contract.ORDER_DIRECTIONS)}.",
        )
    params: Params = []
    if f.order_by_param is not None:
        params.append((f.order_by_param, order_by or f.order_by))
    elif order_by not in (None, f.order_by):
        raise SRConnectParamError(
            "order_by",
            f"the connection's contract has no sort parameter (filters.order_by_param is null), got {order_by!r}",
            "Leave order_by unset: the server's own order is archived as it comes.",
        )
    direction = order_direction or contract.ORDER_DIRECTIONS[0]
    if f.order_direction_param is not None:
        params.append((f.order_direction_param, f.direction(direction)))
    elif direction != contract.ORDER_DIRECTIONS[0]:
        raise SRConnectParamError(
            "order_direction",
            "the connection's contract has no sort-direction parameter (filters.order_direction_param is null)",
            "Leave order_direction unset.",
        )
    return params


def invocation_query(
    start: dt.datetime,
    end: dt.datetime,
    wire: contract.Contract,
    *,
    execution_statuses: str | Iterable[str] | None = None,
    trigger_types: str | Iterable[str] | None = None,
    order_by: str | None = None,
    order_direction: str | None = None,
    page_size: int | None = None,
) -> Params:
    """Query parameters of an invocation-log listing; raises ``SRConnectParamError`` on bad input.

    Statuses and trigger types are the provider's names (``contract.EXECUTION_STATUSES``,
    ``contract.TRIGGER_TYPES``), sent as the contract spells them; None arguments take the contract's
    defaults (its page size, its ``startTime`` sort, ascending).
    """
    params = window_params(start, end, wire.window) + page_size_param(page_size, wire.pagination)
    params += _sort(wire, order_by, order_direction)
    f = wire.filters
    for param, name, values, allowed, spelled in (
        (
            f.execution_statuses_param,
            "execution_statuses",
            execution_statuses,
            contract.EXECUTION_STATUSES,
            wire.enums.statuses,
        ),
        (f.trigger_types_param, "trigger_types", trigger_types, contract.TRIGGER_TYPES, wire.enums.trigger_types),
    ):
        chosen = [spelled[value] for value in _choices(name, values, allowed)]
        if f.multi_value == "repeat":
            params += [(param, value) for value in chosen]
        elif chosen:
            params.append((param, ",".join(chosen)))
    return params


def audit_query(start: dt.datetime, end: dt.datetime, wire: contract.Contract, page_size: int | None = None) -> Params:
    """Query parameters of an audit-log listing (the window and the page size)."""
    return window_params(start, end, wire.window) + page_size_param(page_size, wire.pagination)


def probe_query(wire: contract.Contract) -> Params:
    """The cheapest listing query: the first page of one record, no window (a connection test)."""
    return page_size_param(1, wire.pagination) + sorted(first_page(wire.pagination).items())


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


def _found(body: object, dotted: str) -> tuple[bool, Any]:
    """Whether a JSON object has the dotted key (a null value counts), and its value."""
    for part in dotted.split("."):
        if not isinstance(body, dict) or part not in body:
            return False, None
        body = body[part]
    return True, body


def _server_message(text: str, errors: contract.ErrorBody) -> str:
    try:
        message = contract.lookup(json.loads(text), errors.message_field)
    except ValueError:
        message = None
    return str(message or text.strip() or "no message")[:_ERROR_TEXT_LIMIT]


def raise_for_status(reply: Reply, what: str, wire: contract.Contract, *, logs: bool = False) -> None:
    """Turn a non-2xx reply into the typed error, saying what to do about it.

    ``logs``: the reply is from a log endpoint, where the contract's ``logs.not_stored_status`` means
    "not stored (yet)".
    """
    status = reply.status
    if 200 <= status < 300:
        return
    said = f"SRC answered {status} to {what}: {_server_message(reply.text, wire.errors)}"
    if status in (401, 403):
        raise SRConnectAuthError(
            f"{said}. Check the connection's Login (account e-mail) and Password (API key) "
            "- keys can be revoked - and that team_id is a team of that user.",
            status=status,
        )
    if logs and status == wire.logs.not_stored_status:
        raise SRConnectLogsNotStoredError(
            f"{said}. The invocation is still running or SRC stored no logs for it; try again after it finishes.",
            status=status,
        )
    if status == 404:
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


def _too_deep(what: str) -> SRConnectContractError:
    return SRConnectContractError(
        f"{what} holds JSON nested deeper than Python's recursion limit ({sys.getrecursionlimit()}) lets it parse; "
        "raise it with sys.setrecursionlimit in the worker, or report the record to SRC"
    )


def _json(text: str, what: str, status: int | None = None) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        # A cut or garbled body: the same GET may well succeed, so this one is retried.
        raise SRConnectTransportError(f"SRC sent a body that is not JSON to {what}", status=status) from None
    except RecursionError:
        raise _too_deep(f"the reply to {what}") from None


def read_json(reply: Reply, what: str, wire: contract.Contract) -> Any:
    """The JSON body of a 2xx reply (None when empty), or the typed error."""
    raise_for_status(reply, what, wire)
    if not reply.text.strip():
        return None
    return _json(reply.text, what, reply.status)


def listing_items(body: Any, what: str, listing: contract.Listing) -> list[Any]:
    """The record list of a listing reply: at the contract's wrapper key, or the bare list."""
    items = body if listing.wrapper is None else contract.lookup(body, listing.wrapper)
    if not isinstance(items, list):
        where = "is not a JSON list" if listing.wrapper is None else f"has no '{listing.wrapper}' list"
        raise SRConnectContractError(
            f"the reply to {what} {where} (the contract's listing.wrapper); run the doctor, or set the "
            "connection extra 'contract' to what SRC sends"
        )
    return items


def download_url(reply: Reply, what: str, wire: contract.Contract) -> str | None:
    """The download URL in a log endpoint's reply (``url`` mode); None when SRC says "no logs".

    The reply is a JSON object with the URL at ``logs.url_field``; a null URL and an empty 2xx body both
    mean "no logs". The contract's ``logs.not_stored_status`` raises ``SRConnectLogsNotStoredError``.
    (In ``inline`` mode the reply is the file itself, read with ``download_body``.)
    """
    raise_for_status(reply, what, wire, logs=True)
    if not reply.text.strip():
        return None
    body = _json(reply.text, what, reply.status)
    found, url = _found(body, wire.logs.url_field)
    if not found:
        raise SRConnectContractError(
            f"the reply to {what} has no '{wire.logs.url_field}' field (the contract's logs.url_field)"
        )
    if url is None or url == "":
        return None
    if not isinstance(url, str):
        raise SRConnectContractError(f"the '{wire.logs.url_field}' of {what} is not a URL: {type(url).__name__}")
    return url


class Download(NamedTuple):
    """One downloaded file, transport-neutral: ``raw`` is the body as it came over the wire, before its
    ``Content-Encoding`` is undone (what ``Content-Length`` and an S3 ``ETag`` describe)."""

    status: int
    headers: Mapping[str, str]
    raw: bytes


#: The ``Accept-Encoding`` of a download: the codings ``download_body`` undoes.
ACCEPT_ENCODING = "gzip, deflate"
_MD5_ETAG = re.compile(r'"?([0-9A-Fa-f]{32})"?')
_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})


def _decoded(raw: bytes, codings: str, what: str) -> bytes:
    """``raw`` with its ``Content-Encoding`` undone (the codings in reverse order), strictly."""
    body = raw
    for coding in reversed([c.strip().lower() for c in codings.split(",") if c.strip()]):
        try:
            if coding in ("gzip", "x-gzip"):
                body = gzip.decompress(body)
            elif coding == "deflate":  # zlib-wrapped, as the RFC says; some servers send it raw
                try:
                    body = zlib.decompress(body)
                except zlib.error:
                    body = zlib.decompress(body, -zlib.MAX_WBITS)
            elif coding != "identity":
                raise SRConnectDownloadError(
                    f"{what} came in Content-Encoding {coding!r}, which the provider does not decode"
                )
        except (OSError, EOFError, zlib.error) as exc:
            raise SRConnectDownloadError(f"{what} is not valid {coding} ({exc}); downloading it again") from None
    return body


def download_body(download: Download, what: str, wire: contract.Contract, *, presigned: bool) -> bytes:
    """The body of a downloaded file, once verified; ``SRConnectDownloadError`` says what was wrong.

    ``presigned``: the download of a URL from the log endpoint (a refused URL is retried with a fresh
    one); else the log endpoint's own reply (``inline`` mode: its statuses are the API's). The checks:
    the bytes received equal ``Content-Length`` when there is one, the reply is no HTML page, and its
    ``Content-Encoding`` (gzip, deflate) undoes cleanly. The MD5 ``ETag`` is ``etag_mismatch``'s.
    """
    status, headers, raw = download
    if presigned and status in (400, 403, 404):
        raise SRConnectDownloadExpiredError(
            f"the download URL of {what} was refused ({status}); asking SRC for a fresh one", status=status
        )
    if not 200 <= status < 300:
        try:
            text = _decoded(raw, headers.get("Content-Encoding", ""), what)
        except SRConnectDownloadError:
            text = raw
        reply = Reply(status, headers, text.decode("utf-8", "replace"))
        raise_for_status(reply, f"the download of {what}" if presigned else what, wire, logs=not presigned)
    length = (headers.get("Content-Length") or "").strip()
    if length.isdigit() and int(length) != len(raw):
        raise SRConnectDownloadError(
            f"{what}: {len(raw)} of the {int(length)} bytes of its Content-Length arrived; downloading it again",
            status=status,
        )
    media = (headers.get("Content-Type") or "").split(";")[0].strip().lower()
    if media in _HTML_TYPES:
        raise SRConnectDownloadError(
            f"{what}: an HTML page ({len(raw)} bytes) came instead of the file; downloading it again", status=status
        )
    return _decoded(raw, headers.get("Content-Encoding", ""), what)


def etag_mismatch(download: Download, body: bytes | None = None) -> bool:
    """Whether the reply's ``ETag`` is an MD5 (32 hex digits, quoted or not) that its bytes do not match.

    S3 gives a single-part object the MD5 of its stored bytes, so the bytes on the wire are hashed
    (compressed, for an object stored with a ``Content-Encoding``), and also ``body``, the decoded
    bytes, when given (a proxy that compresses on the fly may pass the ETag of the plain object on).
    Multipart (``-N``) and weak (``W/``) ETags are no MD5 and are not checked; an SSE-KMS object's ETag
    looks like one but is not its MD5, which is why a mismatch makes the hook download again, not fail.
    """
    match = _MD5_ETAG.fullmatch((download.headers.get("ETag") or "").strip())
    if match is None:
        return False
    etag = match.group(1).lower()
    candidates = (download.raw,) if body is None or body == download.raw else (download.raw, body)
    return all(hashlib.md5(data, usedforsecurity=False).hexdigest() != etag for data in candidates)


def _text(body: bytes, what: str) -> str:
    """A verified body as text: strict UTF-8 (a file that is not is a failed download)."""
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SRConnectDownloadError(f"{what} is not UTF-8 ({exc.reason} at byte {exc.start})") from None


def _file_json(body: bytes, what: str) -> Any:
    try:
        return json.loads(_text(body, what))
    except ValueError as exc:
        raise SRConnectDownloadError(f"{what} is not valid JSON ({exc}); downloading it again") from None
    except RecursionError:
        raise _too_deep(what) from None


class OffContract(SRConnectDownloadError):
    """A downloaded file that is valid JSON but not of the contract's shape: damaged on the way, or the
    contract does not match SRC (which the hook concludes once two downloads agree byte for byte)."""

    def __init__(self, problem: str, key: str) -> None:
        super().__init__(
            f"{problem}; downloading it again (if every download is so, the contract's {key} does not match "
            "SRC: run the doctor)"
        )
        self.problem = problem
        self.key = key

    def confirmed(self) -> SRConnectContractError:
        """The contract error it is once two downloads agree on it."""
        return SRConnectContractError(
            f"{self.problem}, the same in two downloads: the contract's {self.key} does not match what SRC "
            "sends; run the doctor, or set the connection extra 'contract' to what SRC sends"
        )


def log_entries(
    body: bytes, wrapper: str | None, what: str, *, key: str = "log_files.console_wrapper"
) -> list[dict[str, Any]]:
    """The entries of a downloaded console- or HTTP-log file: the list of objects at ``wrapper`` (dotted),
    or a bare list. Not JSON (or not UTF-8) is a failed download; JSON of another shape is ``OffContract``
    (``key`` names the contract's setting)."""
    body_json = _file_json(body, f"the log file of {what}")
    entries = body_json if wrapper is None else contract.lookup(body_json, wrapper)
    if not isinstance(entries, list) or not all(isinstance(entry, dict) for entry in entries):
        shape = "a JSON list of objects" if wrapper is None else f"a JSON object with a '{wrapper}' list of objects"
        raise OffContract(f"the log file of {what} is not {shape}", key)
    return cast("list[dict[str, Any]]", entries)


def large_message(body: bytes, field: str | None, what: str) -> str:
    """A downloaded large message: the file as UTF-8 text (``field`` None), or the text at ``field`` of a
    JSON object (else ``OffContract``). Not UTF-8, or not JSON, is a failed download."""
    if field is None:
        return _text(body, what)
    message = contract.lookup(_file_json(body, what), field)
    if not isinstance(message, str):
        raise OffContract(f"{what} is not a JSON object with a '{field}' text", "log_files.large_message_field")
    return message


# --- Transport failures ---------------------------------------------------------------------------

_DEFAULT_PORTS = {"http": 80, "https": 443}


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and every error it was raised from or wraps (``__cause__``, ``__context__``, ``reason``, args)."""
    seen: set[int] = set()
    todo = [exc]
    while todo:
        one = todo.pop()
        if id(one) in seen:
            continue
        seen.add(id(one))
        yield one
        linked = [one.__cause__, one.__context__, getattr(one, "reason", None), *one.args]
        todo += [link for link in linked if isinstance(link, BaseException)]


def transport_error(
    url: str, exc: BaseException, *, timed_out: bool, timeout: float, api: bool = True
) -> SRConnectTransportError:
    """The error of a GET that got no usable response, naming the host and port and what happened.

    ``timed_out``: the HTTP library says the connection or a read timed out. A refused connection is
    found in the chain of causes (``ConnectionRefusedError``, or an ``OSError`` with ``ECONNREFUSED``).
    ``api``: the URL is SRC's (else a presigned download's). The URL is shown without its query (a
    presigned URL's signature stays out).
    """
    split = urlsplit(url)
    host = split.hostname or "?"
    port = split.port or _DEFAULT_PORTS.get(split.scheme, 0)
    where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    name = type(exc).__name__
    causes = list(_causes(exc))
    check = "the connection's Host and port" if api else "that this machine can reach the host of the download URLs"
    if timed_out or any(isinstance(c, TimeoutError) for c in causes):
        said = f"{where} timed out ({name}): no answer within the connection's timeout of {timeout:g} s"
    elif any(
        isinstance(c, ConnectionRefusedError) or (isinstance(c, OSError) and c.errno == errno.ECONNREFUSED)
        for c in causes
    ):
        said = f"connection refused by {where} ({name}): nothing listens there; check {check}"
    else:
        said = f"{name} from {where}"
    failed = f"GET {split.scheme}://{split.netloc}{split.path} failed: {said}"
    return (
        SRConnectUnreachableError(failed) if said.startswith("connection refused") else SRConnectTransportError(failed)
    )


# --- Walking listings -----------------------------------------------------------------------------


@dataclass
class PageWalk:
    """Walks a paginated listing: says which page to ask for next and checks each page it is given.

    It keeps only the window's records (``[start, end)`` on ``time_field``, read in the contract's
    ``records.time_format``), whatever bound semantics the server uses, and stops with
    ``SRConnectContractError`` if a server repeats a query or pages on forever.
    """

    what: str
    wire: contract.Contract
    base_params: Params
    page_size: int
    time_field: str
    start: dt.datetime
    end: dt.datetime

    def __post_init__(self) -> None:
        self.pages = 0
        self.records = 0
        self._current: dict[str, str] | None = first_page(self.wire.pagination)
        self._asked = 0
        self._previous: list[tuple[str, str]] | None = None
        self._mark: list[tuple[str, str]] | None = None

    @property
    def done(self) -> bool:
        """Whether the last page has been accepted."""
        return self._current is None

    def next_params(self) -> Params | None:
        """The query of the next page, or None when the listing is done.

        A repeated query is caught in constant memory (Brent's cycle detection): each query is compared
        with the one before it and with a mark moved to the 1st, 2nd, 4th, 8th, ... query, so a server
        that cycles through cursors (or pages, or offsets) is stopped within about twice the cycle's
        length. A set of every query seen grew with the window (10,000 pages for 1M records).
        """
        if self._current is None:
            return None
        key = sorted(self._current.items())
        if key in (self._previous, self._mark) or self._asked >= MAX_PAGES:
            raise SRConnectContractError(
                f"{self.what}: the server sent page {self.pages + 1} "
                f"with a cursor already seen (the same query twice), or more than {MAX_PAGES} pages"
            )
        self._asked += 1
        self._previous = key
        if self._asked & (self._asked - 1) == 0:  # a power of two
            self._mark = key
        return self.base_params + key

    def accept(self, body: Any) -> list[dict[str, Any]]:
        """Check one page and return its records inside the window."""
        items = listing_items(body, self.what, self.wire.listing)
        kept = [item for item in items if self._in_window(item)]
        assert self._current is not None
        try:
            self._current = next_page(self.wire.pagination, self._current, body, len(items), self.page_size)
        except ValueError as exc:
            raise SRConnectContractError(f"the reply to {self.what}: {exc} (the contract's pagination)") from None
        self.pages += 1
        self.records += len(kept)
        return kept

    def _in_window(self, item: Any) -> bool:
        if not isinstance(item, dict) or self.time_field not in item:
            raise SRConnectContractError(f"a record from {self.what} has no '{self.time_field}' field")
        try:
            moment = contract.parse_time(item[self.time_field], self.wire.records.time_format)
        except (ValueError, OverflowError, OSError) as exc:
            raise SRConnectContractError(f"a record from {self.what} has a bad '{self.time_field}': {exc}") from None
        return self.start <= moment < self.end


def invocation_walk(wire: contract.Contract, what: str, start: dt.datetime, end: dt.datetime, **query: Any) -> PageWalk:
    """The page walk of an invocation listing (``query``: the keyword arguments of ``invocation_query``)."""
    params = invocation_query(start, end, wire, **query)
    size = page_size_of(query.get("page_size"), wire.pagination)
    return PageWalk(what, wire, params, size, wire.records.invocation.start_time, start, end)


def audit_walk(
    wire: contract.Contract, what: str, start: dt.datetime, end: dt.datetime, page_size: int | None = None
) -> PageWalk:
    """The page walk of an audit listing."""
    params = audit_query(start, end, wire, page_size)
    return PageWalk(what, wire, params, page_size_of(page_size, wire.pagination), wire.records.audit.date, start, end)


def is_retryable(exc: BaseException) -> bool:
    """Whether the retry policy tries a request again after this error."""
    return isinstance(exc, SRConnectError) and exc.retryable
