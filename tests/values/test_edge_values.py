"""Values at the edges, one by one, in both formats and under every contract: each is archived and reads back
as ``docs/schema.md`` says, or its record is refused with a typed error that names it.

Lone surrogates, NUL and control characters, a 10 MB text, nesting deeper than Python's recursion limit,
integers beyond 64 bits, floats at the ends of their range, fields of any name, ids no URL can carry.
"""

from __future__ import annotations

import gzip
import json
import sys
from collections.abc import Iterator
from typing import Any

import duckdb
import pytest

from airflow_provider_srconnect import contract, schema
from airflow_provider_srconnect.exceptions import SRConnectContractError
from airflow_provider_srconnect.schema import CONSOLE_LINES_KEY, EXTRA, FULL_MESSAGE_KEY, SURROGATES_KEY
from tests.test_formats import read_rows
from tests.values.archive import CONTRACTS, FORMATS, Logs, ValuesHook, archive, read_back, through_parquet

F = contract.InvocationField


@pytest.fixture(params=sorted(CONTRACTS), ids=str)
def wire(request: pytest.FixtureRequest) -> contract.Contract:
    return CONTRACTS[request.param]


def invocation(wire: contract.Contract, ident: str = "inv-1", **fields: Any) -> dict[str, Any]:
    """A finished invocation record in ``wire``'s form (no logs counted), with ``fields`` added."""
    f = wire.records.invocation
    start = contract.parse_time("2026-11-10T01:02:03.456Z")
    return {
        f.id: ident,
        f.start_time: contract.format_time(start, wire.records.time_format),
        f.execution_status: wire.enums.statuses[contract.STATUS_FINISHED],
        f.console_logs: 0,
        f.http_logs: 0,
        **fields,
    }


def round_trip(wire: contract.Contract, records: list[dict[str, Any]], output_format: str) -> list[dict[str, Any]]:
    """Archive the records (no logs) and read them back, as the docs say; nulls as Parquet reads them."""
    data, result = archive(ValuesHook(wire, records), output_format)
    assert result.records == len(records)
    back = read_back(data, output_format)
    if output_format == "parquet":
        return [through_parquet(one, schema.INVOCATION) for one in back]
    return back


def expected(records: list[dict[str, Any]], output_format: str) -> list[dict[str, Any]]:
    return [through_parquet(one, schema.INVOCATION) for one in records] if output_format == "parquet" else records


# --- Lone surrogates ------------------------------------------------------------------------------


def surrogate_record(wire: contract.Contract) -> dict[str, Any]:
    """A record as ``json.loads`` gives it from JSON with lone-surrogate escapes, in declared and unknown fields."""
    text = json.dumps(
        invocation(
            wire,
            "inv-\\ud800",
            **{
                F.SCRIPT: {"id": "s1", "name": "cut \\ud83d", "colour": "\\udc00"},
                F.DROP_REASON: "\\udfff",
                "note\\ud800": "key",
                "note\\ufffd": "its U+FFFD twin",
                SURROGATES_KEY: "a field of that name, sent by SRC",
                "plain": "kept as is",
            },
        )
    ).replace("\\\\u", "\\u")
    record = json.loads(text)
    assert record[F.SCRIPT]["name"] == "cut \ud83d" and "note\ud800" in record
    return record


def test_a_lone_surrogate_stays_its_escape_in_json_lines(wire):
    record = surrogate_record(wire)
    data, _ = archive(ValuesHook(wire, [record]), "jsonl.gz")
    line = gzip.decompress(data)
    assert b'"cut \\ud83d"' in line and b'"note\\ud800":"key"' in line and b'"\\udfff"' in line
    assert read_back(data, "jsonl.gz") == [record]


def test_a_lone_surrogate_is_kept_exactly_in_parquet_and_the_file_stays_readable(wire, tmp_path):
    record = surrogate_record(wire)
    data, _ = archive(ValuesHook(wire, [record]), "parquet")

    (row,) = read_rows(data)
    assert row[F.SCRIPT] == {"id": "s1", "name": "cut \ufffd"}  # the typed column: U+FFFD in its place
    extra = json.loads(row[EXTRA])
    exact = json.loads(extra.pop(SURROGATES_KEY))
    assert exact[F.SCRIPT] == record[F.SCRIPT] and exact["note\ud800"] == "key"
    assert exact[SURROGATES_KEY] == "a field of that name, sent by SRC"
    assert extra["plain"] == "kept as is" and extra["note\ufffd"] == "its U+FFFD twin"
    assert not any("\ud800" <= char <= "\udfff" for char in row[EXTRA]), "extra is UTF-8: escapes only"
    assert through_parquet(read_back(data, "parquet")[0], schema.INVOCATION) == through_parquet(
        record, schema.INVOCATION
    )
    # DuckDB reads the file, and its JSON functions read extra (they refuse a lone-surrogate escape elsewhere).
    path = tmp_path / "x.parquet"
    path.write_bytes(data)
    [(name, plain, kept)] = duckdb.sql(
        f"SELECT script.name, json_extract_string(extra, '$.plain'), json_extract_string(extra, '$.{SURROGATES_KEY}')"
        f" FROM read_parquet('{path}')"
    ).fetchall()
    assert (name, plain) == ("cut \ufffd", "kept as is") and json.loads(kept) == exact


def test_lone_surrogates_in_logs_are_kept_at_their_own_level(wire):
    console = wire.log_files.console
    f = wire.records.invocation
    lines = json.loads(f'[{{"{console.message}": "cut \\ud83d", "{console.large_message_id}": "m1", "k": "\\udc00"}}]')
    record = {**invocation(wire), f.console_logs: 1}
    hook = ValuesHook(wire, [record], {"inv-1": Logs(lines, [], json.loads('"whole \\ud83d"'))})
    for output_format in FORMATS:
        data, _ = archive(hook, output_format, include_logs="all")
        (back,) = read_back(data, output_format)
        (line,) = back[CONSOLE_LINES_KEY]
        assert line[console.message] == "cut \ud83d" and line["k"] == "\udc00"
        assert line[FULL_MESSAGE_KEY] == "whole \ud83d"
        if output_format == "parquet":
            (row,) = read_rows(data)
            (stored,) = row[CONSOLE_LINES_KEY]
            assert stored[FULL_MESSAGE_KEY] == "whole \ufffd" and SURROGATES_KEY in json.loads(stored[EXTRA])
            assert row[EXTRA] is None or SURROGATES_KEY not in json.loads(row[EXTRA]), "the line's own level keeps it"


# --- Control characters, size, depth ----------------------------------------------------------------


@pytest.mark.parametrize("output_format", FORMATS)
def test_nul_and_control_characters_are_kept(wire, output_format):
    text = "".join(map(chr, range(0x20))) + "\x7f\x85\u2028\u2029\ufeff"
    records = [invocation(wire, f"id\x00{text}", **{F.DROP_REASON: text, F.WORKSPACE: {"id": text}, text: text})]
    assert round_trip(wire, records, output_format) == expected(records, output_format)


@pytest.mark.parametrize("output_format", FORMATS)
def test_a_10_mb_text_is_kept(wire, output_format):
    big = ("0123456789abcdé\x00" * (10 * 2**20 // 16))[: 10 * 2**20]
    f = wire.records.invocation
    record = {**invocation(wire, **{F.DROP_REASON: big}), f.console_logs: 1}
    console = wire.log_files.console
    logs = {"inv-1": Logs([{console.message: big[:100], console.large_message_id: "m1"}], [], big)}
    data, _ = archive(ValuesHook(wire, [record], logs), output_format, include_logs="all")
    (back,) = read_back(data, output_format)
    assert back[F.DROP_REASON] == big and back[CONSOLE_LINES_KEY][0][FULL_MESSAGE_KEY] == big


def nested(depth: int) -> Any:
    """A value ``depth`` levels deep, objects and lists in turn (built by a loop)."""
    value: Any = [2**64, 1.5]
    for level in range(depth):
        value = [value] if level % 2 else {"k": value}
    return value


def nested_text(depth: int) -> str:
    opening = "".join("[" if level % 2 else '{"k":' for level in reversed(range(depth)))
    closing = "".join("]" if level % 2 else "}" for level in range(depth))
    return f"{opening}[18446744073709551616,1.5]{closing}"


@pytest.fixture
def deep_stack() -> Iterator[None]:
    """Room for ``json.loads`` to read back 1,000 levels from inside pytest (the archive needs none)."""
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(limit + 2_000)
    try:
        yield
    finally:
        sys.setrecursionlimit(limit)


@pytest.mark.parametrize("output_format", FORMATS)
@pytest.mark.parametrize("depth", [1_000, 20_000])
def test_nesting_deeper_than_the_recursion_limit_is_kept(wire, output_format, depth, request):
    """``json.loads`` gives values nested nearly as deep as the limit; the export writes any depth, no recursion."""
    records = [invocation(wire, **{F.SCRIPT: nested(depth), "deep": nested(depth)})]
    data, _ = archive(ValuesHook(wire, records), output_format)
    if output_format == "jsonl.gz":
        line = gzip.decompress(data).decode()
        assert f'"deep":{nested_text(depth)},' in line and f'"{F.SCRIPT}":{nested_text(depth)}' in line
    else:
        (row,) = read_rows(data)
        assert row[F.SCRIPT] is None and f'"deep":{nested_text(depth)}' in row[EXTRA]
        assert f'"{F.SCRIPT}":{nested_text(depth)}' in row[EXTRA]
    if depth <= 1_000:
        request.getfixturevalue("deep_stack")
        back = read_back(data, output_format)
        assert back[0]["deep"] == records[0]["deep"]


# --- Numbers --------------------------------------------------------------------------------------

EDGE_INTEGERS = [2**63 - 1, -(2**63), 2**63, -(2**63) - 1, 2**64, 10**40, -(10**40)]


@pytest.mark.parametrize("output_format", FORMATS)
def test_integers_beyond_64_bits_are_kept_never_wrapped(wire, output_format):
    records = [
        invocation(wire, f"inv-{n}", **{F.DURATION: value, "units": value, F.WORKSPACE: {"id": "w", "n": [value]}})
        for n, value in enumerate(EDGE_INTEGERS)
    ]
    assert round_trip(wire, records, output_format) == expected(records, output_format)
    data, _ = archive(ValuesHook(wire, records), output_format)
    if output_format == "parquet":
        durations = [row[F.DURATION] for row in read_rows(data)]
        assert durations == [2**63 - 1, -(2**63), None, None, None, None, None], "int64 or null, never wrapped"


@pytest.mark.parametrize("output_format", FORMATS)
def test_floats_at_the_ends_of_their_range_read_back_equal(wire, output_format):
    floats = [5e-324, 2.2250738585072014e-308, 1.7976931348623157e308, -0.0, 0.1, 1e16, 1e-7, 123456789.123]
    records = [invocation(wire, **{"floats": floats, F.DURATION: 1e16, F.WORKSPACE: {"id": 0.1}})]
    back = round_trip(wire, records, output_format)
    assert back == expected(records, output_format)
    assert [repr(x) for x in back[0]["floats"]] == [repr(x) for x in floats], "-0.0 and every digit kept"


def test_not_finite_floats_are_written_as_json_dumps_writes_them(wire):
    """JSON has no NaN or infinity; Python's ``json.loads`` makes them of ``NaN`` and of a number beyond the
    double range (``1e400``). The line keeps what Python reads back as the same value."""
    record = {**invocation(wire), **json.loads('{"big": 1e400, "small": -1e400, "nan": NaN}')}
    data, _ = archive(ValuesHook(wire, [record]), "jsonl.gz")
    assert b'"big":Infinity' in gzip.decompress(data) and b'"nan":NaN' in gzip.decompress(data)
    (back,) = read_back(data, "jsonl.gz")
    assert back["big"] == float("inf") and back["small"] == float("-inf") and back["nan"] != back["nan"]


# --- Fields of any name ---------------------------------------------------------------------------


@pytest.mark.parametrize("output_format", FORMATS)
def test_fields_of_any_name_are_kept(wire, output_format):
    names = ["", " ", "extra", EXTRA.upper(), "a.b", "$.x", "_consoleLogLines_", "ключ", "😀", "\x00", '"']
    records = [invocation(wire, **{name: {name: [name]} for name in names})]
    assert round_trip(wire, records, output_format) == expected(records, output_format)


# --- Ids no request can carry ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "ident",
    [None, "", True, 1.5, {"id": "x"}, ["x"], "inv-\ud800"],
    ids=["null", "empty", "bool", "float", "object", "list", "lone-surrogate"],
)
def test_an_invocation_id_no_url_can_carry_is_a_typed_error_naming_the_record(wire, ident):
    f = wire.records.invocation
    record = {**invocation(wire), f.id: ident, f.console_logs: 1}
    hook = ValuesHook(wire, [record])
    with pytest.raises(SRConnectContractError) as error:
        archive(hook, "jsonl.gz", include_logs="all")
    message = str(error.value)
    assert f"{f.id}={ident!r}"[:60] in message and str(record[f.start_time]) in message
    assert "include_logs='none'" in message and hook.log_requests == []
    # The same record archives whole without its logs.
    data, _ = archive(ValuesHook(wire, [record]), "jsonl.gz")
    assert read_back(data, "jsonl.gz") == [record]


def test_a_missing_invocation_id_is_a_typed_error_naming_the_record(wire):
    f = wire.records.invocation
    record = {**invocation(wire), f.console_logs: 1}
    del record[f.id]
    with pytest.raises(SRConnectContractError, match=f"{f.id}=None") as error:
        archive(ValuesHook(wire, [record]), "parquet", include_logs="all")
    assert "records.invocation.id" in str(error.value)


def test_a_number_id_is_asked_for_as_its_digits(wire):
    f = wire.records.invocation
    record = {**invocation(wire), f.id: 42, f.console_logs: 1}
    hook = ValuesHook(wire, [record], {"42": Logs([{"n": 1}])})
    data, _ = archive(hook, "jsonl.gz", include_logs="all")
    assert hook.log_requests == [("console", "42")]
    assert read_back(data, "jsonl.gz") == [{**record, CONSOLE_LINES_KEY: [{"n": 1}]}]


def test_a_large_message_id_no_url_can_carry_is_a_typed_error_naming_the_record_and_line(wire):
    f = wire.records.invocation
    large = wire.log_files.console.large_message_id
    record = {**invocation(wire), f.console_logs: 2}
    hook = ValuesHook(wire, [record], {"inv-1": Logs([{large: None}, "not an object", {large: "m\udc00"}])})
    with pytest.raises(SRConnectContractError, match=f"the '{large}' of its console line 3") as error:
        archive(hook, "jsonl.gz", include_logs="all")
    assert "inv-1" in str(error.value) and ("large", "inv-1") not in hook.log_requests
