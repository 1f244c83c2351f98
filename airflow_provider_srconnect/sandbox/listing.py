"""The two listings: strict query validation and both pagination schemes of ``contract.PAGINATION``.

The scheme is read at request time, so a test can monkeypatch ``contract.PAGINATION``:

* ``CursorPagination``: the token is a signed (scope, query, keyset position). With ``orderBy`` =
  start time the position is (start ms, id) and the next page is generated from that hour on;
  other ``orderBy`` values materialise the window and sort it (ties broken by id). A follow-up
  request may repeat the query or send the token alone (the page size then stays the same); a
  different query is a 400.
* ``PageNumberPagination``: the page is an offset into the same order; a page past the end is empty.
"""

from __future__ import annotations

import bisect
import datetime as dt
import itertools
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow_provider_srconnect import contract
from airflow_provider_srconnect._paging import CursorPagination
from airflow_provider_srconnect.sandbox import data

if TYPE_CHECKING:
    from airflow_provider_srconnect.sandbox.tokens import Signer
    from airflow_provider_srconnect.sandbox.window import Dataset, Moment, Record

Pairs = Sequence[tuple[str, str]]
_DIGITS = re.compile(r"[0-9]{1,9}")
_F = contract.InvocationField
_A = contract.AuditField


class BadRequest(Exception):
    """A 400; the message names the parameter and what is wrong with it."""


@dataclass(frozen=True)
class ListingQuery:
    """A validated listing request."""

    invocations: bool
    page_size: int
    start: dt.datetime | None = None
    end: dt.datetime | None = None
    statuses: frozenset[str] | None = None
    triggers: frozenset[str] | None = None
    order_by: str = contract.InvocationField.START_TIME
    descending: bool = False
    after: tuple[Any, ...] | None = None
    page: int | None = None
    filters: tuple[tuple[str, str], ...] = ()


def _show(value: str) -> str:
    return repr(value if len(value) <= 60 else value[:60] + "...")


def _int(name: str, value: str, low: int, high: int | None) -> int:
    if not _DIGITS.fullmatch(value) or int(value) < low or (high is not None and int(value) > high):
        limits = f"{low}..{high}" if high is not None else f">= {low}"
        raise BadRequest(f"{name} must be an integer in {limits}, got {_show(value)}")
    return int(value)


def _time(name: str, value: str | None) -> dt.datetime | None:
    if value is None:
        return None
    try:
        return contract.parse_time(value)
    except ValueError:
        raise BadRequest(f"{name} is not an ISO-8601 time with a zone: {_show(value)}") from None


def _enum(name: str, values: list[str], allowed: Sequence[str]) -> frozenset[str] | None:
    if not values:
        return None
    if not contract.MULTI_VALUE_AS_REPEATED_KEY:
        values = [part for value in values for part in value.split(",")]
    for value in values:
        if value not in allowed:
            raise BadRequest(f"{name}: unrecognised value {_show(value)}; allowed: {', '.join(allowed)}")
    return frozenset(values)


def _grouped(pairs: Pairs) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for key, value in pairs:
        grouped.setdefault(key, []).append(value)
    return grouped


def parse_listing(pairs: Pairs, *, invocations: bool, scope: str, signer: Signer) -> ListingQuery:
    """Validate the query string of a listing; raise ``BadRequest`` like the strict real API."""
    pagination = contract.PAGINATION
    token_param = pagination.request_param
    multi = (contract.PARAM_EXECUTION_STATUSES, contract.PARAM_TRIGGER_TYPES)
    allowed = {contract.PARAM_PAGE_SIZE, contract.PARAM_FROM, contract.PARAM_TO, token_param}
    if invocations:
        allowed |= {*multi, contract.PARAM_ORDER_BY, contract.PARAM_ORDER_DIRECTION}
    grouped = _grouped(pairs)
    for key, values in grouped.items():
        if key not in allowed:
            raise BadRequest(f"unknown query parameter {_show(key)}")
        if len(values) > 1 and not (contract.MULTI_VALUE_AS_REPEATED_KEY and key in multi):
            raise BadRequest(f"{key} may be given only once")
    size_text = grouped.get(contract.PARAM_PAGE_SIZE, [str(contract.PAGE_SIZE_DEFAULT)])[0]
    page_size = _int(contract.PARAM_PAGE_SIZE, size_text, 1, contract.PAGE_SIZE_MAX)
    filters = tuple(sorted((k, v) for k, v in pairs if k not in (contract.PARAM_PAGE_SIZE, token_param)))
    after: tuple[Any, ...] | None = None
    page: int | None = None
    if isinstance(pagination, CursorPagination):
        if token_param in grouped:
            payload = signer.loads(grouped[token_param][0])
            if payload is None or payload.get("s") != scope:
                raise BadRequest(f"{token_param} is not a token this listing issued")
            saved = tuple((str(k), str(v)) for k, v in payload["q"])
            if filters and filters != saved:
                raise BadRequest(f"{token_param} was issued for a different query")
            filters, after = saved, tuple(payload["k"])
            if contract.PARAM_PAGE_SIZE not in grouped:
                page_size = int(payload["n"])
    else:
        first = pagination.first_page
        page = _int(token_param, grouped.get(token_param, [str(first)])[0], first, None) - first
    return _build(invocations, page_size, filters, after, page)


def _build(
    invocations: bool,
    page_size: int,
    filters: tuple[tuple[str, str], ...],
    after: tuple[Any, ...] | None,
    page: int | None,
) -> ListingQuery:
    """Read the filters (the query without page size and page/token) into a ``ListingQuery``."""
    grouped = _grouped(filters)
    start = _time(contract.PARAM_FROM, grouped.get(contract.PARAM_FROM, [None])[0])
    end = _time(contract.PARAM_TO, grouped.get(contract.PARAM_TO, [None])[0])
    if start is not None and end is not None and start > end:
        raise BadRequest(f"{contract.PARAM_FROM} is after {contract.PARAM_TO}")
    order_by = grouped.get(contract.PARAM_ORDER_BY, [contract.InvocationField.START_TIME])[0]
    if order_by not in contract.ORDER_BY_VALUES:
        allowed = ", ".join(sorted(contract.ORDER_BY_VALUES))
        raise BadRequest(f"{contract.PARAM_ORDER_BY}: unrecognised value {_show(order_by)}; allowed: {allowed}")
    direction = grouped.get(contract.PARAM_ORDER_DIRECTION, [contract.ORDER_DIRECTIONS[0]])[0]
    if direction not in contract.ORDER_DIRECTIONS:
        raise BadRequest(
            f"{contract.PARAM_ORDER_DIRECTION}: unrecognised value {_show(direction)}; "
            f"allowed: {', '.join(contract.ORDER_DIRECTIONS)}"
        )
    return ListingQuery(
        invocations=invocations,
        page_size=page_size,
        start=start,
        end=end,
        statuses=_enum(
            contract.PARAM_EXECUTION_STATUSES,
            grouped.get(contract.PARAM_EXECUTION_STATUSES, []),
            contract.EXECUTION_STATUSES,
        ),
        triggers=_enum(
            contract.PARAM_TRIGGER_TYPES, grouped.get(contract.PARAM_TRIGGER_TYPES, []), contract.TRIGGER_TYPES
        ),
        order_by=order_by,
        descending=direction != contract.ORDER_DIRECTIONS[0],
        after=after,
        page=page,
        filters=filters,
    )


def _time_key(record: Record, time_field: str, id_field: str) -> tuple[int, str]:
    us = data.datetime_to_us(contract.parse_time(record[time_field]))
    return us // 1000, str(record[id_field])


def _sort_key(record: Record, field: str) -> tuple[int, Any, str]:
    value = record[field]
    if isinstance(value, dict):
        value = value.get("name")
    identity = str(record[contract.InvocationField.ID])
    return (0, 0, identity) if value is None else (1, value, identity)


def _body(items: list[Record], token: str | None) -> dict[str, Any]:
    body: dict[str, Any] = {contract.ITEMS_FIELD: items}
    pagination = contract.PAGINATION
    if isinstance(pagination, CursorPagination):
        body[pagination.response_field] = token
    return body


def _page(ordered: Iterator[Record], query: ListingQuery, scope: str, signer: Signer, key: Any) -> dict[str, Any]:
    size = query.page_size
    if query.page is not None:
        offset = query.page * size
        return _body(list(itertools.islice(ordered, offset, offset + size)), None)
    items = list(itertools.islice(ordered, size + 1))
    if len(items) <= size:
        return _body(items, None)
    items = items[:size]
    filters = [list(p) for p in query.filters]
    token = signer.dumps({"s": scope, "q": filters, "n": size, "k": list(key(items[-1]))})
    return _body(items, token)


def run_listing(
    dataset: Dataset, team_id: str, query: ListingQuery, moment: Moment, scope: str, signer: Signer
) -> dict[str, Any]:
    """The response body of one listing page."""
    lo, hi = moment.clamp(query.start, query.end)
    if not query.invocations:
        after = None if query.after is None else (int(query.after[0]), str(query.after[1]))
        records = dataset.audit(team_id, lo, hi, descending=query.descending, after=after)
        return _page(records, query, scope, signer, lambda r: _time_key(r, _A.DATE, _A.ID))
    if query.order_by == contract.InvocationField.START_TIME:
        after = None if query.after is None else (int(query.after[0]), str(query.after[1]))
        records = dataset.invocations(
            team_id,
            lo,
            hi,
            moment,
            statuses=query.statuses,
            triggers=query.triggers,
            descending=query.descending,
            after=after,
        )
        return _page(records, query, scope, signer, lambda r: _time_key(r, _F.START_TIME, _F.ID))
    everything = dataset.invocations(team_id, lo, hi, moment, statuses=query.statuses, triggers=query.triggers)
    keyed = sorted(((_sort_key(r, query.order_by), r) for r in everything), key=lambda kr: kr[0])
    keys = [k for k, _ in keyed]
    if query.after is None:
        chosen = keyed[::-1] if query.descending else keyed
    elif query.descending:
        chosen = keyed[: bisect.bisect_left(keys, query.after)][::-1]
    else:
        chosen = keyed[bisect.bisect_right(keys, query.after) :]
    return _page((r for _, r in chosen), query, scope, signer, lambda r: _sort_key(r, query.order_by))
