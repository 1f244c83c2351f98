"""The two listings: strict query validation and every pagination style of a ``contract.Pagination``.

All names and spellings come from the sandbox's contract:

* ``cursor``: the token is a signed (scope, query, page size, keyset position). With the start-time
  sort the position is (start ms, id) and the next page is generated from that hour on; other sort
  fields materialise the window and sort it (ties broken by id). A follow-up request may repeat the
  query or send the token alone (the page size then stays the same); a different query is a 400.
* ``page``: page numbers from ``first_page``; a page is a slice of the same ordered stream, and a page
  past the end is empty.
* ``offset``: a record offset, the page size as its limit.

Each reply carries the end signal the contract names (next token / page / offset, total pages, total
count, has-more), or nothing when the last page is known by being short or empty. With short pages
(``SandboxConfig.short_pages``) every page whose 0-based index % 3 == 1 holds ``max(1, size // 2)``
records; an offset walk's index is read back from the offset, so an offset off that schedule gets a
full page.
"""

from __future__ import annotations

import bisect
import datetime as dt
import itertools
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow_provider_srconnect import contract
from airflow_provider_srconnect.sandbox import data

if TYPE_CHECKING:
    from airflow_provider_srconnect.contract import Contract, Pagination
    from airflow_provider_srconnect.sandbox.tokens import Signer
    from airflow_provider_srconnect.sandbox.window import Dataset, Moment, Record

Pairs = Sequence[tuple[str, str]]
_DIGITS = re.compile(r"[0-9]{1,9}")
_EPOCH_DIGITS = re.compile(r"[0-9]{1,16}")
_F = contract.InvocationField
_A = contract.AuditField


class BadRequest(Exception):
    """A 400; the message names the parameter and what is wrong with it."""


@dataclass(frozen=True)
class ListingQuery:
    """A validated listing request.

    ``lo``/``hi``: the window in epoch ms, ``[lo, hi)`` (None: open). ``statuses``/``triggers``:
    provider names. ``index``: the page's 0-based index, None when unknown (an offset off the
    short-page schedule). ``offset``: records skipped (page and offset styles).
    """

    invocations: bool
    page_size: int
    lo: int | None = None
    hi: int | None = None
    statuses: frozenset[str] | None = None
    triggers: frozenset[str] | None = None
    order_by: str = _F.START_TIME
    descending: bool = False
    after: tuple[Any, ...] | None = None
    index: int | None = 0
    offset: int = 0
    filters: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Page:
    """One page: its records (provider names) and the pagination fields of the reply, in order."""

    items: list[Record]
    fields: list[tuple[str, Any]]


def _show(value: str) -> str:
    return repr(value if len(value) <= 60 else value[:60] + "...")


def _int(name: str, value: str, low: int, high: int | None) -> int:
    if not _DIGITS.fullmatch(value) or int(value) < low or (high is not None and int(value) > high):
        limits = f"{low}..{high}" if high is not None else f">= {low}"
        raise BadRequest(f"{name} must be an integer in {limits}, got {_show(value)}")
    return int(value)


def _us(moment: dt.datetime) -> int:
    return data.datetime_to_us(moment)


def _bound(
    name: str, value: str | None, time_format: contract.TimeFormat, *, upper: bool, inclusive: bool
) -> int | None:
    """A window bound in epoch ms: the first ms kept (``upper`` False) or the first ms no longer kept."""
    if value is None:
        return None
    if time_format == "iso-ms":
        try:
            us = _us(contract.parse_time(value))
        except ValueError:
            raise BadRequest(f"{name} is not an ISO-8601 time with a zone: {_show(value)}") from None
        if not upper:
            return -(-us // 1000)
        return us // 1000 + 1 if inclusive else -(-us // 1000)
    if not _EPOCH_DIGITS.fullmatch(value):
        unit = "milliseconds" if time_format == "epoch-ms" else "seconds"
        raise BadRequest(f"{name} is not a whole number of epoch {unit}: {_show(value)}")
    ms = int(value) * (1 if time_format == "epoch-ms" else 1000)
    return ms + 1 if upper and inclusive else ms


def _enum(name: str, values: list[str], spellings: Mapping[str, str], comma: bool) -> frozenset[str] | None:
    """The provider names of the wire spellings given (repeated keys, or comma lists)."""
    if not values:
        return None
    if comma:
        values = [part for value in values for part in value.split(",")]
    provider = {wire: name for name, wire in spellings.items()}
    for value in values:
        if value not in provider:
            raise BadRequest(f"{name}: unrecognised value {_show(value)}; allowed: {', '.join(spellings.values())}")
    return frozenset(provider[value] for value in values)


def _grouped(pairs: Pairs) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for key, value in pairs:
        grouped.setdefault(key, []).append(value)
    return grouped


def shortened(wire: Contract, short_pages: bool) -> bool:
    """Whether short pages are served mid-stream under ``wire`` (not where they would end the walk)."""
    p = wire.pagination
    return short_pages and p.last_page != "short" and not (p.style == "page" and p.total_count_field is not None)


def page_size_at(size: int, index: int | None, short: bool) -> int:
    """The records page ``index`` holds (a full page off the short-page schedule)."""
    return max(1, size // 2) if short and index is not None and index % 3 == 1 else size


def offset_of(size: int, index: int, short: bool) -> int:
    """The records before page ``index``."""
    if not short:
        return index * size
    half = max(1, size // 2)
    cycles, rest = divmod(index, 3)
    return cycles * (2 * size + half) + (size if rest >= 1 else 0) + (half if rest >= 2 else 0)


def index_at(size: int, offset: int, short: bool) -> int | None:
    """The page index that starts at ``offset``, or None when no page does."""
    if not short:
        return offset // size if offset % size == 0 else None
    half = max(1, size // 2)
    cycles, rest = divmod(offset, 2 * size + half)
    steps = {0: 0, size: 1, size + half: 2}
    return None if rest not in steps else 3 * cycles + steps[rest]


def pages_for(total: int, size: int, short: bool) -> int:
    """How many pages hold ``total`` records (0 for none)."""
    pages = 0
    while offset_of(size, pages, short) < total:
        pages += 1
    return pages


def parse_listing(
    pairs: Pairs, *, invocations: bool, scope: str, signer: Signer, wire: Contract, short: bool
) -> ListingQuery:
    """Validate the query string of a listing; raise ``BadRequest`` like the strict real API."""
    p = wire.pagination
    f = wire.filters
    w = wire.window
    multi = (f.execution_statuses_param, f.trigger_types_param)
    repeat = f.multi_value == "repeat"
    allowed = {p.size_param, w.from_param, w.to_param, p.param}
    if invocations:
        allowed |= {*multi} | {name for name in (f.order_by_param, f.order_direction_param) if name is not None}
    grouped = _grouped(pairs)
    for key, values in grouped.items():
        if key not in allowed:
            raise BadRequest(f"unknown query parameter {_show(key)}")
        if len(values) > 1 and not (repeat and key in multi):
            raise BadRequest(f"{key} may be given only once")
    size_text = grouped.get(p.size_param, [str(p.size_default)])[0]
    page_size = _int(p.size_param, size_text, 1, p.size_max)
    filters = tuple(sorted((k, v) for k, v in pairs if k not in (p.size_param, p.param)))
    after: tuple[Any, ...] | None = None
    index: int | None = 0
    offset = 0
    if p.style == "cursor":
        if p.param in grouped:
            payload = signer.loads(grouped[p.param][0])
            if payload is None or payload.get("s") != scope:
                raise BadRequest(f"{p.param} is not a token this listing issued")
            saved = tuple((str(k), str(v)) for k, v in payload["q"])
            if filters and filters != saved:
                raise BadRequest(f"{p.param} was issued for a different query")
            filters, after = saved, tuple(payload["k"])
            index = int(payload.get("p", 0))
            if p.size_param not in grouped:
                page_size = int(payload["n"])
    elif p.style == "page":
        index = _int(p.param, grouped.get(p.param, [str(p.first_page)])[0], p.first_page, None) - p.first_page
        offset = offset_of(page_size, index, short)
    else:
        offset = _int(p.param, grouped.get(p.param, ["0"])[0], 0, None)
        index = index_at(page_size, offset, short)
    return _build(wire, invocations, page_size, filters, after, index, offset)


def _build(
    wire: Contract,
    invocations: bool,
    page_size: int,
    filters: tuple[tuple[str, str], ...],
    after: tuple[Any, ...] | None,
    index: int | None,
    offset: int,
) -> ListingQuery:
    """Read the filters (the query without page size and page/token) into a ``ListingQuery``."""
    grouped = _grouped(filters)
    w = wire.window
    f = wire.filters
    first = grouped.get(w.from_param, [None])[0]
    last = grouped.get(w.to_param, [None])[0]
    lo = _bound(w.from_param, first, w.time_format, upper=False, inclusive=False)
    hi = _bound(w.to_param, last, w.time_format, upper=True, inclusive=w.to_inclusive)
    if lo is not None and hi is not None and lo > hi - (1 if w.to_inclusive else 0):
        raise BadRequest(f"{w.from_param} is after {w.to_param}")
    order_by = _F.START_TIME
    if f.order_by_param is not None and f.order_by_param in grouped:
        given = grouped[f.order_by_param][0]
        choices = contract.ORDER_BY_VALUES | {f.order_by}
        if given not in choices:
            allowed = ", ".join(sorted(choices))
            raise BadRequest(f"{f.order_by_param}: unrecognised value {_show(given)}; allowed: {allowed}")
        order_by = _F.START_TIME if given == f.order_by else given
    descending = False
    if f.order_direction_param is not None and f.order_direction_param in grouped:
        direction = grouped[f.order_direction_param][0]
        if direction not in (f.ascending, f.descending):
            raise BadRequest(
                f"{f.order_direction_param}: unrecognised value {_show(direction)}; "
                f"allowed: {f.ascending}, {f.descending}"
            )
        descending = direction == f.descending
    comma = f.multi_value == "comma"
    return ListingQuery(
        invocations=invocations,
        page_size=page_size,
        lo=lo,
        hi=hi,
        statuses=_enum(
            f.execution_statuses_param, grouped.get(f.execution_statuses_param, []), wire.enums.statuses, comma
        ),
        triggers=_enum(f.trigger_types_param, grouped.get(f.trigger_types_param, []), wire.enums.trigger_types, comma),
        order_by=order_by,
        descending=descending,
        after=after,
        index=index,
        offset=offset,
        filters=filters,
    )


def _time_key(record: Record, time_field: str, id_field: str) -> tuple[int, str]:
    us = data.datetime_to_us(contract.parse_time(record[time_field]))
    return us // 1000, str(record[id_field])


def _sort_key(record: Record, field: str) -> tuple[int, Any, str]:
    value = record[field]
    if isinstance(value, dict):
        value = value.get("name")
    identity = str(record[_F.ID])
    return (0, 0, identity) if value is None else (1, value, identity)


def _end_fields(
    p: Pagination, more: bool, following: int, total: int | None, pages: int | None
) -> list[tuple[str, Any]]:
    """The end signal of a page or offset reply: ``following`` is the next page number or offset."""
    if p.next_field is not None:
        return [(p.next_field, following if more else None)]
    if p.total_pages_field is not None:
        return [(p.total_pages_field, pages)]
    if p.total_count_field is not None:
        return [(p.total_count_field, total)]
    if p.has_more_field is not None:
        return [(p.has_more_field, more)]
    return []


class _Lister:
    """Pages of one ordered stream under one contract."""

    def __init__(self, wire: Contract, short: bool, query: ListingQuery, scope: str, signer: Signer) -> None:
        self.pagination = wire.pagination
        self.short = short
        self.query = query
        self.scope = scope
        self.signer = signer

    def page(self, ordered: Iterator[Record], key: Any) -> Page:
        p, query = self.pagination, self.query
        size = page_size_at(query.page_size, query.index, self.short)
        if p.style == "cursor":
            return self._cursor(ordered, size, key)
        needs_total = p.total_count_field is not None or p.total_pages_field is not None
        if needs_total:
            everything = list(ordered)
            items = everything[query.offset : query.offset + size]
            total: int | None = len(everything)
            more = query.offset + len(items) < len(everything)
        else:
            window = list(itertools.islice(ordered, query.offset, query.offset + size + 1))
            items, more, total = window[:size], len(window) > size, None
        if p.style == "page":
            assert query.index is not None
            pages = None if total is None else pages_for(total, query.page_size, self.short)
            following = p.first_page + query.index + 1
            return Page(items, _end_fields(p, more, following, total, pages))
        return Page(items, _end_fields(p, more, query.offset + len(items), total, None))

    def _cursor(self, ordered: Iterator[Record], size: int, key: Any) -> Page:
        query = self.query
        field = self.pagination.next_field
        assert field is not None
        items = list(itertools.islice(ordered, size + 1))
        if len(items) <= size:
            return Page(items, [(field, None)])
        items = items[:size]
        payload: dict[str, Any] = {
            "s": self.scope,
            "q": [list(p) for p in query.filters],
            "n": query.page_size,
            "k": list(key(items[-1])),
        }
        if self.short:
            payload["p"] = (query.index or 0) + 1
        return Page(items, [(field, self.signer.dumps(payload))])


def run_listing(
    dataset: Dataset,
    team_id: str,
    query: ListingQuery,
    moment: Moment,
    scope: str,
    signer: Signer,
    wire: Contract,
    short: bool,
) -> Page:
    """One listing page: its records with the provider's names, and the reply's pagination fields."""
    lister = _Lister(wire, short, query, scope, signer)
    lo, hi = moment.clamp_ms(query.lo, query.hi)
    if not query.invocations:
        after = None if query.after is None else (int(query.after[0]), str(query.after[1]))
        records = dataset.audit(team_id, lo, hi, descending=query.descending, after=after)
        return lister.page(records, lambda r: _time_key(r, _A.DATE, _A.ID))
    if query.order_by == _F.START_TIME:
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
        return lister.page(records, lambda r: _time_key(r, _F.START_TIME, _F.ID))
    everything = dataset.invocations(team_id, lo, hi, moment, statuses=query.statuses, triggers=query.triggers)
    keyed = sorted(((_sort_key(r, query.order_by), r) for r in everything), key=lambda kr: kr[0])
    keys = [k for k, _ in keyed]
    if query.after is None:
        chosen = keyed[::-1] if query.descending else keyed
    elif query.descending:
        chosen = keyed[: bisect.bisect_left(keys, query.after)][::-1]
    else:
        chosen = keyed[bisect.bisect_right(keys, query.after) :]
    return lister.page((r for _, r in chosen), lambda r: _sort_key(r, query.order_by))
