"""Pagination as the contract describes it: every style and end signal, short and empty pages mid-stream."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from airflow_provider_srconnect import contract
from airflow_provider_srconnect._paging import first_page, next_page
from airflow_provider_srconnect.exceptions import SRConnectContractError
from tests.client.conftest import END, OVERRIDES, START, FakeListing, ids, records_of, url, wire_time

SIZE = 4
#: Pagination groups (laid over the default's) and page lengths they can serve: short and empty pages
#: mid-stream wherever the end signal does not rest on them.
VARIANTS: dict[str, tuple[dict[str, Any], list[int]]] = {
    "cursor": ({"style": "cursor", "param": "nextToken", "next_field": "nextToken"}, [SIZE, 2, 0, SIZE, 1]),
    "cursor, nested token": ({"param": "after", "next_field": "page.next"}, [SIZE, 0, SIZE, 3]),
    "page, next field": ({"style": "page", "param": "page", "next_field": "paging.nextPage"}, [SIZE, 2, 0, SIZE, 1]),
    "page from 0, total pages": (
        {"style": "page", "param": "p", "first_page": 0, "next_field": None, "total_pages_field": "meta.pages"},
        [SIZE, 2, 0, SIZE, 1],
    ),
    "page, total count": (
        {"style": "page", "param": "p", "next_field": None, "total_count_field": "total"},
        [SIZE, SIZE, SIZE, 1],
    ),
    "page, has more": (
        {"style": "page", "param": "p", "next_field": None, "has_more_field": "more"},
        [SIZE, 1, 0, SIZE, 2],
    ),
    "page, short last": ({"style": "page", "param": "p", "next_field": None, "last_page": "short"}, [SIZE, SIZE, 3]),
    "page, short last after full ones": (
        {"style": "page", "param": "p", "next_field": None, "last_page": "short"},
        [SIZE, SIZE, 0],
    ),
    "page, empty last": (
        {"style": "page", "param": "p", "next_field": None, "last_page": "empty"},
        [SIZE, 2, SIZE, 1, 0],
    ),
    "offset, next field": ({"style": "offset", "param": "offset", "next_field": "next"}, [SIZE, 2, SIZE, 1]),
    "offset, total count": (
        {"style": "offset", "param": "offset", "next_field": None, "total_count_field": "meta.total"},
        [SIZE, 2, SIZE, 1],
    ),
    "offset, has more": (
        {"style": "offset", "param": "start", "next_field": None, "has_more_field": "meta.hasMore"},
        [SIZE, 1, SIZE, 3],
    ),
    "offset, short last": (
        {"style": "offset", "param": "offset", "next_field": None, "last_page": "short"},
        [SIZE, SIZE, 1],
    ),
    "offset, empty last": (
        {"style": "offset", "param": "offset", "next_field": None, "last_page": "empty"},
        [SIZE, 2, SIZE, 0],
    ),
}


def with_pagination(base: dict[str, Any], pagination: dict[str, Any], **groups: Any) -> dict[str, Any]:
    """``base`` (a contract override) with its pagination replaced by ``pagination`` (page sizes kept)."""
    override = copy.deepcopy(base)
    sizes = {k: v for k, v in override.get("pagination", {}).items() if k.startswith("size_")}
    override["pagination"] = {**pagination, **sizes}
    override.update(groups)
    return override


@pytest.mark.parametrize("base", sorted(OVERRIDES))
@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_the_walk_reads_every_record_once_in_order(make_hook, requests_mock, base, variant):
    pagination, lengths = VARIANTS[variant]
    override = with_pagination(OVERRIDES[base], pagination)
    wire = contract.load(override)
    records = records_of(wire, sum(lengths))
    fake = FakeListing(wire, records, lengths)
    requests_mock.get(url(wire, "invocation_logs", team_id="team-1"), json=fake)

    got = list(make_hook(contract=override).iter_invocation_logs(START, END, page_size=SIZE))

    assert ids(wire, got) == ids(wire, records)
    assert len(fake.queries) == len(lengths), "one request per page, none after the end"
    p = wire.pagination
    assert all(q[p.size_param] == [str(SIZE)] for q in fake.queries)
    first = fake.queries[0].get(p.param)
    assert first == (None if p.style == "cursor" else [str(p.first_page if p.style == "page" else 0)])


@pytest.mark.parametrize("last_page", ["short", "empty"])
def test_a_bare_list_listing_ends_as_last_page_says(make_hook, requests_mock, last_page):
    lengths = [SIZE, SIZE, 2] if last_page == "short" else [SIZE, 1, SIZE, 0]
    override = with_pagination(
        OVERRIDES["pages"], {"style": "page", "param": "page", "next_field": None, "last_page": last_page}
    )
    override["listing"] = {"wrapper": None}
    wire = contract.load(override)
    records = records_of(wire, sum(lengths))
    fake = FakeListing(wire, records, lengths)
    requests_mock.get(url(wire, "invocation_logs", team_id="team-1"), json=fake)

    got = list(make_hook(contract=override).iter_invocation_logs(START, END, page_size=SIZE))

    assert ids(wire, got) == ids(wire, records) and len(fake.queries) == len(lengths)


def test_audit_logs_are_walked_and_kept_to_the_window_on_the_contracts_date_field(make_hook, requests_mock, named):
    _, override, wire = named
    names = wire.records.audit
    inside = {names.id: "a1", names.date: wire_time(wire, START)}
    outside = {names.id: "a2", names.date: wire_time(wire, END)}
    fake = FakeListing(wire, [inside, outside], [2])
    requests_mock.get(url(wire, "audit_logs", team_id="team-1"), json=fake)

    assert list(make_hook(contract=override).iter_audit_logs(START, END)) == [inside]
    assert fake.queries[0][wire.pagination.size_param] == [str(wire.pagination.size_default)]


def test_a_page_repeating_the_last_query_is_a_contract_error(make_hook, requests_mock):
    override = with_pagination({}, {"style": "page", "param": "page", "next_field": "next"})
    wire = contract.load(override)
    requests_mock.get(
        url(wire, "invocation_logs", team_id="team-1"),
        json={"items": records_of(wire, 1), "next": 1},  # the first page names itself as the next
    )

    with pytest.raises(SRConnectContractError, match="same query twice"):
        list(make_hook(contract=override).iter_invocation_logs(START, END))
    assert requests_mock.call_count == 1


# --- The pure walk functions ------------------------------------------------------------------------


def scheme(**pagination: Any) -> contract.Pagination:
    return contract.load({"pagination": pagination}).pagination


def test_the_first_page_of_each_style():
    assert first_page(contract.DEFAULT.pagination) == {}
    assert first_page(scheme(style="page", param="p", next_field="n", first_page=0)) == {"p": "0"}
    assert first_page(scheme(style="offset", param="o", next_field="n")) == {"o": "0"}


@pytest.mark.parametrize(
    ("pagination", "current", "body", "items", "expected"),
    [
        ({}, {}, {"nextToken": "abc"}, 0, {"nextToken": "abc"}),  # an empty page with a token goes on
        ({}, {}, {"nextToken": ""}, 5, None),
        ({}, {}, {}, 5, None),
        ({"next_field": "page.next"}, {}, {"page": {"next": 17}}, 1, {"nextToken": "17"}),
        ({"style": "page", "param": "p", "next_field": "n"}, {"p": "1"}, {"n": "2"}, 0, {"p": "2"}),
        ({"style": "page", "param": "p", "next_field": "n"}, {"p": "1"}, {"n": None}, 100, None),
        (
            {"style": "page", "param": "p", "next_field": None, "total_pages_field": "t"},
            {"p": "1"},
            {"t": 0},
            0,
            None,
        ),
        (
            {"style": "page", "param": "p", "next_field": None, "total_pages_field": "t"},
            {"p": "2"},
            {"t": 3},
            1,
            {"p": "3"},
        ),
        (
            {"style": "page", "param": "p", "next_field": None, "total_count_field": "c"},
            {"p": "2"},
            {"c": 10},
            5,
            {"p": "3"},  # ceil(10 / 4) = 3 pages
        ),
        (
            {"style": "page", "param": "p", "next_field": None, "has_more_field": "m"},
            {"p": "1"},
            {"m": True},
            0,
            {"p": "2"},
        ),
        ({"style": "page", "param": "p", "next_field": None, "has_more_field": "m"}, {"p": "1"}, {}, 4, None),
        ({"style": "page", "param": "p", "next_field": None, "last_page": "short"}, {"p": "1"}, {}, 3, None),
        ({"style": "page", "param": "p", "next_field": None, "last_page": "empty"}, {"p": "1"}, {}, 1, {"p": "2"}),
        ({"style": "page", "param": "p", "next_field": None, "last_page": "empty"}, {"p": "1"}, {}, 0, None),
        ({"style": "offset", "param": "o", "next_field": "n"}, {"o": "0"}, {"n": 4}, 4, {"o": "4"}),
        (
            {"style": "offset", "param": "o", "next_field": None, "total_count_field": "c"},
            {"o": "4"},
            {"c": 7},
            2,
            {"o": "6"},
        ),
        (
            {"style": "offset", "param": "o", "next_field": None, "total_count_field": "c"},
            {"o": "4"},
            {"c": 6},
            2,
            None,
        ),
        (
            {"style": "offset", "param": "o", "next_field": None, "has_more_field": "m"},
            {"o": "4"},
            {"m": True},
            1,
            {"o": "5"},
        ),
        ({"style": "offset", "param": "o", "next_field": None, "last_page": "short"}, {"o": "4"}, {}, 4, {"o": "8"}),
    ],
)
def test_next_page(pagination, current, body, items, expected):
    assert next_page(scheme(**pagination), current, body, items, 4) == expected


@pytest.mark.parametrize(
    ("pagination", "body"),
    [
        ({}, {"nextToken": {"a": 1}}),
        ({"style": "page", "param": "p", "next_field": "n"}, {"n": "two"}),
        ({"style": "page", "param": "p", "next_field": "n"}, {"n": True}),
        ({"style": "page", "param": "p", "next_field": None, "has_more_field": "m"}, {"m": "yes"}),
        ({"style": "offset", "param": "o", "next_field": None, "total_count_field": "c"}, {"c": -1}),
    ],
)
def test_an_unreadable_end_signal_is_a_value_error(pagination, body):
    with pytest.raises(ValueError, match="is not"):
        next_page(scheme(**pagination), {"p": "1", "o": "0"}, body, 4, 4)
