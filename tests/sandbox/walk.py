"""A raw client of the sandbox written from the agreed wire semantics alone (no hook, no ``_api``).

``walk`` collects every page of a listing the way the contract says a client must: the first
request, the continuation (cursor token, next page number, next offset) and the end signal
(next field, total pages, total count, has-more, or a short/empty last page). A short or empty page
ends the walk only when ``last_page`` says so; a repeated query fails the walk.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from airflow_provider_srconnect import contract
from airflow_provider_srconnect.sandbox import DEFAULT_API_KEY, DEFAULT_EMAIL
from airflow_provider_srconnect.sandbox.api import Reply, SandboxApp

Params = list[tuple[str, str]]
Record = dict[str, Any]
#: GET path?params -> the reply (any status).
Get = Callable[[str, Params], Reply]
AUTHORIZATION = "Basic " + base64.b64encode(f"{DEFAULT_EMAIL}:{DEFAULT_API_KEY}".encode()).decode()
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
MAX_PAGES = 2000


def app_get(app: SandboxApp, authorization: str | None = AUTHORIZATION) -> Get:
    """A ``Get`` that calls the socket-free ``SandboxApp.handle``."""

    def get(path: str, params: Params) -> Reply:
        target = path + ("?" + urlencode(params) if params else "")
        return app.handle("GET", target, authorization)

    return get


def body_of(reply: Reply) -> Any:
    """The JSON body of a 200 reply."""
    assert reply.status == 200, (reply.status, reply.body[:300])
    return json.loads(reply.body)


def _floor(moment: dt.datetime, unit: dt.timedelta) -> dt.datetime:
    return moment - (moment - _EPOCH) % unit


def window_params(wire: contract.Contract, start: dt.datetime, end: dt.datetime) -> Params:
    """``from``/``to`` of ``[start, end)``: rounded out to the format's unit, ``to`` - 1 ms when inclusive in ms."""
    w = wire.window
    unit = contract.TIME_UNITS[w.time_format]
    low = _floor(start, unit)
    high = _floor(end, unit)
    if high < end:
        high += unit
    if w.to_inclusive and w.time_format != "epoch-s":
        high -= dt.timedelta(milliseconds=1)
    return [
        (w.from_param, str(contract.format_time(low, w.time_format))),
        (w.to_param, str(contract.format_time(high, w.time_format))),
    ]


def filter_params(
    wire: contract.Contract,
    statuses: Sequence[str] = (),
    triggers: Sequence[str] = (),
    *,
    order_by: str | None = None,
    direction: str = "asc",
) -> Params:
    """The filters in provider names, spelled for the wire; the sort when the contract takes one."""
    f = wire.filters
    params: Params = []
    for name, values in (
        (f.execution_statuses_param, [wire.enums.statuses[s] for s in statuses]),
        (f.trigger_types_param, [wire.enums.trigger_types[t] for t in triggers]),
    ):
        if values and f.multi_value == "comma":
            params.append((name, ",".join(values)))
        else:
            params += [(name, v) for v in values]
    if f.order_by_param is not None:
        params.append((f.order_by_param, order_by or f.order_by))
    if f.order_direction_param is not None:
        params.append((f.order_direction_param, f.direction(direction)))
    return params


@dataclass(frozen=True)
class Walked:
    """What a walk collected: the records in order, the pages fetched, the queries sent, each page's length."""

    records: list[Record]
    pages: int
    queries: list[Params]
    sizes: list[int]


def items_of(wire: contract.Contract, body: Any) -> list[Record]:
    """The record list of a listing reply (at the wrapper, or the bare list)."""
    wrapper = wire.listing.wrapper
    items = body if wrapper is None else contract.lookup(body, wrapper)
    assert isinstance(items, list), f"no record list at {wrapper!r}: {str(body)[:200]}"
    return items


def walk(
    get: Get, wire: contract.Contract, path: str, params: Params, page_size: int, *, resend: bool = True
) -> Walked:
    """Every record of a listing, page after page as the contract says.

    ``resend`` False sends a cursor token alone after the first page (the sandbox allows it).
    """
    p = wire.pagination
    base = [*params, (p.size_param, str(page_size))]
    position = p.first_page if p.style == "page" else 0
    extra: Params = [] if p.style == "cursor" else [(p.param, str(position))]
    records: list[Record] = []
    queries: list[Params] = []
    sizes: list[int] = []
    for pages in range(1, MAX_PAGES + 1):
        query = (base if resend or pages == 1 else []) + extra
        assert query not in queries, f"the walk repeated a query: {query}"
        queries.append(query)
        body = body_of(get(path, query))
        items = items_of(wire, body)
        records += items
        sizes.append(len(items))
        if (p.last_page == "short" and len(items) < page_size) or (p.last_page == "empty" and not items):
            return Walked(records, pages, queries, sizes)
        if p.style == "cursor":
            assert p.next_field is not None
            token = contract.lookup(body, p.next_field)
            if token is None or token == "":
                return Walked(records, pages, queries, sizes)
            extra = [(p.param, str(token))]
            continue
        following = position + 1 if p.style == "page" else position + len(items)
        if p.last_page == "field" and _ends(p, body, pages, page_size, following):
            return Walked(records, pages, queries, sizes)
        if p.next_field is not None:
            following = int(contract.lookup(body, p.next_field))
        position = following
        extra = [(p.param, str(position))]
    raise AssertionError(f"the walk did not end within {MAX_PAGES} pages")


def _ends(p: contract.Pagination, body: Any, pages: int, page_size: int, following: int) -> bool:
    """Whether the reply's end field says this page is the last (``following`` = next page or offset)."""
    if p.next_field is not None:
        return contract.lookup(body, p.next_field) is None
    if p.total_pages_field is not None:
        return pages >= int(contract.lookup(body, p.total_pages_field))
    if p.total_count_field is not None:
        total = int(contract.lookup(body, p.total_count_field))
        return pages >= math.ceil(total / page_size) if p.style == "page" else following >= total
    assert p.has_more_field is not None
    return contract.lookup(body, p.has_more_field) is not True


def in_window(
    wire: contract.Contract, records: Iterable[Record], time_field: str, start: dt.datetime, end: dt.datetime
) -> list[Record]:
    """The records whose time is in ``[start, end)`` (a client drops the rest of a rounded-out window)."""
    fmt = wire.records.time_format
    return [r for r in records if start <= contract.parse_time(r[time_field], fmt) < end]
