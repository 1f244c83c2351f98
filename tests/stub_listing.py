"""The listing interface of a stub hook (what ``listing.Listing`` calls), served from its ``iter_*_logs``.

A stub's walk says it is done from the start, so its window is never sliced: its records come in pages of
``PAGE`` in the order its ``iter_invocation_logs`` / ``iter_audit_logs`` gives them.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

PAGE = 100


@dataclass
class StubWalk:
    log_type: str
    start: Any
    end: Any
    query: dict[str, Any]
    done: bool = True
    what: str = "a stub listing"


class ListsFromIter:
    """Mix into a stub hook that defines ``iter_invocation_logs`` (and ``iter_audit_logs``)."""

    def invocation_walk(self, start: Any, end: Any, **query: Any) -> StubWalk:
        return StubWalk("invocations", start, end, query)

    def audit_walk(self, start: Any, end: Any, **query: Any) -> StubWalk:
        return StubWalk("audit", start, end, query)

    def pages(self, walk: StubWalk, log_type: str = "invocations", team_id: str | None = None) -> Any:
        source = getattr(self, "iter_audit_logs" if log_type == "audit" else "iter_invocation_logs")
        records = iter(source(walk.start, walk.end, **walk.query))
        while page := list(itertools.islice(records, PAGE)):
            yield page
