"""What replies reveal, and the override proposed from them."""

from __future__ import annotations

import json

import pytest

from airflow_provider_srconnect import contract
from airflow_provider_srconnect.doctor import propose
from tests.doctor.conftest import fixture

C = contract.DEFAULT
F = contract.InvocationField


def invocations_spelled(override: dict, statuses: tuple[str, ...], triggers: tuple[str, ...]) -> list[dict]:
    """Invocation records with the field names, time format and spellings of a fixture contract."""
    wire = contract.load(override)
    f = wire.records.invocation
    epoch = wire.records.time_format == "epoch-ms"
    return [
        {
            f.id: f"id-{n}",
            f.start_time: 1_772_928_000_000 + n * 60_000 if epoch else f"2026-03-08T00:0{n}:00.000Z",
            f.execution_status: statuses[n % len(statuses)],
            f.trigger_type: triggers[n % len(triggers)],
            f.root_trigger_type: triggers[n % len(triggers)],
            f.workspace: {"id": "w", "name": "W"},
            f.environment: {"id": "e", "name": "E"},
            f.script: {"id": "s", "name": "S"},
            f.duration: 120 + n,
            f.console_logs: n,
            f.http_logs: 1,
            f.drop_reason: None,
        }
        for n in range(4)
    ]


def audit_spelled(override: dict) -> list[dict]:
    wire = contract.load(override)
    a = wire.records.audit
    epoch = wire.records.time_format == "epoch-ms"
    return [
        {
            a.id: f"aud-{n}",
            a.date: 1_772_931_600_000 + n if epoch else f"2026-03-08T01:0{n}:00.000Z",
            a.actor: {"id": "u", "email": "someone@example.com"},
            a.action: "workspace.script.update",
            a.ip_address: "203.0.113.9",
            a.related_entities: [],
            a.metadata: {"userAgent": "x"},
        }
        for n in range(3)
    ]


def test_records_are_found_where_the_reply_holds_them():
    rows = [{"a": 1}]

    assert propose.find_records(rows) == (None, rows)
    assert propose.find_records({"data": rows, "paging": {"nextPage": 2}}) == ("data", rows)
    assert propose.find_records({"meta": {"hasMore": True}, "result": {"records": rows}}) == ("result.records", rows)
    assert propose.find_records({"tags": ["x"], "items": rows}) == ("items", rows)
    assert propose.find_records({"items": []}) == ("items", [])
    assert propose.find_records({"a": [], "b": []}) is None
    assert propose.find_records({"count": 0}) is None


@pytest.mark.parametrize("name", ["pages", "offset"])
def test_renamed_record_fields_are_found(name):
    wire = fixture(name)
    expected = contract.load(wire).records
    records = invocations_spelled(wire, ("FINISHED",), ("MANUAL",))

    found = propose.invocation_fields(records, C)

    assert found == {k: getattr(expected.invocation, k) for k in found}
    assert set(wire["records"]["invocation"]) <= set(found)
    assert propose.audit_fields(audit_spelled(wire), C) == propose._current(expected.audit)


def test_statuses_and_trigger_types_are_told_by_their_values():
    records = [
        {
            "ref": f"r{n}",
            "when": "2026-03-08T00:00:00Z",
            "phase": "timed_out",
            "cause": "manual",
            "rootCause": "chained",
        }
        for n in range(3)
    ]

    found = propose.invocation_fields(records, C)

    assert "id" not in found  # 'ref' is no id-like name, and more than one field is left: no guess
    assert (found["start_time"], found["execution_status"]) == ("when", "phase")
    assert (found["trigger_type"], found["root_trigger_type"]) == ("cause", "rootCause")


def test_an_ambiguous_field_is_left_as_the_contract_has_it():
    records = [{"createdAt": "2026-03-08T00:00:00Z", "finishedAt": "2026-03-08T00:01:00Z"}]

    assert "start_time" not in propose.invocation_fields(records, C)


def test_console_line_fields_are_found():
    lines = [
        {"time": "2026-03-08T00:00:00.000Z", "severity": "INFO", "source": "Script", "text": "a long message " * 3},
        {"time": "2026-03-08T00:00:01.000Z", "severity": "ERROR", "source": "Script", "text": "another one " * 4},
        {"time": "2026-03-08T00:00:02.000Z", "severity": "INFO", "source": "Ws", "text": "x" * 60, "lmRef": "m+1/="},
    ]

    assert propose.console_fields(lines, C) == {
        "timestamp": "time",
        "level": "severity",
        "large_message_id": "lmRef",
        "message": "text",
        "source": "source",
    }
    offset_like = [{"timestamp": "2026-03-08T00:00:00Z", "type": "WARN", "origin": "S", "message": "m"}]
    assert propose.console_fields(offset_like, C)["source"] == "origin"


def test_time_formats_of_a_column():
    assert propose.time_format(["2026-03-08T00:00:00.000Z", None]) == "iso-ms"
    assert propose.time_format([1_772_928_000_000, 1_772_928_000_001]) == "epoch-ms"
    assert propose.time_format([1_772_928_000, 1_772_928_000.5]) == "epoch-s"
    assert propose.time_format([1_772_928_000_000, "2026-03-08T00:00:00Z"]) is None


def test_spellings_follow_the_style_of_those_seen():
    seen = propose.spellings(
        ["timed_out", "finished", "FINISHED", "weird"], contract.EXECUTION_STATUSES, C.enums.statuses
    )

    assert seen == {"TIMED_OUT": "timed_out", "FINISHED": "finished"}
    assert propose.styled(seen, contract.EXECUTION_STATUSES)["MALFORMED_PAYLOAD_ERROR"] == "malformed_payload_error"
    pascal = {"TIMED_OUT": "TimedOut", "FINISHED": "Finished"}
    assert propose.styled(pascal, contract.EXECUTION_STATUSES)["RUNTIME_ERROR"] == "RuntimeError"
    assert propose.styled({"TIMED_OUT": "TimedOut", "FINISHED": "finished"}, contract.EXECUTION_STATUSES) is None
    assert propose.styled({"FINISHED": "finished"}, contract.EXECUTION_STATUSES) is None  # one is no style


def test_fields_that_end_a_walk():
    assert propose.end_fields({"data": [], "paging": {"nextPage": 2}}) == {"next": "paging.nextPage"}
    assert propose.end_fields({"meta": {"hasMore": True}}) == {"has_more": "meta.hasMore"}
    assert propose.end_fields({"total": 40, "totalPages": 3}) == {"total_count": "total", "total_pages": "totalPages"}
    assert propose.end_fields({"cursor": None}) == {"next": "cursor"}
    assert propose.end_fields({"links": {"next": "https://x.test/?page=2"}}) == {}


def test_log_delivery_and_large_messages():
    assert propose.delivery((True, {"download": {"url": "https://x.test/f?sig=1"}})) == ("url", "download.url")
    assert propose.delivery((True, [{"message": "m"}])) == ("inline", None)
    assert propose.delivery((True, {"entries": [{"message": "m"}]})) == ("inline", None)
    assert propose.delivery((True, {"url": None})) == (None, None)
    assert propose.delivery((False, "text")) == (None, None)
    assert propose.large_message_field((False, "raw text")) == (True, None)
    assert propose.large_message_field((True, {"id": "m1", "content": "long text " * 9})) == (True, "content")
    assert propose.large_message_field(None) == (False, None)


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"code": "BAD", "message": "no"}, {"message_field": "message", "code_field": "code"}),
        ({"error": {"code": "BAD", "message": "no"}}, {"message_field": "error.message", "code_field": "error.code"}),
        ({"errorCode": "BAD", "detail": "no"}, {"message_field": "detail", "code_field": "errorCode"}),
        ({"status": 400}, {}),
    ],
)
def test_error_body_fields(body, fields):
    assert propose.error_fields(body) == fields


def test_a_proposal_from_pages_replies_loads_and_matches_the_fixture():
    wire = fixture("pages")
    records = invocations_spelled(wire, ("finished", "timed_out"), ("manual", "chained"))
    seen = propose.Observed(
        invocation_bodies=[{"data": records, "paging": {"nextPage": 2}}],
        invocation_records=records,
        audit_records=audit_spelled(wire),
        console_reply=(True, {"download": {"url": "https://files.test/c?sig=1"}}),
        console_file=[{"time": "2026-03-08T00:00:00Z", "severity": "INFO", "source": "S", "text": "t" * 40}],
        http_file=[{"fetchId": 1}],
        large_message=(True, {"content": "long " * 50}),
        error_bodies=[{"error": {"code": "E", "message": "m"}}],
    )
    base = contract.load({"pagination": {"style": "page", "param": "page"}})

    proposal = propose.build(seen, base)

    proposed = contract.load(json.loads(json.dumps(proposal.override())))
    target = contract.load(wire)
    assert proposed.listing == target.listing
    assert proposed.records == target.records
    assert proposed.enums == target.enums
    assert proposed.logs.url_field == target.logs.url_field
    assert proposed.log_files.console_wrapper is None and proposed.log_files.http_wrapper is None
    assert proposed.log_files.large_message_field == "content"
    assert proposed.errors == target.errors
    assert proposed.pagination.next_field == "paging.nextPage" and proposed.pagination.style == "page"
    assert "listing.wrapper" in proposal.changed and "enums.statuses" in proposal.changed


def test_a_bare_list_under_a_cursor_contract_is_not_proposed():
    rows = [{F.ID: "a", F.START_TIME: "2026-03-08T00:00:00Z"}]

    proposal = propose.build(propose.Observed(invocation_bodies=[rows], invocation_records=rows), C)

    assert proposal.contract.listing.wrapper == C.listing.wrapper
    assert any("bare-list reply has no room for a cursor" in note for note in proposal.notes)


def test_a_bare_list_under_page_numbers_ends_on_an_empty_page():
    rows = [{F.ID: "a", F.START_TIME: "2026-03-08T00:00:00Z"}]
    base = contract.load({"pagination": {"style": "page", "param": "page"}})

    proposal = propose.build(propose.Observed(invocation_bodies=[rows], invocation_records=rows), base)

    assert proposal.contract.listing.wrapper is None
    assert proposal.contract.pagination.last_page == "empty"
    assert contract.load(proposal.override()) == proposal.contract


def test_nothing_seen_proposes_nothing():
    proposal = propose.build(propose.Observed(), C)

    assert proposal.override() == {} and proposal.changed == []
