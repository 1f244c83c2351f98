"""The contract object: a validated override, checked key by key, that round-trips as JSON."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from hypothesis import given, settings

from airflow_provider_srconnect import contract
from airflow_provider_srconnect.exceptions import SRConnectParamError
from tests.conftest import REPO_ROOT
from tests.sandbox.contracts import overrides

FIXTURES = sorted((REPO_ROOT / "tests" / "contracts").glob("*.json"))


def test_the_default_is_the_contract_with_nothing_laid_over_it() -> None:
    assert contract.load(None) is contract.DEFAULT
    assert contract.load({}) is contract.DEFAULT
    assert contract.load("") is contract.DEFAULT
    assert contract.DEFAULT.override({}) == contract.DEFAULT


def test_an_override_changes_only_the_keys_it_names() -> None:
    changed = contract.load({"pagination": {"style": "page", "param": "page", "next_field": "paging.next"}})
    assert (changed.pagination.style, changed.pagination.param, changed.pagination.next_field) == (
        "page",
        "page",
        "paging.next",
    )
    assert changed.pagination.size_param == contract.DEFAULT.pagination.size_param
    assert changed.records == contract.DEFAULT.records
    assert changed.changes_from(contract.DEFAULT) == {
        "pagination": {"style": "page", "param": "page", "next_field": "paging.next"}
    }


def test_enum_spellings_merge_name_by_name() -> None:
    changed = contract.load({"enums": {"statuses": {"FINISHED": "finished"}}})
    assert changed.enums.statuses["FINISHED"] == "finished"
    assert changed.enums.statuses["RUNNING"] == "RUNNING"
    assert changed.enums.status_of("finished") == "FINISHED"
    assert changed.enums.status_of("FINISHED") is None


def test_json_text_is_read_like_an_object() -> None:
    text = '{"listing": {"wrapper": "result.records"}}'
    assert contract.load(text) == contract.load(json.loads(text))


@pytest.mark.parametrize(
    ("override", "key", "says"),
    [
        ({"pagination": {"stlye": "page"}}, "contract.pagination.stlye", "not a key"),
        ({"paginaton": {}}, "contract.paginaton", "not a key"),
        ({"pagination": {"style": "pages"}}, "contract.pagination.style", "'cursor', 'page', 'offset'"),
        ({"pagination": {"size_max": "100"}}, "contract.pagination.size_max", "whole number"),
        ({"pagination": {"size_max": True}}, "contract.pagination.size_max", "whole number"),
        ({"window": {"to_inclusive": "yes"}}, "contract.window.to_inclusive", "true or false"),
        ({"window": {"from_param": "from date"}}, "contract.window.from_param", "without spaces"),
        ({"window": {"from_param": None}}, "contract.window.from_param", "may not be null"),
        ({"listing": "items"}, "contract.listing", "JSON object"),
        ({"listing": {"wrapper": None}}, "contract.listing.wrapper", "bare-list"),
        ({"pagination": {"style": "page", "param": "page", "next_field": None}}, "contract.pagination.last_page", ""),
        ({"paths": {"console_logs": "/v1/logs"}}, "contract.paths.console_logs", "{invocation_id}"),
        ({"enums": {"statuses": {"DONE": "done"}}}, "contract.enums.statuses.DONE", "provider name"),
        ({"enums": {"statuses": {"FINISHED": "RUNNING"}}}, "contract.enums.statuses", "distinct"),
        ({"records": {"invocation": {"id": "startTime"}}}, "contract.records.invocation.start_time", "already"),
        ({"logs": {"not_stored_status": 200}}, "contract.logs.not_stored_status", "4xx"),
        (
            {"listing": {"wrapper": "data"}, "pagination": {"next_field": "data.next"}},
            "contract.listing.wrapper",
            "overlap",
        ),
        ("{not json", "contract", "not valid JSON"),
    ],
)
def test_a_bad_override_names_its_dotted_key(override: Any, key: str, says: str) -> None:
    with pytest.raises(SRConnectParamError) as raised:
        contract.load(override)
    assert raised.value.param == key
    assert says in str(raised.value)


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.stem)
def test_each_fixture_contract_loads_and_round_trips(path: Any) -> None:
    loaded = contract.load(json.loads(path.read_text()))
    assert contract.load(loaded.changes_from(contract.DEFAULT)) == loaded
    assert contract.load(loaded.as_json()) == loaded
    assert loaded.fingerprint() != contract.DEFAULT.fingerprint()


@settings(max_examples=60, deadline=None)
@given(overrides())
def test_any_valid_override_round_trips_through_its_changes(override: dict[str, Any]) -> None:
    loaded = contract.load(override)
    assert contract.load(json.loads(json.dumps(loaded.changes_from(contract.DEFAULT)))) == loaded


@pytest.mark.parametrize(
    ("time_format", "written"),
    [("iso-ms", "2026-01-02T03:04:05.678Z"), ("epoch-ms", 1767323045678), ("epoch-s", 1767323045)],
)
def test_time_formats_write_and_read_back(time_format: contract.TimeFormat, written: object) -> None:
    moment = dt.datetime(2026, 1, 2, 3, 4, 5, 678_900, tzinfo=dt.UTC)
    assert contract.format_time(moment, time_format) == written
    back = contract.parse_time(written, time_format)
    assert moment - back < contract.TIME_UNITS[time_format]


def test_dotted_keys_read_and_write_nested_objects() -> None:
    body: dict[str, Any] = {}
    contract.put(body, "page.next", 3)
    assert body == {"page": {"next": 3}}
    assert contract.lookup(body, "page.next") == 3
    assert contract.lookup(body, "page.missing.deeper") is None
    assert contract.lookup([1], "page") is None


def test_the_per_key_table_lists_every_key_of_the_contract() -> None:
    table = contract.assumptions_markdown(per_key=True)

    def keys(value: Any, prefix: str = "") -> list[str]:
        if isinstance(value, dict) and not prefix.endswith(("statuses.", "trigger_types.")):
            return [k for name, v in value.items() for k in keys(v, f"{prefix}{name}.")]
        return [prefix.rstrip(".")]

    for key in keys(contract.DEFAULT.as_json()):
        assert f"| `{key}` |" in table
