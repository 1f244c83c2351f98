"""Archive fixed records through the export and read them back the documented way, in both formats.

``ValuesHook`` serves given records and, per invocation id, given console lines, HTTP entries and large
message; ``archive`` writes one window in a format, ``read_back`` reads it: gzip + ``json.loads`` per line
(JSON Lines), or ``tests.test_formats.rebuild`` per row (Parquet: typed columns, ``extra`` merged over
them, then the exact fields that hold a lone surrogate). ``through_parquet`` is what the Parquet reading
gives for a record, by ``docs/schema.md``: null and missing fields alike, times as ISO text (ms).
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass, field
from typing import Any

import pendulum

from airflow_provider_srconnect import _parquet, contract, schema
from airflow_provider_srconnect.exceptions import SRConnectLogsNotStoredError
from airflow_provider_srconnect.schema import ListOf, Struct
from airflow_provider_srconnect.windows import LogWindow
from tests.client.conftest import OVERRIDES
from tests.stub_listing import ListsFromIter
from tests.test_formats import export, read_rows, rebuild

WINDOW = LogWindow(pendulum.datetime(2026, 11, 10, tz="UTC"), pendulum.datetime(2026, 11, 11, tz="UTC"))
#: The contracts under test: the default one and the two fixtures (``tests/contracts``).
CONTRACTS: dict[str, contract.Contract] = {name: contract.load(override) for name, override in OVERRIDES.items()}
FORMATS = ("jsonl.gz", "parquet")


@dataclass
class Logs:
    """What the log endpoints of one invocation serve."""

    console: list[Any] = field(default_factory=list)
    http: list[Any] = field(default_factory=list)
    large_message: str = ""
    #: False: the log endpoints answer "not stored" (SRC's 404).
    stored: bool = True


class ValuesHook(ListsFromIter):
    """The hook's reading methods over fixed records and logs; counts the log requests."""

    def __init__(
        self, wire: contract.Contract, records: list[dict[str, Any]], logs: dict[str, Logs] | None = None
    ) -> None:
        self.contract = wire
        self.records = records
        self.logs = logs or {}
        self.log_requests: list[tuple[str, str]] = []

    def iter_invocation_logs(self, start: Any, end: Any, **query: Any) -> Any:
        return iter([dict(record) for record in self.records])  # copies: the export adds keys to what it gets

    iter_audit_logs = iter_invocation_logs

    def _logs(self, kind: str, invocation: str) -> Logs:
        self.log_requests.append((kind, invocation))
        logs = self.logs[invocation]
        if not logs.stored:
            raise SRConnectLogsNotStoredError(f"404: no {kind} logs stored for {invocation}")
        return logs

    def get_console_logs(self, invocation: str) -> list[Any]:
        return [dict(line) if isinstance(line, dict) else line for line in self._logs("console", invocation).console]

    def get_http_logs(self, invocation: str) -> list[Any]:
        return list(self._logs("http", invocation).http)

    def get_large_log_message(self, invocation: str, message_id: str) -> str:
        return self._logs("large", invocation).large_message


def archive(hook: ValuesHook, output_format: str, **request: Any) -> tuple[bytes, Any]:
    """The window, archived in ``output_format`` (one data object) with its ``ExportResult``."""
    return export(hook, WINDOW, output_format=output_format, **request)


def read_back(data: bytes, output_format: str, log_type: str = "invocations") -> list[dict[str, Any]]:
    """The records of a data object, read as ``docs/schema.md`` says."""
    if output_format == "jsonl.gz":
        return [json.loads(line) for line in gzip.decompress(data).split(b"\n")[:-1]]
    return [rebuild(row, schema.RECORDS[log_type]) for row in read_rows(data)]


def through_parquet(value: Any, struct: Struct) -> Any:
    """A record as its Parquet reading gives it: declared fields that are null or missing read alike (here:
    dropped, at every record level and declared object), and times a timestamp column holds as its ISO text.

    Values a column does not hold (kept in ``extra``, or under the key of lone surrogates) read back exact.
    """
    if not isinstance(value, dict):
        return value
    kinds = {f.name: f.type for f in struct.fields}
    out: dict[str, Any] = {}
    for key, item in value.items():
        kind = kinds.get(key)
        if kind is None:
            out[key] = item
        elif item is None:
            continue
        elif isinstance(kind, Struct):
            out[key] = through_parquet(item, kind)
        elif isinstance(kind, ListOf) and isinstance(item, list) and all(isinstance(one, dict) for one in item):
            out[key] = [through_parquet(one, kind.item) for one in item]
        elif kind == schema.TIMESTAMP:
            out[key] = _column_time(item)
        else:
            out[key] = item
    return out


def _column_time(item: Any) -> Any:
    """A wire time as read back from its timestamp column (ISO text, ms, Z), or as sent if the column cannot hold it."""
    try:
        text = _parquet._timestamp(item)
    except _parquet._Misfit:
        return item
    return contract.format_time(contract.parse_time(text))
