"""The listing query as each contract spells it: names, time formats, the inclusive ``to``, filters, sort."""

from __future__ import annotations

import datetime as dt
import urllib.parse
from typing import Any

import pytest

from airflow_provider_srconnect import _api, contract
from airflow_provider_srconnect.exceptions import SRConnectParamError
from tests.client.conftest import END, START, listing_body, url

US = dt.timedelta(microseconds=1)


def sent(requests_mock: Any) -> list[tuple[str, str]]:
    """The last request's query as sent (order and case kept)."""
    return urllib.parse.parse_qsl(urllib.parse.urlsplit(requests_mock.last_request.url).query)


def empty_listing(wire: contract.Contract) -> Any:
    """A last page with no records, whatever the end signal."""
    p = wire.pagination
    end = {f: v for f, v in ((p.next_field, None), (p.has_more_field, False), (p.total_count_field, 0)) if f}
    return listing_body(wire, [], **end)


def test_the_default_query_is_unchanged_on_the_wire(make_hook, requests_mock):
    requests_mock.get(url(contract.DEFAULT, "invocation_logs", team_id="team-1"), json=empty_listing(contract.DEFAULT))

    list(
        make_hook().iter_invocation_logs(START, END, execution_statuses=["FINISHED", "RUNNING"], trigger_types="MANUAL")
    )

    assert sent(requests_mock) == [
        ("from", "2026-11-01T00:00:00.000Z"),
        ("to", "2026-11-02T00:00:00.000Z"),
        ("pageSize", "100"),
        ("orderBy", "startTime"),
        ("orderDirection", "asc"),
        ("executionStatuses", "FINISHED"),
        ("executionStatuses", "RUNNING"),
        ("triggerTypes", "MANUAL"),
    ]


#: The window [START, END) as each contract sends it.
WINDOWS = {
    "default": [("from", "2026-11-01T00:00:00.000Z"), ("to", "2026-11-02T00:00:00.000Z")],
    "pages": [("startFrom", "1793491200000"), ("startTo", "1793577599999")],  # epoch ms, inclusive
    "offset": [("since", "1793491200"), ("until", "1793577600")],  # epoch s, exclusive
}


def test_each_contract_names_and_spells_the_query(hook, named, requests_mock):
    name, _, wire = named
    requests_mock.get(url(wire, "invocation_logs", team_id="team-1"), json=empty_listing(wire))

    list(hook.iter_invocation_logs(START, END, execution_statuses=["TIMED_OUT", "DENIED"], trigger_types=["CHAINED"]))

    f, p = wire.filters, wire.pagination
    statuses = [wire.enums.statuses["TIMED_OUT"], wire.enums.statuses["DENIED"]]
    trigger = wire.enums.trigger_types["CHAINED"]
    if f.multi_value == "repeat":
        filters = [(f.execution_statuses_param, s) for s in statuses] + [(f.trigger_types_param, trigger)]
    else:
        filters = [(f.execution_statuses_param, ",".join(statuses)), (f.trigger_types_param, trigger)]
    sort = [(n, v) for n, v in ((f.order_by_param, f.order_by), (f.order_direction_param, f.ascending)) if n]
    first = [] if p.style == "cursor" else [(p.param, str(p.first_page if p.style == "page" else 0))]
    assert sent(requests_mock) == [*WINDOWS[name], (p.size_param, str(p.size_default)), *sort, *filters, *first]
    if name == "offset":
        assert not sort, "the offset contract has no sort parameter: none is sent"
    if name == "pages":
        assert filters == [("status", "timed_out,denied"), ("trigger", "chained")]
        assert sort == [("sortBy", "startTime"), ("sortOrder", "ASC")]


# The window [start, end) rounded out to the format's unit; an inclusive ms `to` is one ms less.
@pytest.mark.parametrize(
    ("window", "start", "end", "expected"),
    [
        ({}, START + 500 * US, END + 500 * US, ("2026-11-01T00:00:00.000Z", "2026-11-02T00:00:00.001Z")),
        ({}, START + 1000 * US, END + 1000 * US, ("2026-11-01T00:00:00.001Z", "2026-11-02T00:00:00.001Z")),
        (
            {"to_inclusive": True},
            START,
            END + 500 * US,
            ("2026-11-01T00:00:00.000Z", "2026-11-02T00:00:00.000Z"),
        ),
        ({"time_format": "epoch-ms"}, START + 999 * US, END, ("1793491200000", "1793577600000")),
        ({"time_format": "epoch-ms", "to_inclusive": True}, START, END, ("1793491200000", "1793577599999")),
        ({"time_format": "epoch-ms", "to_inclusive": True}, START, END + US, ("1793491200000", "1793577600000")),
        ({"time_format": "epoch-s"}, START + 999_999 * US, END + US, ("1793491200", "1793577601")),
        ({"time_format": "epoch-s", "to_inclusive": True}, START, END, ("1793491200", "1793577600")),
        ({"time_format": "epoch-s", "to_inclusive": True}, START, END + US, ("1793491200", "1793577601")),
    ],
)
def test_the_window_is_rounded_out_and_an_inclusive_to_is_exact_in_ms(window, start, end, expected):
    params = _api.window_params(start, end, contract.load({"window": window}).window)
    assert tuple(value for _, value in params) == expected


def test_pendulum_bounds_format_like_datetimes():
    import pendulum

    w = contract.load({"window": {"time_format": "epoch-ms", "to_inclusive": True}}).window
    assert _api.window_params(pendulum.instance(START), pendulum.instance(END), w) == _api.window_params(START, END, w)


def test_a_descending_sort_is_spelled_by_the_contract():
    wire = contract.load({"filters": {"order_direction_param": "dir", "descending": "DESC"}})
    params = _api.invocation_query(START, END, wire, order_by="duration", order_direction="desc")
    assert ("orderBy", "duration") in params and ("dir", "DESC") in params


def test_no_sort_parameter_is_sent_when_the_contract_has_none():
    wire = contract.load({"filters": {"order_by_param": None, "order_direction_param": None}})
    params = _api.invocation_query(START, END, wire)
    assert [name for name, _ in params] == ["from", "to", "pageSize"]
    with pytest.raises(SRConnectParamError, match="order_by_param is null"):
        _api.invocation_query(START, END, wire, order_by="duration")
    with pytest.raises(SRConnectParamError, match="order_direction"):
        _api.invocation_query(START, END, wire, order_direction="desc")


@pytest.mark.parametrize(
    ("query", "param"),
    [
        ({"execution_statuses": ["finished"]}, "execution_statuses"),  # the wire spelling is not a provider name
        ({"trigger_types": ["external"]}, "trigger_types"),
        ({"page_size": 51}, "page_size"),  # pages.json: at most 50
        ({"page_size": 0}, "page_size"),
        ({"order_by": "startedAt"}, "order_by"),
    ],
)
def test_users_pass_provider_names_checked_before_any_request(make_hook, requests_mock, query, param):
    from tests.client.conftest import OVERRIDES

    with pytest.raises(SRConnectParamError) as err:
        make_hook(contract=OVERRIDES["pages"]).iter_invocation_logs(START, END, **query)
    assert err.value.param == param and requests_mock.call_count == 0


def test_the_page_size_defaults_and_bounds_come_from_the_contract():
    wire = contract.load({"pagination": {"size_param": "limit", "size_max": 50, "size_default": 20}})
    assert _api.page_size_param(None, wire.pagination) == [("limit", "20")]
    assert _api.page_size_param(50, wire.pagination) == [("limit", "50")]
    with pytest.raises(SRConnectParamError, match="from 1 to 50"):
        _api.page_size_param(100, wire.pagination)
