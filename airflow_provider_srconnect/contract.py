"""The ScriptRunner Connect (SRC) wire contract, as data: one frozen, validated ``Contract`` object.

Every detail of how SRC's REST API looks on the wire lives here and nowhere else: paths, query
parameters, time formats, pagination, filters, the response wrapper, record field names, enum
spellings, how logs are delivered, the shape of log files and of error bodies. ``DEFAULT`` is what
this provider assumes today; a connection's extra ``contract`` lays a JSON override over it key by
key (``Contract.override``), so a user who meets an SRC that answers differently fixes it by
configuration, not by a release. The client (``_api``, ``_paging``, the hooks), the sandbox and the
doctor all read the same object.

What the vendor documents is marked CONFIRMED (sources in ``shared/srconnect-api-facts.md``);
everything else is ASSUMED. ``assumptions_markdown()`` renders the README's table from the
default object and the ``basis`` of each group.

The names of ``InvocationField``, ``AuditField`` and the other ``*Field`` classes are the
provider's own names for record fields: the archive schema (Parquet columns, docs, SQL) is declared
with them, the sandbox generates its records with them, and they are the default contract's wire
names.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import math
import re
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from airflow_provider_srconnect.exceptions import SRConnectParamError

#: Bumped whenever ``DEFAULT`` changes; recorded in every archive manifest.
CONTRACT_VERSION: Final = "1"

# --- Hosts and auth (CONFIRMED; not part of the overridable wire contract) -----------------------

#: CONFIRMED [REST; SKILL]: one API host per region.
BASE_URLS: Final = {
    "eu": "https://api.scriptrunnerconnect.com",
    "us": "https://api.us.scriptrunnerconnect.com",
}
#: CONFIRMED [CLIWF]: the web app of each region (for links from the Airflow UI).
APP_URLS: Final = {
    "eu": "https://app.eu.scriptrunnerconnect.com",
    "us": "https://app.us.scriptrunnerconnect.com",
}
DEFAULT_REGION: Final = "eu"
#: ASSUMED: a team's Reporting pages in the web app, one per log type. The docs name the pages
#: ("Reporting > Script Invocation Logs", "Reporting > Audit Logs" [SIL; AUD]), not their routes.
REPORTING_INVOCATIONS_PATH: Final = "/team/{team_id}/reporting/script-invocation-logs"
REPORTING_AUDIT_PATH: Final = "/team/{team_id}/reporting/audit-logs"
#: CONFIRMED [REST]: HTTP Basic, user name = account e-mail, password = API key.
AUTH_SCHEME: Final = "Basic"
STATUS_THROTTLED: Final = 429  # CONFIRMED [REST]
RETRY_AFTER_HEADER: Final = "Retry-After"  # ASSUMED: not documented; honoured when present

# --- The provider's own names (the archive schema; the default contract's wire names) ------------


class InvocationField:
    """Field names of an invocation-log record."""

    ID: Final = "invocationId"  # ASSUMED (runtime context [LOCAL])
    START_TIME: Final = "startTime"  # ASSUMED name and format
    EXECUTION_STATUS: Final = "executionStatus"  # ASSUMED
    TRIGGER_TYPE: Final = "triggerType"  # ASSUMED (runtime context [TEST])
    ROOT_TRIGGER_TYPE: Final = "rootTriggerType"  # ASSUMED (runtime context [TEST])
    WORKSPACE: Final = "workspace"  # ASSUMED object {id, name}
    ENVIRONMENT: Final = "environment"  # ASSUMED object {id, name}
    SCRIPT: Final = "script"  # ASSUMED object {id, name}
    DURATION: Final = "duration"  # ASSUMED: milliseconds
    CONSOLE_LOGS: Final = "consoleLogs"  # ASSUMED: count of console lines
    HTTP_LOGS: Final = "httpLogs"  # ASSUMED: count of HTTP calls
    DROP_REASON: Final = "dropReason"  # CONFIRMED [RN26]: renamed from ``dropped``


class AuditField:
    """Field names of an audit-log record (UI columns CONFIRMED [AUD], JSON names ASSUMED)."""

    ID: Final = "id"
    DATE: Final = "date"
    ACTOR: Final = "actor"
    ACTION: Final = "action"  # CONFIRMED format: resource(.sub_resource).action
    IP_ADDRESS: Final = "ipAddress"
    RELATED_ENTITIES: Final = "relatedEntities"
    METADATA: Final = "metadata"


class NamedField:
    """Fields of an invocation's workspace, environment and script objects (ASSUMED ``{id, name}``)."""

    ID: Final = "id"
    NAME: Final = "name"


class ActorField:
    """Fields of an audit record's actor (ASSUMED: the UI shows the user; the JSON shape is not documented)."""

    ID: Final = "id"
    EMAIL: Final = "email"


class RelatedEntityField:
    """Fields of one of an audit record's related entities (ASSUMED, like the actor)."""

    TYPE: Final = "type"
    ID: Final = "id"
    NAME: Final = "name"


class ConsoleLineField:
    """Fields of a console-log line (ASSUMED: the UI shows date, source, type and message [CON])."""

    TIMESTAMP: Final = "timestamp"
    LEVEL: Final = "level"
    SOURCE: Final = "source"
    MESSAGE: Final = "message"
    LARGE_MESSAGE_ID: Final = "largeMessageId"  # marks an oversized line


class HttpLogField:
    """Fields of an HTTP-log entry, CONFIRMED verbatim [HTTPL]."""

    FETCH_ID: Final = "fetchId"
    CONNECTION_ID: Final = "connectionId"  # optional
    ORIGINAL_DURATION: Final = "originalDuration"  # ms until the response
    DURATION: Final = "duration"  # ms in total
    REQUEST: Final = "request"
    RESPONSE: Final = "response"
    # Of the request and the response:
    URL: Final = "url"
    METHOD: Final = "method"
    HEADERS: Final = "headers"
    RESPONSE_BODY: Final = "responseBody"  # 'fetch' or 'skip'
    TIME: Final = "time"
    BODY: Final = "body"  # optional on the request
    STATUS: Final = "status"
    # Of a body (truncated beyond 1 KB):
    SIZE: Final = "size"
    TRUNCATED: Final = "truncated"
    TEXT: Final = "text"


#: The provider's execution statuses: what users pass in ``execution_statuses`` (UI labels CONFIRMED
#: [SIL]). Their spellings on the wire are the contract's ``statuses``.
EXECUTION_STATUSES: Final = (
    "FINISHED",
    "RUNNING",
    "DENIED",
    "TIMED_OUT",
    "ABORTED",
    "FUNCTION_ERROR",
    "MALFORMED_PAYLOAD_ERROR",
    "RUNTIME_ERROR",
)
STATUS_RUNNING: Final = "RUNNING"
STATUS_FINISHED: Final = "FINISHED"
STATUS_TIMED_OUT: Final = "TIMED_OUT"
STATUS_DENIED: Final = "DENIED"
#: The statuses whose logs ``include_logs="failed"`` archives (every ended, unsuccessful run).
FAILED_STATUSES: Final = tuple(s for s in EXECUTION_STATUSES if s not in (STATUS_RUNNING, STATUS_FINISHED))
#: The provider's trigger types (CONFIRMED for the script runtime [TEST]); wire spellings: ``trigger_types``.
TRIGGER_TYPES: Final = ("EXTERNAL", "MANUAL", "SCHEDULED", "MANUAL_EVENT_LISTENER", "CHAINED")
TRIGGER_CHAINED: Final = "CHAINED"
#: CONFIRMED [RN26]: the ``orderBy`` whitelist, case-sensitive.
ORDER_BY_VALUES: Final = frozenset({"workspace", "environment", "duration", "consoleLogs", "httpLogs", "startTime"})
#: The provider's sort directions (the contract spells them on the wire).
ORDER_DIRECTIONS: Final = ("asc", "desc")

# --- Time, limits and retention (CONFIRMED or guessed facts, not overridable) ---------------------

RETENTION_MONTHS: Final = 6  # CONFIRMED [SIL; AUD]
MAX_INVOCATION_DURATION: Final = dt.timedelta(minutes=15)  # CONFIRMED [LIM]
RATE_LIMIT_FREE_PER_SECOND: Final = 5  # CONFIRMED [LIM]: per user
GATEWAY_TIMEOUT_SECONDS: Final = 25  # guess from [CLIWF]: the API cuts requests off at 25 s

TimeFormat = Literal["iso-ms", "epoch-ms", "epoch-s"]
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
#: The resolution of each time format.
TIME_UNITS: Final[Mapping[str, dt.timedelta]] = types.MappingProxyType(
    {
        "iso-ms": dt.timedelta(milliseconds=1),
        "epoch-ms": dt.timedelta(milliseconds=1),
        "epoch-s": dt.timedelta(seconds=1),
    }
)


def plain_utc(moment: dt.datetime) -> dt.datetime:
    """An aware datetime (pendulum's too) as a plain ``datetime`` in UTC: pendulum's differences are no timedelta."""
    u = moment.astimezone(dt.UTC)
    return dt.datetime(u.year, u.month, u.day, u.hour, u.minute, u.second, u.microsecond, tzinfo=dt.UTC)


def format_time(moment: dt.datetime, time_format: TimeFormat = "iso-ms") -> str | int:
    """An aware datetime as the format writes it: ISO-8601 UTC text with ms, or whole epoch ms or s.

    Sub-unit parts are cut off (rounded down); callers round first where they need another rounding.
    """
    if moment.tzinfo is None:
        raise ValueError("times sent to SRC must be timezone-aware")
    utc = moment.astimezone(dt.UTC)
    if time_format == "iso-ms":
        return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"
    return (plain_utc(utc) - _EPOCH) // TIME_UNITS[time_format]


def parse_time(value: object, time_format: TimeFormat = "iso-ms") -> dt.datetime:
    """Read a time: ISO-8601 text with a zone, or a number in the format's epoch unit.

    A number under ``iso-ms`` is read as epoch ms (SRC's runtime context uses them), so the default
    contract reads both.
    """
    if isinstance(value, bool):
        raise ValueError(f"not a time: {value!r}")
    if isinstance(value, (int, float)):
        if not math.isfinite(value):
            raise ValueError(f"not a time: {value!r}")
        seconds = value if time_format == "epoch-s" else value / 1000
        return dt.datetime.fromtimestamp(seconds, tz=dt.UTC)
    if isinstance(value, str):
        parsed = dt.datetime.fromisoformat(value)
        if parsed.tzinfo is None:
            raise ValueError(f"time without a zone: {value!r}")
        return parsed.astimezone(dt.UTC)
    raise ValueError(f"not a time: {value!r}")


# --- Dotted keys in JSON bodies ------------------------------------------------------------------


def lookup(body: object, dotted: str) -> Any:
    """The value at a dotted key (``page.next``) of a JSON object, or None where any step is missing."""
    for part in dotted.split("."):
        if not isinstance(body, dict):
            return None
        body = body.get(part)
    return body


def put(body: dict[str, Any], dotted: str, value: Any) -> None:
    """Set the value at a dotted key, creating the objects on the way."""
    *parents, last = dotted.split(".")
    for part in parents:
        body = body.setdefault(part, {})
    body[last] = value


# --- The contract's groups -----------------------------------------------------------------------

_NAME = re.compile(r"^[^\s]{1,100}$")
_DOTTED = re.compile(r"^[^\s.]{1,100}(\.[^\s.]{1,100}){0,7}$")


class ContractValueError(ValueError):
    """A value of the contract is wrong: ``key`` is its dotted key inside the group."""

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(problem)
        self.key = key


def _check_names(group: object, *, dotted: tuple[str, ...] = ()) -> None:
    """Every ``str`` field is a name without spaces (dotted keys where listed); optional ones may be None."""
    for f in dataclasses.fields(group):  # type: ignore[arg-type]
        value = getattr(group, f.name)
        if isinstance(value, str) and f.type in ("str", "str | None"):
            pattern = _DOTTED if f.name in dotted else _NAME
            if not pattern.match(value):
                kind = "a dotted key such as 'page.next'" if f.name in dotted else "a name without spaces"
                raise ContractValueError(f.name, f"expected {kind}, got {value!r}")


@dataclass(frozen=True)
class Paths:
    """The five log endpoints, each a path template under the base URL."""

    basis: typing.ClassVar[str] = "CONFIRMED (SRC release notes, 21 Sep 2026)"
    invocation_logs: str = "/v1/team/{team_id}/invocationLogs"
    audit_logs: str = "/v1/team/{team_id}/auditLogs"
    console_logs: str = "/v1/invocation/{invocation_id}/consoleLogs"
    http_logs: str = "/v1/invocation/{invocation_id}/httpLogs"
    large_log_message: str = "/v1/invocation/{invocation_id}/largeLogMessage/{message_id}"

    def __post_init__(self) -> None:
        wanted = {
            "invocation_logs": {"team_id"},
            "audit_logs": {"team_id"},
            "console_logs": {"invocation_id"},
            "http_logs": {"invocation_id"},
            "large_log_message": {"invocation_id", "message_id"},
        }
        for name, placeholders in wanted.items():
            template = getattr(self, name)
            found = set(re.findall(r"\{(\w*)\}", template))
            if not template.startswith("/") or found != placeholders or " " in template or "?" in template:
                need = ", ".join("{" + p + "}" for p in sorted(placeholders))
                raise ContractValueError(name, f"expected a path starting with '/' holding {need}, got {template!r}")


@dataclass(frozen=True)
class WindowParams:
    """The time window of a listing: parameter names, time format, and whether ``to`` is inclusive.

    The provider always exports exactly ``[start, end)``: it asks for a window that holds it (rounded
    out to the format's unit) and drops the records outside itself.
    """

    basis: typing.ClassVar[str] = "ASSUMED: no source names them"
    from_param: str = "from"
    to_param: str = "to"
    time_format: TimeFormat = "iso-ms"
    to_inclusive: bool = False

    def __post_init__(self) -> None:
        _check_names(self)
        if self.from_param == self.to_param:
            raise ContractValueError("to_param", "must differ from from_param")


PaginationStyle = Literal["cursor", "page", "offset"]
LastPage = Literal["field", "short", "empty"]


@dataclass(frozen=True)
class Pagination:
    """How a listing asks for its next page, and how it knows it has the last one.

    ``style``: ``cursor`` (an opaque token in ``next_field``, sent back as ``param``), ``page`` (page
    numbers from ``first_page`` in ``param``) or ``offset`` (a record offset in ``param``, the page size
    in ``size_param`` as its limit). ``last_page``: ``field`` = the reply says it (exactly one of
    ``next_field``, ``total_pages_field`` (page style only), ``total_count_field``, ``has_more_field``),
    ``short`` = a page shorter than asked for is the last, ``empty`` = an empty page is. Response
    fields are dotted keys. A short or empty page never ends a walk unless ``last_page`` says so.
    """

    basis: typing.ClassVar[str] = "ASSUMED: no source names the scheme; `pageSize` is CONFIRMED numeric"
    #: The reply fields that can tell the end of a walk.
    END_FIELDS: typing.ClassVar[tuple[str, ...]] = (
        "next_field",
        "total_pages_field",
        "total_count_field",
        "has_more_field",
    )
    style: PaginationStyle = "cursor"
    param: str = "nextToken"
    next_field: str | None = "nextToken"
    first_page: int = 1
    total_pages_field: str | None = None
    total_count_field: str | None = None
    has_more_field: str | None = None
    last_page: LastPage = "field"
    size_param: str = "pageSize"
    size_max: int = 100
    size_default: int = 100

    def __post_init__(self) -> None:
        _check_names(self, dotted=self.END_FIELDS)
        ends = {name: getattr(self, name) for name in self.END_FIELDS if getattr(self, name) is not None}
        if self.size_max < 1 or not 1 <= self.size_default <= self.size_max:
            raise ContractValueError("size_default", "expected 1 <= size_default <= size_max")
        if self.first_page < 0:
            raise ContractValueError("first_page", "expected 0 or more")
        if self.param == self.size_param:
            raise ContractValueError("size_param", "must differ from param")
        if self.style == "cursor":
            if self.last_page != "field" or set(ends) != {"next_field"}:
                raise ContractValueError(
                    "next_field", "a cursor walk takes next_field (the token) with last_page 'field', and no other"
                )
            return
        if self.last_page != "field":
            if ends:
                raise ContractValueError(sorted(ends)[0], f"must be null when last_page is {self.last_page!r}")
            return
        if len(ends) != 1:
            raise ContractValueError(
                "last_page",
                "with last_page 'field', set exactly one of next_field, total_pages_field, total_count_field, "
                "has_more_field",
            )
        if self.style == "offset" and "total_pages_field" in ends:
            raise ContractValueError("total_pages_field", "an offset walk takes total_count_field instead")


@dataclass(frozen=True)
class Filters:
    """The invocation listing's filters and sort: names, multi-value encoding, and the sort asked for.

    ``order_by_param`` / ``order_direction_param`` null: the server takes no sort parameter, and its
    own order is archived as it comes.
    """

    basis: typing.ClassVar[str] = (
        "`executionStatuses`, `triggerTypes` and `orderBy` are CONFIRMED; the encoding and direction are ASSUMED"
    )
    execution_statuses_param: str = "executionStatuses"
    trigger_types_param: str = "triggerTypes"
    multi_value: Literal["repeat", "comma"] = "repeat"
    order_by_param: str | None = "orderBy"
    order_by: str = "startTime"
    order_direction_param: str | None = "orderDirection"
    ascending: str = "asc"
    descending: str = "desc"

    def __post_init__(self) -> None:
        _check_names(self)
        if self.ascending == self.descending:
            raise ContractValueError("descending", "must differ from ascending")

    def direction(self, provider_direction: str) -> str:
        """The wire spelling of ``asc`` or ``desc``."""
        return self.ascending if provider_direction == ORDER_DIRECTIONS[0] else self.descending


@dataclass(frozen=True)
class Listing:
    """Where a listing reply holds its records: a dotted key of a JSON object, or null for a bare list."""

    basis: typing.ClassVar[str] = "ASSUMED: not documented"
    wrapper: str | None = "items"

    def __post_init__(self) -> None:
        _check_names(self, dotted=("wrapper",))


@dataclass(frozen=True)
class InvocationFields:
    """Wire names of an invocation record's fields (the archive keeps records as they come)."""

    basis: typing.ClassVar[str] = "ASSUMED: names follow the runtime context and `orderBy`; `dropReason` CONFIRMED"
    id: str = InvocationField.ID
    start_time: str = InvocationField.START_TIME
    execution_status: str = InvocationField.EXECUTION_STATUS
    trigger_type: str = InvocationField.TRIGGER_TYPE
    root_trigger_type: str = InvocationField.ROOT_TRIGGER_TYPE
    workspace: str = InvocationField.WORKSPACE
    environment: str = InvocationField.ENVIRONMENT
    script: str = InvocationField.SCRIPT
    duration: str = InvocationField.DURATION
    console_logs: str = InvocationField.CONSOLE_LOGS
    http_logs: str = InvocationField.HTTP_LOGS
    drop_reason: str = InvocationField.DROP_REASON

    def __post_init__(self) -> None:
        _check_names(self)
        _distinct(self)


@dataclass(frozen=True)
class AuditFields:
    """Wire names of an audit record's fields."""

    basis: typing.ClassVar[str] = "ASSUMED: UI columns are documented (SRC docs: audit logs), JSON names are not"
    id: str = AuditField.ID
    date: str = AuditField.DATE
    actor: str = AuditField.ACTOR
    action: str = AuditField.ACTION
    ip_address: str = AuditField.IP_ADDRESS
    related_entities: str = AuditField.RELATED_ENTITIES
    metadata: str = AuditField.METADATA

    def __post_init__(self) -> None:
        _check_names(self)
        _distinct(self)


@dataclass(frozen=True)
class Records:
    """The record shapes: field names of both log types and the format of record times."""

    basis: typing.ClassVar[str] = "ASSUMED: the runtime context uses epoch ms; ISO-8601 is read too"
    invocation: InvocationFields = field(default_factory=InvocationFields)
    audit: AuditFields = field(default_factory=AuditFields)
    time_format: TimeFormat = "iso-ms"


class Spellings(Mapping[str, str]):
    """An immutable provider name -> wire spelling map: hashable, picklable, equal to any equal mapping."""

    def __init__(self, pairs: Mapping[str, str]) -> None:
        self._pairs = dict(pairs)

    def __getitem__(self, name: str) -> str:
        return self._pairs[name]

    def __iter__(self) -> typing.Iterator[str]:
        return iter(self._pairs)

    def __len__(self) -> int:
        return len(self._pairs)

    def __hash__(self) -> int:
        return hash(frozenset(self._pairs.items()))

    def __repr__(self) -> str:
        return f"Spellings({self._pairs!r})"

    def __reduce__(self) -> tuple[type[Spellings], tuple[dict[str, str]]]:
        return Spellings, (self._pairs,)


def _spellings(names: tuple[str, ...]) -> Spellings:
    return Spellings({name: name for name in names})


@dataclass(frozen=True)
class Enums:
    """Wire spellings of the provider's execution statuses and trigger types (provider name -> wire)."""

    basis: typing.ClassVar[str] = "ASSUMED: UI labels and runtime names are documented, API spellings are not"
    statuses: Mapping[str, str] = field(default_factory=lambda: _spellings(EXECUTION_STATUSES))
    trigger_types: Mapping[str, str] = field(default_factory=lambda: _spellings(TRIGGER_TYPES))

    def __post_init__(self) -> None:
        for name, provider in (("statuses", EXECUTION_STATUSES), ("trigger_types", TRIGGER_TYPES)):
            spelled = getattr(self, name)
            if set(spelled) != set(provider) or len(set(spelled.values())) != len(spelled):
                raise ContractValueError(name, "expected one distinct wire spelling for each provider name")
            object.__setattr__(self, name, Spellings(spelled))

    def status_of(self, wire: object) -> str | None:
        """The provider name of a wire status, or None for a spelling outside the contract."""
        return next((name for name, spelled in self.statuses.items() if spelled == wire), None)

    def trigger_of(self, wire: object) -> str | None:
        """The provider name of a wire trigger type, or None for a spelling outside the contract."""
        return next((name for name, spelled in self.trigger_types.items() if spelled == wire), None)


@dataclass(frozen=True)
class LogDelivery:
    """How the console-log, HTTP-log and large-message endpoints answer.

    ``mode``: ``url`` = a JSON object whose ``url_field`` is a presigned download URL (CONFIRMED), or
    ``inline`` = the reply is the log file itself. "Emitted no logs" (``no_logs``): a null URL or an
    empty body (the provider accepts both). "Not stored (yet)": ``not_stored_status`` (CONFIRMED 404).
    """

    basis: typing.ClassVar[str] = "delivery by URL and 404 CONFIRMED (SRC release notes, 21 Sep 2026); keys ASSUMED"
    mode: Literal["url", "inline"] = "url"
    url_field: str = "url"
    no_logs: Literal["null-url", "empty-body"] = "null-url"
    not_stored_status: int = 404

    def __post_init__(self) -> None:
        _check_names(self, dotted=("url_field",))
        if not 400 <= self.not_stored_status < 500 or self.not_stored_status in (401, 403, STATUS_THROTTLED):
            raise ContractValueError("not_stored_status", "expected a 4xx status other than 401, 403 and 429")


@dataclass(frozen=True)
class ConsoleFields:
    """Wire names of a console line's fields; ``large_message_id`` marks an oversized line."""

    basis: typing.ClassVar[str] = "ASSUMED"
    timestamp: str = ConsoleLineField.TIMESTAMP
    level: str = ConsoleLineField.LEVEL
    source: str = ConsoleLineField.SOURCE
    message: str = ConsoleLineField.MESSAGE
    large_message_id: str = ConsoleLineField.LARGE_MESSAGE_ID

    def __post_init__(self) -> None:
        _check_names(self)
        _distinct(self)


@dataclass(frozen=True)
class LogFiles:
    """The downloaded files: their wrapper keys (null = a bare list), console line fields, large messages.

    ``large_message_field`` null: a large message is served as raw text; else a JSON object whose
    dotted key holds the text.
    """

    basis: typing.ClassVar[str] = 'ASSUMED: the SRC CLI calls the files "mostly wrapper"; HTTP entries CONFIRMED'
    console_wrapper: str | None = "logs"
    http_wrapper: str | None = "logs"
    console: ConsoleFields = field(default_factory=ConsoleFields)
    large_message_field: str | None = None

    def __post_init__(self) -> None:
        _check_names(self, dotted=("console_wrapper", "http_wrapper", "large_message_field"))


@dataclass(frozen=True)
class ErrorBody:
    """The fields of an error reply's JSON body."""

    basis: typing.ClassVar[str] = "ASSUMED: the CLI prints a JSON error envelope"
    message_field: str = "message"
    code_field: str = "code"

    def __post_init__(self) -> None:
        _check_names(self, dotted=("message_field", "code_field"))


def _disjoint(key: str, dotted: list[str | None]) -> None:
    """Dotted keys of one reply must not hold one another (``data`` and ``data.next`` cannot both be)."""
    keys = [k for k in dotted if k is not None]
    for i, one in enumerate(keys):
        for other in keys[i + 1 :]:
            if one == other or other.startswith(one + ".") or one.startswith(other + "."):
                raise ContractValueError(key, f"the keys {one!r} and {other!r} overlap in one reply")


def _distinct(group: object) -> None:
    seen: dict[str, str] = {}
    for f in dataclasses.fields(group):  # type: ignore[arg-type]
        value = getattr(group, f.name)
        if value in seen:
            raise ContractValueError(f.name, f"{value!r} is already the name of {seen[value]}")
        seen[value] = f.name


@dataclass(frozen=True)
class Contract:
    """Everything assumed about SRC's wire format, one group per concern. ``DEFAULT`` is today's."""

    paths: Paths = field(default_factory=Paths)
    window: WindowParams = field(default_factory=WindowParams)
    pagination: Pagination = field(default_factory=Pagination)
    filters: Filters = field(default_factory=Filters)
    listing: Listing = field(default_factory=Listing)
    records: Records = field(default_factory=Records)
    enums: Enums = field(default_factory=Enums)
    logs: LogDelivery = field(default_factory=LogDelivery)
    log_files: LogFiles = field(default_factory=LogFiles)
    errors: ErrorBody = field(default_factory=ErrorBody)

    def __post_init__(self) -> None:
        if self.listing.wrapper is None and self.pagination.last_page == "field":
            raise ContractValueError(
                "listing.wrapper", "a bare-list reply has no room for a next-page field: set pagination.last_page"
            )
        p = self.pagination
        _disjoint(
            "listing.wrapper",
            [self.listing.wrapper, *(getattr(p, name) for name in p.END_FIELDS)],
        )
        _disjoint("errors.code_field", [self.errors.message_field, self.errors.code_field])

    def override(self, changes: object, *, where: str = "contract") -> Contract:
        """This contract with ``changes`` (a JSON object, or its text) laid over it key by key.

        Raises ``SRConnectParamError`` naming the dotted key (``where.group.key``) and what it accepts.
        """
        if isinstance(changes, str):
            try:
                changes = json.loads(changes) if changes.strip() else {}
            except ValueError as exc:
                raise SRConnectParamError(where, f"is not valid JSON ({exc})", "Give a JSON object.") from None
        try:
            merged: Contract = _merge(self, changes, where)
            return merged
        except ContractValueError as exc:
            raise SRConnectParamError(f"{where}.{exc.key}", str(exc), _ACCEPTS) from None

    def as_json(self) -> dict[str, Any]:
        """The whole contract as the JSON an override is written in."""
        whole: dict[str, Any] = _to_json(self)
        return whole

    def changes_from(self, base: Contract) -> dict[str, Any]:
        """The smallest override that turns ``base`` into this contract."""
        changes: dict[str, Any] = _diff(_to_json(base), _to_json(self))
        return changes

    def fingerprint(self) -> str:
        """A short digest of the whole contract (for manifests and bug reports)."""
        text = json.dumps(self.as_json(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:16]


_ACCEPTS = "See the accepted keys and values in docs/contract.md, or leave the key out to keep the default."


def _merge(group: Any, changes: object, where: str) -> Any:
    """``group`` (a dataclass) with the JSON object ``changes`` laid over it, checked."""
    if not isinstance(changes, dict):
        raise SRConnectParamError(where, f"expected a JSON object, got {type(changes).__name__}", _ACCEPTS)
    hints = typing.get_type_hints(type(group))
    known = {f.name: f for f in dataclasses.fields(group)}
    values: dict[str, Any] = {}
    for key, value in changes.items():
        dotted = f"{where}.{key}"
        if key not in known:
            raise SRConnectParamError(dotted, "is not a key of the contract", f"Use one of: {', '.join(known)}.")
        values[key] = _value(getattr(group, key), hints[key], value, dotted)
    try:
        return dataclasses.replace(group, **values)
    except ContractValueError as exc:
        raise SRConnectParamError(f"{where}.{exc.key}", str(exc), _ACCEPTS) from None


def _value(current: Any, hint: Any, value: object, dotted: str) -> Any:
    """One override value, checked against the field's type."""
    if dataclasses.is_dataclass(current):
        return _merge(current, value, dotted)
    if isinstance(current, Mapping):
        if not isinstance(value, dict) or not all(isinstance(v, str) and v for v in value.values()):
            raise SRConnectParamError(dotted, "expected an object of non-empty texts", _ACCEPTS)
        unknown = sorted(set(value) - set(current))
        if unknown:
            raise SRConnectParamError(f"{dotted}.{unknown[0]}", "is not a provider name", f"Use: {', '.join(current)}.")
        return {**current, **value}
    args = typing.get_args(hint)
    optional = type(None) in args
    if value is None:
        if optional:
            return None
        raise SRConnectParamError(dotted, "may not be null", _ACCEPTS)
    literals = [a for a in args if isinstance(a, str)]
    if typing.get_origin(hint) is Literal or literals:
        choices = literals or list(typing.get_args(hint))
        if value not in choices:
            raise SRConnectParamError(
                dotted, f"unknown value {value!r}", f"Use one of: {', '.join(map(repr, choices))}."
            )
        return value
    base = next((a for a in args if a is not type(None)), hint)
    if base is bool and not isinstance(value, bool):
        raise SRConnectParamError(dotted, f"expected true or false, got {value!r}", _ACCEPTS)
    if base is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise SRConnectParamError(dotted, f"expected a whole number, got {value!r}", _ACCEPTS)
    if base is str and not isinstance(value, str):
        raise SRConnectParamError(dotted, f"expected text, got {value!r}", _ACCEPTS)
    return value


def _to_json(group: Any) -> Any:
    if dataclasses.is_dataclass(group):
        return {f.name: _to_json(getattr(group, f.name)) for f in dataclasses.fields(group)}
    if isinstance(group, Mapping):
        return dict(group)
    return group


def _diff(base: Any, target: Any) -> Any:
    if isinstance(base, dict) and isinstance(target, dict):
        out = {k: _diff(base.get(k), v) for k, v in target.items() if base.get(k) != v}
        return out
    return target


#: The contract this provider assumes today.
DEFAULT: Final = Contract()


def load(changes: object, *, where: str = "contract") -> Contract:
    """``DEFAULT`` with an override laid over it (None or empty: ``DEFAULT`` itself)."""
    if changes is None or changes == "" or changes == {}:
        return DEFAULT
    return DEFAULT.override(changes, where=where)


# --- The README's table ---------------------------------------------------------------------------


def _show(value: Any) -> str:
    if isinstance(value, Mapping):
        if all(k == v for k, v in value.items()):
            return "as the provider spells them: " + ", ".join(f"`{v}`" for v in value.values())
        return ", ".join(f"{k}=`{v}`" for k, v in value.items())
    return f"`{value}`" if isinstance(value, str) else f"`{json.dumps(value)}`"


#: Assumptions outside the overridable contract (key, assumed, basis): they hold for every connection.
FIXED_ASSUMPTIONS: Final = (
    ("throttling", f"429 may carry `{RETRY_AFTER_HEADER}` (seconds or HTTP date)", "429 CONFIRMED; headers ASSUMED"),
    (
        "reporting pages",
        f"`{REPORTING_INVOCATIONS_PATH}`, `{REPORTING_AUDIT_PATH}` under the region's app URL (the extra link)",
        "the pages are documented, their routes ASSUMED",
    ),
)


def assumptions_markdown(contract: Contract = DEFAULT, *, per_key: bool = False) -> str:
    """The "Assumed API contract" table made from ``contract``: a row per group (the README's), or per key."""
    rows = ["| key | default | basis |", "|---|---|---|"]

    def walk(group: Any, prefix: str) -> list[str]:
        cells = []
        for f in dataclasses.fields(group):
            value = getattr(group, f.name)
            if dataclasses.is_dataclass(value):
                cells += walk(value, f"{prefix}{f.name}.")
                continue
            basis = type(group).basis.replace("|", "/")  # type: ignore[attr-defined]
            if per_key:
                rows.append(f"| `{prefix}{f.name}` | {_show(value)} | {basis} |")
            cells.append(f"{prefix}{f.name} = {_show(value)}")
        return cells

    for f in dataclasses.fields(contract):
        cells = walk(getattr(contract, f.name), f"{f.name}.")
        if not per_key:
            basis = type(getattr(contract, f.name)).basis.replace("|", "/")
            rows.append(f"| `{f.name}` | {'<br>'.join(c.removeprefix(f.name + '.') for c in cells)} | {basis} |")
    rows += [f"| {key} (fixed) | {value} | {basis} |" for key, value, basis in FIXED_ASSUMPTIONS]
    return "\n".join(rows)


if __name__ == "__main__":
    import sys

    print(assumptions_markdown(per_key="--per-key" in sys.argv[1:]))
