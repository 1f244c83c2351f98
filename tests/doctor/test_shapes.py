"""Shape-only evidence: key names, types and lengths, never a value."""

from __future__ import annotations

import json

import pytest

from airflow_provider_srconnect.doctor import shapes
from airflow_provider_srconnect.doctor.report import Report

SECRETS = (
    "inv-7f3c9a-42",
    "alice@example.com",
    "https://files.example.com/a/b?X-Amz-Signature=deadbeef",
    "Basic c2VjcmV0OmtleQ==",
    "203.0.113.7",
    "Jira Cloud Sync",
)


def test_a_shape_names_keys_types_and_lengths():
    body = {
        "items": [
            {"id": "a", "at": "2026-03-08T00:00:00.000Z", "n": 3, "ok": True, "drop": None},
            {"id": "b", "at": "2026-03-08T00:01:00.000Z", "n": None, "ok": False, "extra": [1, 2]},
        ],
        "page": {"next": "tok", "total": 1.5},
        "empty": [],
    }

    assert shapes.shape(body) == (
        "{items: list[2] of {id: str, at: str(time), n: int|null, ok: bool, drop?: null, extra?: list[2] of int}, "
        "page: {next: str, total: float}, empty: list[0]}"
    )
    assert shapes.shape(body, items=False) == "{items: list[2], page: {next: str, total: float}, empty: list[0]}"


def test_a_shape_holds_no_value():
    body = {"records": [{"id": s, "email": s, "nested": {"value": s, "list": [s, s]}} for s in SECRETS]}
    body |= {"url": SECRETS[2], SECRETS[1]: 1, "a9f3c2e1b7d4": 2}

    text = shapes.shape(body) + shapes.describe(200, {"Content-Type": "application/json"}, json.dumps(body))

    assert not [s for s in SECRETS if s in text]
    assert "a9f3c2e1b7d4" not in text and "<key>: int" in text  # both data-like keys show as one <key>


@pytest.mark.parametrize(
    ("key", "shown"),
    [
        ("invocationId", "invocationId"),
        ("x-stitch-fetch-id", "x-stitch-fetch-id"),
        ("alice@example.com", "<key>"),
        ("5f0c2b9e-8d7a-4c61-9e3b-2a1d0c9b8e7f", "<key>"),
        ("page.next", "<key>"),
        ("has space", "<key>"),
        ("order12345", "<key>"),
        (7, "<key>"),
    ],
)
def test_keys_that_look_like_data_are_hidden(key, shown):
    assert shapes.safe_key(key) == shown


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        (None, "null"),
        (True, "bool"),
        (42, "int"),
        (1_773_000_000_000, "int(epoch-ms)"),
        (1_773_000_000.5, "float(epoch-s)"),
        ("", "str(empty)"),
        ("2026-03-08T00:00:00.000Z", "str(time)"),
        ("2026-03-08T00:00:00", "str"),  # no zone: not a time the contract reads
        ("https://x.test/a?b=c", "str(url)"),
        ("12345", "str(number)"),
        ("FINISHED", "str"),
    ],
)
def test_kinds(value, kind):
    assert shapes.kind(value) == kind


def test_time_formats_are_told_by_type_and_magnitude():
    assert shapes.time_format_of("2026-03-08T00:00:00Z") == "iso-ms"
    assert shapes.time_format_of(1_773_000_000_000) == "epoch-ms"
    assert shapes.time_format_of(1_773_000_000) == "epoch-s"
    assert [shapes.time_format_of(v) for v in (12, True, "soon", float("nan"))] == [None] * 4


def test_big_objects_and_deep_nesting_are_cut():
    wide = {f"k{i}": i for i in range(shapes.MAX_KEYS + 3)}
    deep: dict[str, object] = {"a": {"b": {"c": {"d": {"e": {"f": 1}}}}}}

    assert shapes.shape(wide).endswith("... 3 more keys}")
    assert shapes.shape(deep) == "{a: {b: {c: {d: object}}}}"


def test_describe_says_status_media_type_and_shape():
    assert shapes.describe(404, {"Content-Type": "application/json; charset=utf-8"}, '{"code": "X"}') == (
        "404 application/json {code: str}"
    )
    assert shapes.describe(502, {"Content-Type": "text/html"}, "<html>bad</html>") == "502 text/html, 16 bytes of text"
    assert shapes.describe(200, {}, "") == "200 ?, empty body"


def test_lists_are_found_shallow_first_and_leaves_by_dotted_key():
    body = {"meta": {"inner": {"deep": [1]}}, "top": [2], "x": {"y": 1, "z": {"w": None}}}

    assert [k for k, _ in shapes.lists(body)] == ["top", "meta.inner.deep"]
    assert list(shapes.leaves(body)) == [("x.y", 1), ("x.z.w", None)]


def test_words_split_field_names():
    assert shapes.words("consoleLogCount") == ["console", "log", "count"]
    assert shapes.words("drop_reason") == ["drop", "reason"]
    assert shapes.words("HTTPLogs") == ["http", "logs"]


def test_a_report_differs_when_any_finding_does():
    report = Report()
    report.add("paths", True, "fine")
    report.add("listing", True, "fine")
    report.add("listing", False, "not at 'items'")
    report.add("logs", None, "no invocation")

    assert report.groups["paths"].status == "holds"
    assert report.groups["listing"].status == "differs"
    assert report.groups["logs"].status == "not checked"
    assert report.differing() == ["listing"] and report.exit_code == 1
    assert "listing      differs\n    + fine\n    ! not at 'items'" in report.render()
