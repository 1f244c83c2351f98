"""The archived record schema: one versioned declaration per log type, for the docs, Parquet and SQL.

An archive holds one kind of record per log type: invocation records (with the console lines and
HTTP-log entries the export attaches) and audit records. This module declares each field once: its
name (the provider's own, from ``contract``'s ``*Field`` classes), its type, when it is null, and
whether its name and shape are confirmed, assumed (resting on a group of the wire contract, such as
``records``, ``enums`` or ``log_files``) or added by the export. Everything else is made from these
declarations: the Parquet columns (``_parquet``), the DuckDB views and the Athena and BigQuery DDL
(``sql``), and ``docs/schema.md`` (``python -m airflow_provider_srconnect.schema``).

JSON Lines archives hold each record as SRC served it plus the keys the export adds, so they need no
schema to be lossless. Parquet archives hold the declared fields as typed columns, and every record
level (record, console line, HTTP entry, related entity) has an ``extra`` column: the JSON text of
what its typed columns do not hold, so no field is ever dropped (see ``docs/schema.md``).

The typed columns keep the provider's names under any wire contract. Under a connection's contract
override that renames fields (``records``, ``log_files.console``) or spells times another way
(``records.time_format``), the fields under other wire names, and values a column cannot hold (epoch
seconds, say), are kept losslessly in the ``extra`` column of their level, exactly as SRC sent them.

Every value ``json.loads`` gives is archived, and read back equal: text with NUL and control
characters or of any length, values nested to any depth, integers beyond 64 bits (Parquet: in
``extra``, the int64 columns never wrap), floats (``repr``'s shortest round-trip text). A lone
surrogate (``"\\ud800"``: half of a UTF-16 pair, as a JavaScript string cut inside an emoji holds) has
no UTF-8 form: JSON Lines keep it as that JSON escape; Parquet holds U+FFFD in its place and the exact
fields under ``SURROGATES_KEY`` in ``extra`` (see ``_parquet`` and ``docs/schema.md``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from airflow_provider_srconnect import contract

#: Bumped whenever a declaration below changes; recorded in every manifest.
SCHEMA_VERSION: Final = "1"
#: The column of a record level that holds, as JSON text, what its typed columns do not.
EXTRA: Final = "extra"

# Keys the export adds to an invocation record when it attaches its logs (a leading "_" keeps them
# apart from any field SRC may add).
CONSOLE_LINES_KEY: Final = "_consoleLogLines"
HTTP_ENTRIES_KEY: Final = "_httpLogEntries"
FULL_MESSAGE_KEY: Final = "_fullMessage"
LOGS_NOT_STORED_KEY: Final = "_logsNotStored"
#: Parquet only, a key of an ``extra`` column: the exact JSON text of the fields that hold a lone surrogate.
SURROGATES_KEY: Final = "_loneSurrogates"

#: Where a field comes from when it is not ASSUMED: documented by SRC, or added by the export.
CONFIRMED: Final = "confirmed"
ADDED: Final = "added by the export"


@dataclass(frozen=True)
class Scalar:
    """A leaf type. ``json`` is JSON text: a free-form object kept whole."""

    name: str


STRING: Final[Scalar] = Scalar("string")
INT64: Final[Scalar] = Scalar("int64")
BOOL: Final[Scalar] = Scalar("bool")
#: Milliseconds since the epoch, UTC; on the wire ISO-8601 text or epoch ms (the contract's ``records.time_format``).
TIMESTAMP: Final[Scalar] = Scalar("timestamp")
JSON: Final[Scalar] = Scalar("json")


@dataclass(frozen=True)
class Field:
    """One field of a record.

    :param source: ``CONFIRMED``, ``ADDED``, or the group of the wire contract (a field of ``contract.Contract``,
        such as ``records``) whose assumption it rests on.
    :param null: when the value is null (empty: SRC always sends it).
    """

    name: str
    type: Scalar | Struct | ListOf
    doc: str
    source: str
    null: str = ""


@dataclass(frozen=True)
class Struct:
    """An object. With ``extra``, it is a record level: it has its own ``extra`` column."""

    title: str
    fields: tuple[Field, ...]
    extra: bool = False


@dataclass(frozen=True)
class ListOf:
    """A list of record-level objects (each keeps its own ``extra``)."""

    item: Struct

    def __post_init__(self) -> None:
        if not self.item.extra:
            raise ValueError(f"the items of a list keep their own extra column: {self.item.title}")


# The groups of the wire contract (fields of ``contract.Contract``) that assumed fields rest on.
_RECORDS = "records"
_ENUMS = "enums"
_LOG_FILES = "log_files"


def _named(what: str) -> Struct:
    f = contract.NamedField
    return Struct(
        what,
        (
            Field(f.ID, STRING, f"the {what}'s id", _RECORDS),
            Field(f.NAME, STRING, f"the {what}'s name", _RECORDS),
        ),
    )


def _body(null: str) -> Field:
    f = contract.HttpLogField
    return Field(
        f.BODY,
        Struct(
            "body",
            (
                Field(f.SIZE, INT64, "size of the whole body, in bytes", CONFIRMED),
                Field(f.TRUNCATED, BOOL, "whether `text` was cut (bodies over 1 KB are)", CONFIRMED),
                Field(f.TEXT, STRING, "the body, up to 1 KB", CONFIRMED),
            ),
        ),
        "the body",
        CONFIRMED,
        null,
    )


_H = contract.HttpLogField
CONSOLE_LINE: Final = Struct(
    "console line",
    (
        Field(contract.ConsoleLineField.TIMESTAMP, TIMESTAMP, "when the line was logged", _LOG_FILES),
        Field(
            contract.ConsoleLineField.LEVEL,
            STRING,
            "the type: DEBUG, INFO, WARN, ERROR or SUCCESS (the UI's Debug … Success)",
            _LOG_FILES,
        ),
        Field(contract.ConsoleLineField.SOURCE, STRING, "`Workspace` or the script's name", _LOG_FILES),
        Field(contract.ConsoleLineField.MESSAGE, STRING, "the line (cut, when it was too large)", _LOG_FILES),
        Field(
            contract.ConsoleLineField.LARGE_MESSAGE_ID,
            STRING,
            "the id of the stored full text of an oversized line",
            _LOG_FILES,
            "the line is not oversized",
        ),
        Field(FULL_MESSAGE_KEY, STRING, "the full text of an oversized line", ADDED, "the line is not oversized"),
    ),
    extra=True,
)

HTTP_ENTRY: Final = Struct(
    "HTTP log entry",
    (
        Field(_H.FETCH_ID, INT64, "number of the call within the invocation, from 1", CONFIRMED),
        Field(_H.CONNECTION_ID, STRING, "the connector used", CONFIRMED, "a plain fetch"),
        Field(_H.ORIGINAL_DURATION, INT64, "ms until the response", CONFIRMED),
        Field(_H.DURATION, INT64, "ms in total", CONFIRMED),
        Field(
            _H.REQUEST,
            Struct(
                "request",
                (
                    Field(_H.URL, STRING, "the URL called", CONFIRMED),
                    Field(_H.METHOD, STRING, "GET, POST, …", CONFIRMED),
                    Field(_H.HEADERS, JSON, "the headers, an object of strings", CONFIRMED),
                    Field(_H.RESPONSE_BODY, STRING, "`fetch` or `skip`", CONFIRMED),
                    Field(_H.TIME, TIMESTAMP, "when it was sent", CONFIRMED),
                    _body("the request has no body"),
                ),
            ),
            "the request",
            CONFIRMED,
        ),
        Field(
            _H.RESPONSE,
            Struct(
                "response",
                (
                    Field(_H.STATUS, INT64, "the HTTP status", CONFIRMED),
                    Field(_H.TIME, TIMESTAMP, "when it arrived", CONFIRMED),
                    Field(_H.HEADERS, JSON, "the headers, an object of strings", CONFIRMED),
                    _body(""),
                ),
            ),
            "the response",
            CONFIRMED,
        ),
    ),
    extra=True,
)

_I = contract.InvocationField
INVOCATION: Final = Struct(
    "invocation record",
    (
        Field(_I.ID, STRING, "the invocation's id", _RECORDS),
        Field(_I.START_TIME, TIMESTAMP, "when it started; the window is over this time", _RECORDS),
        Field(_I.EXECUTION_STATUS, STRING, "one of the execution statuses", _ENUMS),
        Field(_I.TRIGGER_TYPE, STRING, "one of the trigger types", _ENUMS),
        Field(_I.ROOT_TRIGGER_TYPE, STRING, "the trigger type of the chain's first invocation", _ENUMS),
        Field(_I.WORKSPACE, _named("workspace"), "the workspace", _RECORDS),
        Field(_I.ENVIRONMENT, _named("environment"), "the environment", _RECORDS),
        Field(_I.SCRIPT, _named("script"), "the script", _RECORDS),
        Field(_I.DURATION, INT64, "run time in ms", _RECORDS, "still running"),
        Field(_I.CONSOLE_LOGS, INT64, "number of console lines", _RECORDS),
        Field(_I.HTTP_LOGS, INT64, "number of HTTP calls", _RECORDS),
        Field(_I.DROP_REASON, STRING, "why SRC did not run it", CONFIRMED, "it was not dropped"),
        Field(
            CONSOLE_LINES_KEY,
            ListOf(CONSOLE_LINE),
            "its console lines, in order; oversized ones in full",
            ADDED,
            "its logs were not wanted (`include_logs`), its listing counts no lines (`consoleLogs` 0: it "
            "logged none), or they are not stored (`_logsNotStored`)",
        ),
        Field(
            HTTP_ENTRIES_KEY,
            ListOf(HTTP_ENTRY),
            "its HTTP calls, in order",
            ADDED,
            "its logs were not wanted, its listing counts no calls (`httpLogs` 0: it made none), or they "
            "are not stored (`_logsNotStored`)",
        ),
        Field(
            LOGS_NOT_STORED_KEY,
            BOOL,
            "true: its logs were wanted and are not in the archive, whatever its counts say. Either it had not "
            "ended (`RUNNING`: SRC stores logs when a run ends; with `include_logs='failed'` too, as it may yet "
            "fail), or SRC answered 404. Rerun the window once its runs have ended",
            ADDED,
            "its logs were not wanted, or are archived (the two keys above, as its counts say)",
        ),
    ),
    extra=True,
)

_A = contract.AuditField
AUDIT: Final = Struct(
    "audit record",
    (
        Field(_A.ID, STRING, "the event's id", _RECORDS),
        Field(_A.DATE, TIMESTAMP, "when it happened; the window is over this time", _RECORDS),
        Field(
            _A.ACTOR,
            Struct(
                "actor",
                (
                    Field(contract.ActorField.ID, STRING, "the user's id", _RECORDS),
                    Field(contract.ActorField.EMAIL, STRING, "the user's e-mail", _RECORDS),
                ),
            ),
            "who did it",
            _RECORDS,
        ),
        Field(_A.ACTION, STRING, "what was done: `resource(.sub_resource).action`", _RECORDS),
        Field(_A.IP_ADDRESS, STRING, "from where", _RECORDS),
        Field(
            _A.RELATED_ENTITIES,
            ListOf(
                Struct(
                    "related entity",
                    (
                        Field(contract.RelatedEntityField.TYPE, STRING, "`workspace`, `script`, …", _RECORDS),
                        Field(contract.RelatedEntityField.ID, STRING, "its id", _RECORDS),
                        Field(contract.RelatedEntityField.NAME, STRING, "its name", _RECORDS),
                    ),
                    extra=True,
                )
            ),
            "what it was done to",
            _RECORDS,
        ),
        Field(_A.METADATA, JSON, "free-form details (user agent, …)", _RECORDS),
    ),
    extra=True,
)

#: The record of each log type.
RECORDS: Final[dict[str, Struct]] = {"invocations": INVOCATION, "audit": AUDIT}

#: The sections of ``docs/schema.md`` on the keys the export adds and on the values it keeps (``sql.schema_markdown``).
LOGS_TEXT: Final = f"""
## Logs: archived, logged none, or not stored

With `include_logs='all'` (every invocation) or `'failed'` (those whose status is a failure, and those still
`RUNNING`, which may yet fail), the export asks SRC for an invocation's logs and adds to its record:

- `{CONSOLE_LINES_KEY}` and `{HTTP_ENTRIES_KEY}`: its console lines and HTTP calls, each when its listing
  counts some (`{contract.InvocationField.CONSOLE_LOGS}`, `{contract.InvocationField.HTTP_LOGS}` not 0). A count
  of 0 is not asked for: the key is absent, and the run logged no line (made no call). An empty list: SRC
  counted some and its file held none.
- `{LOGS_NOT_STORED_KEY}: true`, and neither list, whatever the counts say, when its logs are not in the archive:
  the run had not ended (`RUNNING`, as the connection's contract spells it: SRC stores logs when a run ends, so
  nothing is asked), or SRC answered 404 (not stored). The manifest's `logsNotStored` counts these records:
  rerun the window once its runs have ended (a settled window) to archive their logs.

A record with none of the three keys: its logs were not wanted (`include_logs='none'`, or a run that ended
without failing under `'failed'`), or its listing counts neither lines nor calls: it logged nothing.
"""

VALUES_TEXT: Final = f"""
## Every value SRC can send

Records are archived as `json.loads` reads them, whatever they hold, and read back equal (a property test
archives arbitrary JSON in both formats, under the default and the fixture contracts):

- text of any length (a 10 MB message), with NUL and control characters; fields of any name;
- values nested to any depth;
- integers of any size: JSON Lines hold their digits; in Parquet an int64 column holds only int64 values (never
  wrapped), and any other integer goes whole to `{EXTRA}`;
- floats as their shortest round-trip text (`5e-324`, `1.7976931348623157e+308`). JSON has no NaN or infinity,
  but Python's reader takes the tokens `NaN` and `Infinity`, and reads a number beyond the double range (`1e400`)
  as infinity: such a float is written `NaN`, `Infinity` or `-Infinity`, which Python reads back and strict
  JSON readers (DuckDB) refuse;
- a **lone surrogate**: half of a UTF-16 pair (`"\\ud83d"`, what a JavaScript string cut inside an emoji
  holds), legal in JSON but with no UTF-8 form. JSON Lines keep it as that escape, `\\ud83d`, which Python and
  JavaScript read back as the same string (DuckDB's `read_json` refuses such a line; with
  `ignore_errors = true` it reads that line's values as null). In Parquet, each field of a record level that
  holds one (in its value, at any depth, or in its name) keeps its typed column with U+FFFD (`\ufffd`) in place
  of each lone surrogate, and is kept exactly under the key `{SURROGATES_KEY}` of the level's `{EXTRA}`: the
  JSON text (lone surrogates as `\\udXXX` escapes) of an object holding every such field as sent, and nowhere
  else in `{EXTRA}`. So every text in the file is UTF-8 and every `{EXTRA}` is strict JSON. Read such a record
  back by merging `{EXTRA}` without `{SURROGATES_KEY}` over the typed columns, then setting the fields of
  `json.loads({EXTRA}["{SURROGATES_KEY}"])` over the result (a field SRC itself names `{SURROGATES_KEY}` is kept
  there too).

An invocation whose logs are wanted but cannot be asked for, because its id (or the large-message id of one of
its console lines) is missing, is neither text nor a number, or holds a lone surrogate (no URL can carry one),
fails the export with `SRConnectContractError`, which names the record by its id and start time: archive that
window with `include_logs='none'` (records are kept whole), or set the connection's contract to the field SRC
names it by.
"""


def contract_groups() -> set[str]:
    """The wire-contract groups the assumed declarations rest on (a test checks each is a ``Contract`` field)."""
    topics: set[str] = set()

    def walk(struct: Struct) -> None:
        for field in struct.fields:
            if field.source not in (CONFIRMED, ADDED):
                topics.add(field.source)
            inner = field.type.item if isinstance(field.type, ListOf) else field.type
            if isinstance(inner, Struct):
                walk(inner)

    for record in RECORDS.values():
        walk(record)
    return topics


if __name__ == "__main__":  # run from the repository's root: docs/queries/ is read from there
    from pathlib import Path

    from airflow_provider_srconnect.sql import schema_markdown

    queries = Path("docs", "queries")
    print(schema_markdown(queries if queries.is_dir() else None), end="")
