"""The sandbox's data in the wire form of one contract: renamed fields, record times, enum spellings, bodies.

Records, console lines and HTTP entries are generated with the provider's own names (the ``*Field``
classes of ``contract``) and turned into what the contract puts on the wire only here, at the edge.
Under ``contract.DEFAULT`` every conversion is the identity, so the default replies stay byte-identical.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from airflow_provider_srconnect import contract

if TYPE_CHECKING:
    from airflow_provider_srconnect.contract import Contract

Record = dict[str, Any]
JSON = "application/json"
TEXT = "text/plain; charset=utf-8"
_F = contract.InvocationField
_A = contract.AuditField
_TRIGGER_FIELDS = (_F.TRIGGER_TYPE, _F.ROOT_TRIGGER_TYPE)
#: The pagination fields a listing reply may carry besides its records.
END_FIELDS = contract.Pagination.END_FIELDS
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_MS = dt.timedelta(milliseconds=1)


def _renames(names: type, group: object) -> dict[str, str]:
    """Provider name -> wire name, for a ``*Fields`` group whose keys are the ``*Field`` class's in lower case."""
    return {getattr(names, f.name.upper()): getattr(group, f.name) for f in dataclasses.fields(group)}  # type: ignore[arg-type]


def _identity(mapping: Mapping[str, str]) -> bool:
    return all(key == value for key, value in mapping.items())


def record_time(ms: int, time_format: contract.TimeFormat) -> str | int | float:
    """A time in epoch ms as the format writes it in a record (``epoch-s``: ms / 1000, an int when whole)."""
    if time_format == "iso-ms":
        return contract.format_time(_EPOCH + ms * _MS)
    if time_format == "epoch-ms":
        return ms
    return ms // 1000 if ms % 1000 == 0 else ms / 1000


def _ms(iso_text: str) -> int:
    return (contract.parse_time(iso_text) - _EPOCH) // _MS


class Wire:
    """Turns the sandbox's provider-named data into one contract's wire form."""

    def __init__(self, wire: Contract) -> None:
        self.contract = wire
        self.time_format = wire.records.time_format
        self._invocation = _renames(_F, wire.records.invocation)
        self._audit = _renames(_A, wire.records.audit)
        self._console = _renames(contract.ConsoleLineField, wire.log_files.console)
        self._statuses = dict(wire.enums.statuses)
        self._triggers = dict(wire.enums.trigger_types)
        iso = self.time_format == "iso-ms"
        enums_plain = _identity(self._statuses) and _identity(self._triggers)
        self._plain_invocations = iso and enums_plain and _identity(self._invocation)
        self._plain_audit = iso and _identity(self._audit)
        self._plain_console = _identity(self._console)

    # --- records ---------------------------------------------------------------------------------

    def time(self, iso_text: str) -> str | int | float:
        """A record time (generated as ISO-8601 text with ms) in the contract's record time format."""
        if self.time_format == "iso-ms":
            return iso_text
        return record_time(_ms(iso_text), self.time_format)

    def invocation(self, record: Record) -> Record:
        """An invocation record with the contract's field names, time format and enum spellings."""
        if self._plain_invocations:
            return record
        out: Record = {}
        for key, value in record.items():
            if key == _F.START_TIME:
                value = self.time(value)
            elif key == _F.EXECUTION_STATUS:
                value = self._statuses.get(value, value)
            elif key in _TRIGGER_FIELDS:
                value = self._triggers.get(value, value)
            out[self._invocation.get(key, key)] = value
        return out

    def audit(self, record: Record) -> Record:
        """An audit record with the contract's field names and time format."""
        if self._plain_audit:
            return record
        return {
            self._audit.get(key, key): self.time(value) if key == _A.DATE else value for key, value in record.items()
        }

    def status(self, provider: str) -> str:
        """The wire spelling of a provider status."""
        return self._statuses[provider]

    def trigger(self, provider: str) -> str:
        """The wire spelling of a provider trigger type."""
        return self._triggers[provider]

    # --- reply bodies ----------------------------------------------------------------------------

    def listing(self, items: list[Record], fields: list[tuple[str, Any]]) -> Any:
        """A listing reply: the records at the wrapper (or a bare list) and the pagination fields at theirs."""
        wrapper = self.contract.listing.wrapper
        if wrapper is None:
            return items
        body: Record = {}
        contract.put(body, wrapper, items)
        for key, value in fields:
            contract.put(body, key, value)
        return body

    def without_items(self, body: Any) -> Any:
        """A listing reply that lost its record list (the "missing field" fault); a bare list becomes ``{}``."""
        wrapper = self.contract.listing.wrapper
        if wrapper is None or not isinstance(body, dict):
            return {}
        *parents, last = wrapper.split(".")
        holder = contract.lookup(body, ".".join(parents)) if parents else body
        if isinstance(holder, dict):
            holder.pop(last, None)
        return body

    def error(self, code: str, message: str) -> Record:
        """An error body: the code and the message at the contract's dotted keys."""
        body: Record = {}
        contract.put(body, self.contract.errors.code_field, code)
        contract.put(body, self.contract.errors.message_field, message)
        return body

    def log_url(self, url: str | None) -> Record:
        """A log endpoint's reply in ``url`` mode."""
        body: Record = {}
        contract.put(body, self.contract.logs.url_field, url)
        return body

    def console_line(self, line: Record) -> Record:
        """A console line with the contract's field names."""
        if self._plain_console:
            return line
        return {self._console.get(key, key): value for key, value in line.items()}

    def console_file(self, lines: list[Record]) -> Any:
        """The console-log file: the wire lines under ``console_wrapper``, or a bare list."""
        return _wrapped(self.contract.log_files.console_wrapper, [self.console_line(line) for line in lines])

    def http_file(self, entries: list[Record]) -> Any:
        """The HTTP-log file: the entries under ``http_wrapper``, or a bare list."""
        return _wrapped(self.contract.log_files.http_wrapper, entries)

    def large_message(self, text: str) -> tuple[bytes, str]:
        """A large message's body and content type: raw text, or a JSON object with the text at its field."""
        field = self.contract.log_files.large_message_field
        if field is None:
            return text.encode(), TEXT
        body: Record = {}
        contract.put(body, field, text)
        return dumps(body), JSON


def _wrapped(wrapper: str | None, items: list[Record]) -> Any:
    if wrapper is None:
        return items
    body: Record = {}
    contract.put(body, wrapper, items)
    return body


def dumps(payload: Any) -> bytes:
    """Compact JSON, as the sandbox sends every JSON body."""
    return json.dumps(payload, separators=(",", ":")).encode()
