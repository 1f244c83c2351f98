"""Hypothesis strategies for any JSON a server can send, and for records and logs shaped by a wire contract.

Text is any text ``json.loads`` can give: lone surrogates, NUL and control characters included (a high
surrogate right before a low one is parsed as the pair's character, so each text goes through ``json``
once). Integers reach beyond 64 bits; floats are finite (JSON has no other), down to the subnormal ones.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from hypothesis import strategies as st

from airflow_provider_srconnect import contract
from airflow_provider_srconnect._json import has_lone_surrogate
from tests.values.archive import WINDOW, Logs

#: Lone surrogates (a high one alone is what a JavaScript string cut inside an emoji holds) and characters
#: that JSON escapes or that readers trip on.
SPECIAL = [
    "\ud800",
    "\udbff",
    "\udc00",
    "\udfff",
    "\ud83d",
    "\x00",
    "\x01",
    "\x1f",
    "\x7f",
    "\u2028",
    "\ufffd",
    '"',
    "\\",
]
TEXT = st.text(st.characters() | st.sampled_from(SPECIAL), max_size=10).map(lambda text: json.loads(json.dumps(text)))
#: Integers at and beyond the edges of int64.
INTEGERS = st.integers() | st.sampled_from(
    [2**63 - 1, 2**63, -(2**63), -(2**63) - 1, 2**64, 10**30, -(10**30), 2**53 + 1]
)
FLOATS = st.floats(allow_nan=False, allow_infinity=False) | st.sampled_from(
    [5e-324, 2.2250738585072014e-308, 1.7976931348623157e308, -0.0, 1e16, 1e-7, 0.1]
)
VALUES = st.recursive(
    st.none() | st.booleans() | INTEGERS | FLOATS | TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=10,
)
#: Ids that a URL can carry: any non-empty text without a lone surrogate.
IDS = TEXT.filter(lambda text: bool(text) and not has_lone_surrogate(text))


def _shaped(names: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    """An object with any of ``names`` holding any value, and fields of any other name."""
    return st.builds(
        lambda extra, declared: {**extra, **declared},
        st.dictionaries(TEXT, VALUES, max_size=3),
        st.fixed_dictionaries({}, optional=dict.fromkeys(names, VALUES)),
    )


def _time(wire: contract.Contract) -> st.SearchStrategy[Any]:
    """A record time inside ``WINDOW``, in the contract's ``records.time_format``."""
    span = int((WINDOW.end - WINDOW.start).total_seconds() * 1000)
    return st.integers(0, span - 1).map(
        lambda ms: contract.format_time(WINDOW.start + dt.timedelta(milliseconds=ms), wire.records.time_format)
    )


@st.composite
def invocations(draw: st.DrawFn, wire: contract.Contract) -> tuple[list[dict[str, Any]], dict[str, Logs]]:
    """Invocation records (the contract's required id and time, any other value anywhere) and their logs."""
    f = wire.records.invocation
    line = wire.log_files.console
    count = st.sampled_from([0, 1, 3]) | VALUES
    records: list[dict[str, Any]] = []
    logs: dict[str, Logs] = {}
    for number in range(draw(st.integers(0, 3))):
        ident = f"{number}:{draw(IDS)}"
        record = draw(_shaped([f.trigger_type, f.root_trigger_type, f.workspace, f.script, f.duration, f.drop_reason]))
        record.update(draw(st.fixed_dictionaries({}, optional={f.environment: _shaped(["id", "name"])})))
        record[f.execution_status] = draw(st.sampled_from(sorted(wire.enums.statuses.values())) | VALUES)
        record[f.console_logs] = draw(count)
        record[f.http_logs] = draw(count)
        record[f.id] = ident
        record[f.start_time] = draw(_time(wire))
        lines = draw(st.lists(_shaped([line.timestamp, line.level, line.source, line.message]), max_size=3))
        for one in lines:
            if draw(st.booleans()):
                one[line.large_message_id] = draw(IDS)
        entries = draw(st.lists(_shaped(["fetchId", "duration", "request", "response"]), max_size=2))
        logs[ident] = Logs(lines, entries, draw(TEXT))
        records.append(record)
    return records, logs


@st.composite
def audit_records(draw: st.DrawFn, wire: contract.Contract) -> list[dict[str, Any]]:
    """Audit records: the contract's required id and date, any other value anywhere."""
    f = wire.records.audit
    entity = _shaped(["type", "id", "name"])
    records = []
    for number in range(draw(st.integers(0, 3))):
        record = draw(_shaped([f.actor, f.action, f.ip_address, f.metadata]))
        record.update(draw(st.fixed_dictionaries({}, optional={f.related_entities: st.lists(entity, max_size=2)})))
        record[f.id] = f"{number}:{draw(IDS)}"
        record[f.date] = draw(_time(wire))
        records.append(record)
    return records
