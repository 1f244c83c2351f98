"""Pagination schemes, one small class each; the contract module picks the one SRC uses.

A scheme only says which query parameters ask for the next page. It does no I/O, so the sync
hook, the async hook and the sandbox (which serves the same scheme) all share it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol


class Pagination(Protocol):
    """How a listing asks for its next page."""

    @property
    def request_param(self) -> str:
        """The query parameter that names a page."""
        ...

    def first_params(self) -> dict[str, str]:
        """Query parameters of the first page."""
        ...

    def next_params(
        self, current: Mapping[str, str], body: Mapping[str, Any], item_count: int, page_size: int
    ) -> dict[str, str] | None:
        """Query parameters of the page after ``current``, or None after the last page."""
        ...


@dataclass(frozen=True)
class CursorPagination:
    """The response names the next page with an opaque token; no token means the last page."""

    request_param: str
    response_field: str

    def first_params(self) -> dict[str, str]:
        return {}

    def next_params(
        self, current: Mapping[str, str], body: Mapping[str, Any], item_count: int, page_size: int
    ) -> dict[str, str] | None:
        token = body.get(self.response_field)
        return {self.request_param: str(token)} if token else None


@dataclass(frozen=True)
class PageNumberPagination:
    """Pages are numbered from ``first_page``; a short page is the last one."""

    request_param: str
    first_page: int = 1

    def first_params(self) -> dict[str, str]:
        return {self.request_param: str(self.first_page)}

    def next_params(
        self, current: Mapping[str, str], body: Mapping[str, Any], item_count: int, page_size: int
    ) -> dict[str, str] | None:
        if item_count < page_size:
            return None
        return {self.request_param: str(int(current[self.request_param]) + 1)}
