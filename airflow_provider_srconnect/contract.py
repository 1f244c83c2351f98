"""The ScriptRunner Connect (SRC) public REST API, as far as this provider knows it.

This module is the only place that spells the wire contract: paths, query-parameter names, the
pagination scheme, page-size limits, the response wrapper, record field names and enum spellings.
The hook reads it to call the API and the sandbox reads it to serve the API, so both move together.

What the vendor documents is marked CONFIRMED with its source (see ``shared/srconnect-api-facts.md``).
Everything else is an assumption: each is marked ASSUMED where it is written and listed in
``ASSUMPTIONS`` (the README's "Assumed API contract" table is generated from that list, and a test
keeps the two equal). Once the official OpenAPI spec is available, each assumption is a one-line
change here.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Final

from airflow_provider_srconnect._paging import CursorPagination, PageNumberPagination

#: Bumped whenever anything below changes; recorded in every archive manifest.
CONTRACT_VERSION: Final = "1"

# --- Hosts and auth -------------------------------------------------------------------------------

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

# --- Paths (CONFIRMED [RN26]) ---------------------------------------------------------------------

INVOCATION_LOGS_PATH: Final = "/v1/team/{team_id}/invocationLogs"
AUDIT_LOGS_PATH: Final = "/v1/team/{team_id}/auditLogs"
CONSOLE_LOGS_PATH: Final = "/v1/invocation/{invocation_id}/consoleLogs"
HTTP_LOGS_PATH: Final = "/v1/invocation/{invocation_id}/httpLogs"
LARGE_LOG_MESSAGE_PATH: Final = "/v1/invocation/{invocation_id}/largeLogMessage/{message_id}"

# --- Query parameters -----------------------------------------------------------------------------

PARAM_PAGE_SIZE: Final = "pageSize"  # CONFIRMED [RN26]: numeric, on both listings
PARAM_ORDER_BY: Final = "orderBy"  # CONFIRMED [RN26]
#: CONFIRMED [RN26]: the whitelist, case-sensitive.
ORDER_BY_VALUES: Final = frozenset({"workspace", "environment", "duration", "consoleLogs", "httpLogs", "startTime"})
#: The order the provider asks for: oldest first, so pages follow time and reruns give the same order.
DEFAULT_ORDER_BY: Final = "startTime"
PARAM_EXECUTION_STATUSES: Final = "executionStatuses"  # CONFIRMED [RN26]
PARAM_TRIGGER_TYPES: Final = "triggerTypes"  # CONFIRMED [RN26]
PARAM_ORDER_DIRECTION: Final = "orderDirection"  # ASSUMED
ORDER_DIRECTIONS: Final = ("asc", "desc")  # ASSUMED
DEFAULT_ORDER_DIRECTION: Final = "asc"
PARAM_FROM: Final = "from"  # ASSUMED: inclusive lower bound on the record's time
PARAM_TO: Final = "to"  # ASSUMED: exclusive upper bound on the record's time
#: ASSUMED: a multi-value filter is sent as a repeated key (?a=X&a=Y), not a comma list.
MULTI_VALUE_AS_REPEATED_KEY: Final = True

# --- Pagination and page sizes (ASSUMED) ----------------------------------------------------------

#: ASSUMED: an opaque cursor. The other known scheme is one line away:
#: ``PAGINATION = PageNumberPagination(request_param="page", first_page=1)``.
PAGINATION: CursorPagination | PageNumberPagination = CursorPagination(
    request_param="nextToken", response_field="nextToken"
)
PAGE_SIZE_MAX: Final = 100  # ASSUMED
PAGE_SIZE_DEFAULT: Final = 100
ITEMS_FIELD: Final = "items"  # ASSUMED: the key of the record list in a listing response

# --- Records --------------------------------------------------------------------------------------


class InvocationField:
    """Field names of an invocation-log record."""

    ID: Final = "invocationId"  # ASSUMED (runtime context [LOCAL])
    START_TIME: Final = "startTime"  # ASSUMED name and format (see TIME_FORMAT)
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
    """Fields of a console-log line (ASSUMED: the UI shows date, source, type and message [CON];
    the JSON names are not documented). ``LARGE_MESSAGE_ID_FIELD`` marks an oversized line."""

    TIMESTAMP: Final = "timestamp"
    LEVEL: Final = "level"
    SOURCE: Final = "source"
    MESSAGE: Final = "message"


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


#: ASSUMED spellings (UI labels CONFIRMED [SIL]); the API rejects unknown values [RN26].
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
#: Spellings CONFIRMED for the script runtime [TEST]; that the API uses the same is ASSUMED.
TRIGGER_TYPES: Final = ("EXTERNAL", "MANUAL", "SCHEDULED", "MANUAL_EVENT_LISTENER", "CHAINED")
TRIGGER_CHAINED: Final = "CHAINED"

# --- Log downloads --------------------------------------------------------------------------------

#: CONFIRMED [RN26]: console/HTTP logs and large messages come as a URL to download. The key is ASSUMED.
DOWNLOAD_URL_FIELD: Final = "url"
#: ASSUMED: a console-log file is ``{"logs": [line, ...]}`` (the CLI calls it "mostly wrapper" [CLIWF]).
CONSOLE_LINES_FIELD: Final = "logs"
#: ASSUMED: an HTTP-log file is ``{"logs": [entry, ...]}``; entries follow [HTTPL].
HTTP_ENTRIES_FIELD: Final = "logs"
#: ASSUMED: a console line points at a stored large message through this key.
LARGE_MESSAGE_ID_FIELD: Final = "largeMessageId"

# --- Status codes and headers ---------------------------------------------------------------------

STATUS_NOT_STORED: Final = 404  # CONFIRMED [RN26]: logs not stored (yet)
STATUS_THROTTLED: Final = 429  # CONFIRMED [REST]
RETRY_AFTER_HEADER: Final = "Retry-After"  # ASSUMED: not documented; honoured when present
#: ASSUMED: an error body is ``{"code": "...", "message": "..."}`` (the CLI prints "a JSON error envelope").
ERROR_MESSAGE_FIELD: Final = "message"
ERROR_CODE_FIELD: Final = "code"

# --- Time, limits and retention -------------------------------------------------------------------

#: ASSUMED: times on the wire are ISO-8601 UTC with milliseconds; records may also carry epoch ms.
TIME_FORMAT: Final = "%Y-%m-%dT%H:%M:%S.{ms:03d}Z"
RETENTION_MONTHS: Final = 6  # CONFIRMED [SIL; AUD]
MAX_INVOCATION_DURATION: Final = dt.timedelta(minutes=15)  # CONFIRMED [LIM]
RATE_LIMIT_FREE_PER_SECOND: Final = 5  # CONFIRMED [LIM]: per user
GATEWAY_TIMEOUT_SECONDS: Final = 25  # guess from [CLIWF]: the API cuts requests off at 25 s


def format_time(moment: dt.datetime) -> str:
    """Render an aware datetime the way the API takes it (ASSUMED format)."""
    if moment.tzinfo is None:
        raise ValueError("times sent to SRC must be timezone-aware")
    utc = moment.astimezone(dt.UTC)
    return utc.strftime(TIME_FORMAT).format(ms=utc.microsecond // 1000)


def parse_time(value: object) -> dt.datetime:
    """Read a record time: ISO-8601 text or epoch milliseconds (the format is ASSUMED, so both)."""
    if isinstance(value, bool):
        raise ValueError(f"not a time: {value!r}")
    if isinstance(value, (int, float)):
        return dt.datetime.fromtimestamp(value / 1000, tz=dt.UTC)
    if isinstance(value, str):
        parsed = dt.datetime.fromisoformat(value)
        if parsed.tzinfo is None:
            raise ValueError(f"time without a zone: {value!r}")
        return parsed.astimezone(dt.UTC)
    raise ValueError(f"not a time: {value!r}")


# --- The list the README table is made from -------------------------------------------------------


@dataclass(frozen=True)
class Assumption:
    """One part of the wire contract that no source confirms."""

    topic: str
    value: str
    basis: str


ASSUMPTIONS: Final = (
    Assumption(
        "Pagination",
        "opaque cursor: `nextToken` in the response, sent back as `?nextToken=`; "
        "page-number (`?page=N`) is one line away",
        "no source names the scheme",
    ),
    Assumption(
        "Page size",
        f"maximum {PAGE_SIZE_MAX}; the provider asks for {PAGE_SIZE_DEFAULT}",
        "`pageSize` is confirmed numeric; no limit is documented",
    ),
    Assumption(
        "Time window",
        "`from` (inclusive) and `to` (exclusive), ISO-8601 UTC with milliseconds; "
        "the provider also drops records outside `[from, to)` itself",
        "no source names them",
    ),
    Assumption(
        "Record times",
        "`startTime` (invocations) and `date` (audit): ISO-8601, or epoch ms",
        "the script runtime context uses epoch ms (SRC docs: running scripts locally)",
    ),
    Assumption(
        "Sort direction",
        "`orderDirection=asc` or `desc`; the provider asks `orderBy=startTime&orderDirection=asc`",
        "`orderBy` is confirmed; direction is not documented",
    ),
    Assumption(
        "Multi-value filters",
        "repeated key: `?executionStatuses=A&executionStatuses=B`",
        "serialisation not documented",
    ),
    Assumption("Response wrapper", '`{"items": [...], "nextToken": ...}`', "not documented"),
    Assumption(
        "Invocation record",
        "`invocationId`, `startTime`, `executionStatus`, `triggerType`, "
        "`rootTriggerType`, `workspace`, `environment`, `script`, `duration` (ms), `consoleLogs`, `httpLogs` "
        "(counts); `dropReason` is confirmed",
        "names follow the runtime context and `orderBy` values",
    ),
    Assumption(
        "Audit record",
        "`id`, `date`, `actor`, `action`, `ipAddress`, `relatedEntities`, `metadata`",
        "UI columns are documented (SRC docs: audit logs), JSON names are not",
    ),
    Assumption(
        "Execution statuses",
        ", ".join(EXECUTION_STATUSES),
        "UI labels are documented (SRC docs: script invocation logs), API spellings are not",
    ),
    Assumption("Trigger types", ", ".join(TRIGGER_TYPES), "documented for the script runtime, not for the API"),
    Assumption(
        "Download URL",
        '`{"url": "..."}`; a presigned URL that expires (403 when expired); '
        "2xx with no body or a null URL = no logs emitted",
        "delivery by URL is documented (SRC release notes, 21 Sep 2026)",
    ),
    Assumption(
        "Log files",
        'console: `{"logs": [line]}` with `largeMessageId` on oversized lines; HTTP: `{"logs": [entry]}`',
        'the SRC CLI calls the files "mostly wrapper"; HTTP entry fields are documented (SRC docs: HTTP logs)',
    ),
    Assumption("Throttling", "429 may carry `Retry-After` (seconds or HTTP date)", "429 confirmed; headers not"),
    Assumption("Error body", '`{"code": "...", "message": "..."}`', "the CLI prints a JSON error envelope"),
    Assumption(
        "Reporting pages (web app)",
        f"`{REPORTING_INVOCATIONS_PATH}` and `{REPORTING_AUDIT_PATH}` under the region's app URL "
        "(the task's extra link)",
        "the pages are documented (SRC docs: script invocation logs, audit logs), their routes are not",
    ),
)


def assumptions_markdown() -> str:
    """The README's "Assumed API contract" table."""
    rows = ["| topic | assumed | basis |", "|---|---|---|"]
    rows += [f"| {a.topic} | {a.value} | {a.basis} |" for a in ASSUMPTIONS]
    return "\n".join(rows)


if __name__ == "__main__":
    print(assumptions_markdown())
