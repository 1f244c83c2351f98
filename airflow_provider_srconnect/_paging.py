"""The page walk of a listing, as the contract's ``pagination`` group describes it: pure, no I/O.

``first_page`` gives the query parameters of the first page, ``next_page`` those of the page after a
reply (or None at the end). Three styles: ``cursor`` (an opaque token), ``page`` (page numbers) and
``offset`` (a record offset, the page size as its limit). The end of a walk is known from the reply
(``next_field``, ``total_pages_field``, ``total_count_field`` or ``has_more_field``) or from
``last_page`` (``short``: a page with fewer items than asked for; ``empty``: an empty page). A short
or empty page never ends a walk otherwise. A reply whose end signal is unreadable raises ``ValueError``
(the caller names the listing).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING

from airflow_provider_srconnect.contract import lookup

if TYPE_CHECKING:
    from airflow_provider_srconnect.contract import Pagination


def first_page(scheme: Pagination) -> dict[str, str]:
    """Query parameters that ask for the first page (the page size is sent apart)."""
    if scheme.style == "cursor":
        return {}
    if scheme.style == "page":
        return {scheme.param: str(scheme.first_page)}
    return {scheme.param: "0"}


def next_page(
    scheme: Pagination, current: Mapping[str, str], body: object, items: int, page_size: int
) -> dict[str, str] | None:
    """Query parameters of the page after ``current`` (whose reply ``body`` held ``items`` records), or None."""
    if (scheme.last_page == "short" and items < page_size) or (scheme.last_page == "empty" and items == 0):
        return None
    if scheme.style == "cursor":
        token = _at(body, scheme.next_field)
        if token is None or token == "":
            return None
        if isinstance(token, bool) or not isinstance(token, (str, int)):
            raise ValueError(f"'{scheme.next_field}' is not a token: a {type(token).__name__}")
        return {scheme.param: str(token)}
    position = int(current[scheme.param])
    following = position + 1 if scheme.style == "page" else position + items
    if scheme.next_field is not None:
        named = _number(body, scheme.next_field)
        if named is None:
            return None
        following = named
    elif scheme.total_pages_field is not None:
        pages = _number(body, scheme.total_pages_field)
        if pages is None or position - scheme.first_page + 1 >= pages:
            return None
    elif scheme.total_count_field is not None:
        total = _number(body, scheme.total_count_field)
        if total is None:
            return None
        if scheme.style == "page" and position - scheme.first_page + 1 >= math.ceil(total / page_size):
            return None
        if scheme.style == "offset" and following >= total:
            return None
    elif scheme.has_more_field is not None:
        more = _at(body, scheme.has_more_field)
        if more is None or more is False:
            return None
        if more is not True:
            raise ValueError(f"'{scheme.has_more_field}' is not true or false: {type(more).__name__}")
    return {scheme.param: str(following)}


def _at(body: object, dotted: str | None) -> object:
    return None if dotted is None else lookup(body, dotted)


def _number(body: object, dotted: str) -> int | None:
    """A whole number (or its decimal text) at ``dotted``; None when missing or null."""
    value = _at(body, dotted)
    if value is None:
        return None
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"'{dotted}' is not a whole number: {value!r}"[:200])
    return value
