"""The record encoder writes exactly what ``json.dumps`` with the export's options writes."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airflow_provider_srconnect._json import encode_deep
from airflow_provider_srconnect.export import _ENCODER, _block, encode_record
from airflow_provider_srconnect.sandbox import SandboxConfig
from airflow_provider_srconnect.sandbox.window import Dataset


def reference(record: Any) -> bytes:
    """The encoding every data object written so far uses; a lone surrogate (no UTF-8 form) as its JSON escape."""
    text = json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False) + "\n"
    return text.encode("utf-8", "backslashreplace")


AWKWARD: list[dict[Any, Any]] = [
    {"unicode": "é ü 中文 😀 \u2028\u2029 \x7f \ufeff", "ключ": "значение", "😀": "emoji key"},
    {"escapes": '"quoted" back\\slash /slash \n\r\t\b\f \x00 \x1f', "tab\tkey": 1, 'quote"key': 2},
    {"floats": [0.0, -0.0, 0.1, 1.0, 1.5e-7, 2.5e-5, 1e-4, 12345.678, 1e15, 1e16, 1.2345678901234568e17, 1e308]},
    {"tiny": 5e-324, "nan": float("nan"), "inf": float("inf"), "-inf": float("-inf")},
    {"ints": [0, -1, 2**31, 2**53 + 1, 2**63 - 1, -(2**63), 2**63, 2**64 - 1, 2**64, -(2**63) - 1, 10**40]},
    {"nested": {"z": [{"b": [[], {}], "a": None}], "a": {"y": True, "x": False}}, "": "empty key"},
    {"B": 1, "a": 2, "_": 3, "Z": 4, "é": 5, "e": 6, "\uffff": 7, "\U0001f600": 8, "10": 9, "9": 10},
    {"duration": 203, "cb": "\u02c0\u02ff", "id": "00079bd5-00000-7465616d2d73616e64626f78"},  # 0xcb in msgpack
    {"float in a list": [1, 2, [3, {"deep": 0.5}]]},
    {1: "an int key", 2: "as json sorts them"},
]


@pytest.mark.parametrize("record", AWKWARD, ids=lambda r: next(iter(r)) if r else "empty")
def test_awkward_values_encode_as_json_does(record: dict[Any, Any]) -> None:
    assert encode_record(record) == reference(record)


def test_a_block_is_its_lines_joined() -> None:
    assert _block([_ENCODER.encode(r) for r in AWKWARD]) == b"".join(reference(r) for r in AWKWARD)


def test_sandbox_records_encode_as_json_does() -> None:
    dataset = Dataset(SandboxConfig(seed=5, invocations_per_hour=2_000))
    moment = dataset.moment()
    start = moment.end_ms - 2 * 86_400_000
    records = list(dataset.invocations("team-sandbox", start, moment.end_ms, moment))
    assert len(records) > 1_000
    assert b"".join(map(encode_record, records)) == b"".join(map(reference, records))


LONE = ["\ud800", "\udbff", "\udc00", "\udfff", "\ud83d"]  # a high surrogate alone: an emoji cut in half


@pytest.mark.parametrize("surrogate", LONE, ids=ascii)
def test_a_lone_surrogate_is_written_as_its_escape_and_reads_back(surrogate: str) -> None:
    """``json.loads`` makes one of ``"\\ud800"``; no UTF-8 holds it, so the line keeps the escape."""
    escape = f"\\u{ord(surrogate):04x}"
    record = json.loads(f'{{"text": "a{escape}b", "{escape}": [1.5, "{escape}"], "n": 2}}')
    line = encode_record(record)
    assert line == f'{{"n":2,"text":"a{escape}b","{escape}":[1.5,"{escape}"]}}\n'.encode()
    assert json.loads(line) == record
    assert _block([_ENCODER.encode(record), _ENCODER.encode({"n": 1})]) == line + b'{"n":1}\n'


def test_text_without_a_lone_surrogate_is_its_utf8_bytes() -> None:
    """The escape is for lone surrogates only: a pair (an emoji) and every other character stay UTF-8."""
    record = json.loads('{"t": "\\ud83d\\ude00 \\\\ud800 \\u00e9 \\ufffd"}')
    assert record == {"t": "\U0001f600 \\ud800 é \ufffd"}
    assert encode_record(record) == '{"t":"\U0001f600 \\\\ud800 é \ufffd"}\n'.encode()


def deep(depth: int, leaf: Any = 1.5) -> Any:
    """A value ``depth`` lists deep (built by a loop: no recursion)."""
    value = leaf
    for level in range(depth):
        value = [value] if level % 2 else {"k": value}
    return value


@pytest.mark.parametrize("depth", [1_000, 50_000])
def test_a_value_deeper_than_the_recursion_limit_encodes_as_json_does(depth: int) -> None:
    """msgspec and json both stop at Python's recursion limit; the loop writes the same text at any depth."""
    record = {"deep": deep(depth), "z": "\ud800"}
    line = encode_record(record)
    opening = "".join("[" if level % 2 else '{"k":' for level in reversed(range(depth)))
    closing = "".join("]" if level % 2 else "}" for level in range(depth))
    assert line == f'{{"deep":{opening}1.5{closing},"z":"\\ud800"}}\n'.encode()


def test_the_loop_writes_what_json_writes() -> None:
    for record in AWKWARD:
        assert encode_deep(record) == json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


#: Any text ``json.loads`` can give: lone surrogates and control characters included. (A high surrogate
#: right before a low one is the pair's character once parsed, so the round trip through ``json`` joins them.)
TEXT = st.text(st.characters() | st.sampled_from([*LONE, "\x00", "\x1f", "\u2028"]), max_size=12).map(
    lambda text: json.loads(json.dumps(text))
)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=500, deadline=None, database=None)
@given(st.dictionaries(TEXT, JSON_VALUES, max_size=6))
def test_any_json_value_encodes_as_json_does(record: dict[str, Any]) -> None:
    assert encode_record(record) == reference(record)
    assert encode_deep(record) == _ENCODER.encode(record)
