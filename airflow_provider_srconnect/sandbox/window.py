"""Time windows over the generated hours: what is served now, in which order, as which dicts.

The API and ``GroundTruth`` both read records through ``Dataset``, so the ground truth is exactly
what the API serves: start times in ``[now - RETENTION_MONTHS, now)``, ascending (time, id), and an
invocation still running at "now" reported as RUNNING with a null duration. ``Dataset`` gives the
records with the provider's names; ``GroundTruth`` gives them, and the logs, in the wire form of the
configured contract (``sandbox.wire``), exactly as the API serves them.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import pendulum

from airflow_provider_srconnect import contract
from airflow_provider_srconnect.sandbox import data, logfiles
from airflow_provider_srconnect.sandbox.wire import Wire

if TYPE_CHECKING:
    from airflow_provider_srconnect.sandbox.config import SandboxConfig

Record = dict[str, Any]
#: A keyset position: (start ms, id) of the last record served.
Position = tuple[int, str]
_F = contract.InvocationField


def _ceil_ms(us: int) -> int:
    return -(-us // 1000)


@dataclass(frozen=True)
class Moment:
    """One reading of the clock: the servable start times are ``[first_ms, end_ms)``."""

    now_us: int
    first_ms: int
    end_ms: int

    @classmethod
    def at(cls, now: dt.datetime) -> Moment:
        """The moment ``now``; retention is counted in calendar months (pendulum)."""
        oldest = pendulum.instance(now).subtract(months=contract.RETENTION_MONTHS)
        now_us = data.datetime_to_us(now)
        return cls(now_us, _ceil_ms(data.datetime_to_us(oldest)), _ceil_ms(now_us))

    def clamp(self, start: dt.datetime | None, end: dt.datetime | None) -> tuple[int, int]:
        """Millisecond bounds ``[lo, hi)`` of a request window, cut to what is servable."""
        lo = self.first_ms if start is None else max(self.first_ms, _ceil_ms(data.datetime_to_us(start)))
        hi = self.end_ms if end is None else min(self.end_ms, _ceil_ms(data.datetime_to_us(end)))
        return lo, hi

    def clamp_ms(self, lo: int | None, hi: int | None) -> tuple[int, int]:
        """Millisecond bounds ``[lo, hi)`` (None: open) cut to what is servable."""
        first = self.first_ms if lo is None else max(self.first_ms, lo)
        return first, self.end_ms if hi is None else min(self.end_ms, hi)

    def serves(self, start_ms: int) -> bool:
        """Whether a record starting at ``start_ms`` is within retention and not in the future."""
        return self.first_ms <= start_ms < self.end_ms

    def running(self, raw: data.RawInvocation) -> bool:
        """Whether the invocation has not finished at this moment."""
        return (raw.start_ms + raw.duration) * 1000 > self.now_us


class _Keyed(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def start_ms(self) -> int: ...


_R = TypeVar("_R", bound=_Keyed)


def walk(
    hour: Callable[[int], Sequence[_R]], lo: int, hi: int, descending: bool, after: Position | None
) -> Iterator[_R]:
    """Raw records with start in ``[lo, hi)`` in (start, id) order, strictly after ``after``.

    Only the hours from ``after`` on are generated, so a page costs O(page + one hour).
    """
    if lo >= hi:
        return
    if not descending:
        first = (lo if after is None else max(lo, after[0])) // data.HOUR_MS
        for h in range(first, (hi - 1) // data.HOUR_MS + 1):
            for raw in hour(h):
                if raw.start_ms >= hi:
                    return
                if raw.start_ms >= lo and (after is None or (raw.start_ms, raw.id) > after):
                    yield raw
        return
    last = (hi - 1 if after is None else min(hi - 1, after[0])) // data.HOUR_MS
    for h in range(last, lo // data.HOUR_MS - 1, -1):
        for raw in reversed(hour(h)):
            if raw.start_ms < lo:
                return
            if raw.start_ms < hi and (after is None or (raw.start_ms, raw.id) < after):
                yield raw


class Dataset:
    """The records of every team under one config."""

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config

    def moment(self) -> Moment:
        """The clock now (fixed or real)."""
        return Moment.at(self.config.current_time())

    def invocation_hour(self, team_id: str, hour: int) -> tuple[data.RawInvocation, ...]:
        """Raw invocations of one hour."""
        return data.invocation_hour(self.config.seed, team_id, hour, self.config.invocations_per_hour)

    def audit_hour(self, team_id: str, hour: int) -> tuple[data.RawAudit, ...]:
        """Raw audit records of one hour."""
        return data.audit_hour(self.config.seed, team_id, hour, self.config.audit_per_hour)

    def find_invocation(self, invocation_id: str) -> tuple[str, data.RawInvocation | None] | None:
        """(team, raw or None if no such invocation) for an id; None if the id is not one of ours."""
        parsed = data.parse_invocation_id(invocation_id)
        if parsed is None:
            return None
        team_id, hour, index = parsed
        records = self.invocation_hour(team_id, hour)
        raw = records[index] if index < len(records) else None
        return team_id, (raw if raw is not None and raw.id == invocation_id else None)

    def invocation_record(self, team_id: str, raw: data.RawInvocation, running: bool) -> Record:
        """The JSON dict of an invocation, with the provider's names."""
        ws = data.catalog(self.config.seed, team_id)[raw.workspace]
        env = ws.environments[raw.environment]
        script = ws.scripts[raw.script]
        return {
            _F.ID: raw.id,
            _F.START_TIME: raw.start_text,
            _F.EXECUTION_STATUS: contract.STATUS_RUNNING if running else raw.status,
            _F.TRIGGER_TYPE: raw.trigger,
            _F.ROOT_TRIGGER_TYPE: raw.root_trigger,
            _F.WORKSPACE: {"id": ws.ref.id, "name": ws.ref.name},
            _F.ENVIRONMENT: {"id": env.id, "name": env.name},
            _F.SCRIPT: {"id": script.id, "name": script.name},
            _F.DURATION: None if running else raw.duration,
            _F.CONSOLE_LOGS: raw.console,
            _F.HTTP_LOGS: raw.http,
            _F.DROP_REASON: raw.drop_reason,
        }

    def invocations(
        self,
        team_id: str,
        lo: int,
        hi: int,
        moment: Moment,
        *,
        statuses: Collection[str] | None = None,
        triggers: Collection[str] | None = None,
        descending: bool = False,
        after: Position | None = None,
    ) -> Iterator[Record]:
        """Invocation dicts (provider names) with start in ``[lo, hi)`` (ms) matching the filters, lazily.

        ``statuses`` and ``triggers`` are provider names.
        """
        for raw in walk(lambda h: self.invocation_hour(team_id, h), lo, hi, descending, after):
            running = moment.running(raw)
            status = contract.STATUS_RUNNING if running else raw.status
            if statuses is not None and status not in statuses:
                continue
            if triggers is not None and raw.trigger not in triggers:
                continue
            yield self.invocation_record(team_id, raw, running)

    def audit(
        self, team_id: str, lo: int, hi: int, *, descending: bool = False, after: Position | None = None
    ) -> Iterator[Record]:
        """Audit dicts (provider names) dated in ``[lo, hi)`` (ms), lazily."""
        for raw in walk(lambda h: self.audit_hour(team_id, h), lo, hi, descending, after):
            record: Record = {
                contract.AuditField.ID: raw.id,
                contract.AuditField.DATE: data.iso_ms(raw.start_ms),
            }
            record.update(json.loads(raw.payload))
            yield record


def _aware(name: str, value: dt.datetime) -> dt.datetime:
    if value.tzinfo is None:
        raise ValueError(f"{name} must be timezone-aware")
    return value


@dataclass(frozen=True)
class InvocationLogs:
    """An invocation's logs as the API serves them now, in the contract's wire form.

    ``stored`` is False when the log endpoints answer "not stored" (running, unknown, out of
    retention); the lists are then empty. ``console`` holds the console lines (renamed fields), the
    oversized one at index ``large_message_line`` with id ``large_message_id`` and full text
    ``large_message`` (all None when there is none); ``http`` holds the HTTP entries.
    """

    stored: bool
    console: list[Record]
    http: list[Record]
    large_message_line: int | None = None
    large_message_id: str | None = None
    large_message: str | None = None


class GroundTruth:
    """Exactly what the API serves, in the configured contract's wire form, read "now".

    Records for ``[start, end)`` come ascending (time, id), with the contract's field names, record
    time format and enum spellings; an archive made through that contract must equal them.
    """

    def __init__(self, dataset: Dataset) -> None:
        self._dataset = dataset
        self._wire = Wire(dataset.config.contract)

    @property
    def contract(self) -> contract.Contract:
        """The contract the records are shaped by."""
        return self._wire.contract

    def invocations(
        self,
        team_id: str,
        start: dt.datetime,
        end: dt.datetime,
        execution_statuses: Iterable[str] | None = None,
        trigger_types: Iterable[str] | None = None,
    ) -> list[Record]:
        """Invocation records of ``team_id`` starting in ``[start, end)``, in wire form.

        ``execution_statuses`` and ``trigger_types`` filter by provider names (``contract.EXECUTION_STATUSES``,
        ``contract.TRIGGER_TYPES``), as users pass them.
        """
        moment = self._dataset.moment()
        lo, hi = moment.clamp(_aware("start", start), _aware("end", end))
        statuses = None if execution_statuses is None else frozenset(execution_statuses)
        triggers = None if trigger_types is None else frozenset(trigger_types)
        records = self._dataset.invocations(team_id, lo, hi, moment, statuses=statuses, triggers=triggers)
        return [self._wire.invocation(r) for r in records]

    def audit(self, team_id: str, start: dt.datetime, end: dt.datetime) -> list[Record]:
        """Audit records of ``team_id`` dated in ``[start, end)``, in wire form."""
        lo, hi = self._dataset.moment().clamp(_aware("start", start), _aware("end", end))
        return [self._wire.audit(r) for r in self._dataset.audit(team_id, lo, hi)]

    def logs(self, team_id: str, invocation_id: str) -> InvocationLogs:
        """The console lines, HTTP entries and large message of one invocation of ``team_id``, in wire form."""
        found = self._dataset.find_invocation(invocation_id)
        moment = self._dataset.moment()
        raw = None if found is None or found[0] != team_id else found[1]
        if raw is None or not moment.serves(raw.start_ms) or moment.running(raw):
            return InvocationLogs(stored=False, console=[], http=[])
        seed = self._dataset.config.seed
        console = [self._wire.console_line(line) for line in logfiles.console_lines(seed, team_id, raw)]
        http = logfiles.http_entries(seed, raw)
        message_id = logfiles.large_message_id(raw)
        if message_id is None:
            return InvocationLogs(stored=True, console=console, http=http)
        text = logfiles.large_message(seed, raw)
        return InvocationLogs(True, console, http, raw.large_line, message_id, text)
