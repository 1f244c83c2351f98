"""Property: any JSON a server can send, in records and logs, is archived and reads back equal, in both formats.

Records carry the contract's required id and time fields and anything else anywhere: lone surrogates,
NUL and control characters, integers beyond 64 bits, subnormal and huge floats, values of any shape in
declared fields, and fields of any name. Read back as ``docs/schema.md`` says (see ``tests.values.archive``).
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airflow_provider_srconnect import contract, schema
from airflow_provider_srconnect.schema import CONSOLE_LINES_KEY, FULL_MESSAGE_KEY, HTTP_ENTRIES_KEY, LOGS_NOT_STORED_KEY
from tests.values.archive import CONTRACTS, FORMATS, Logs, ValuesHook, archive, read_back, through_parquet
from tests.values.strategies import audit_records, invocations

PROPERTY = settings(
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def with_logs(record: dict[str, Any], logs: Logs, wire: contract.Contract) -> dict[str, Any]:
    """The record as ``include_logs="all"`` archives it (``docs/schema.md``: the keys the export adds)."""
    fields = wire.records.invocation
    if record[fields.execution_status] == wire.enums.statuses[contract.STATUS_RUNNING]:
        return {**record, LOGS_NOT_STORED_KEY: True}  # whatever its counts say, and nothing asked
    large = wire.log_files.console.large_message_id
    out = dict(record)
    if record[fields.console_logs] != 0:
        out[CONSOLE_LINES_KEY] = [
            {**line, FULL_MESSAGE_KEY: logs.large_message} if line.get(large) else line for line in logs.console
        ]
    if record[fields.http_logs] != 0:
        out[HTTP_ENTRIES_KEY] = logs.http
    return out


@pytest.mark.parametrize("output_format", FORMATS)
@pytest.mark.parametrize("name", sorted(CONTRACTS))
@PROPERTY
@given(data=st.data())
def test_invocations_with_their_logs_read_back_equal(name: str, output_format: str, data: st.DataObject) -> None:
    wire = CONTRACTS[name]
    records, logs = data.draw(invocations(wire))
    hook = ValuesHook(wire, records, logs)

    archived, result = archive(hook, output_format, include_logs="all")

    expected = [with_logs(record, logs[record[wire.records.invocation.id]], wire) for record in records]
    got = read_back(archived, output_format)
    if output_format == "parquet":
        got, expected = (
            [through_parquet(one, schema.INVOCATION) for one in got],
            [through_parquet(one, schema.INVOCATION) for one in expected],
        )
    assert got == expected
    assert result.records == len(records)
    assert result.logs_not_stored == sum(bool(one.get(LOGS_NOT_STORED_KEY)) for one in expected)


@pytest.mark.parametrize("output_format", FORMATS)
@pytest.mark.parametrize("name", sorted(CONTRACTS))
@PROPERTY
@given(data=st.data())
def test_audit_records_read_back_equal(name: str, output_format: str, data: st.DataObject) -> None:
    wire = CONTRACTS[name]
    records = data.draw(audit_records(wire))

    archived, result = archive(ValuesHook(wire, records), output_format, log_type="audit")

    got = read_back(archived, output_format, "audit")
    if output_format == "parquet":
        got, records = (
            [through_parquet(one, schema.AUDIT) for one in got],
            [through_parquet(one, schema.AUDIT) for one in records],
        )
    assert got == records and result.records == len(records)
