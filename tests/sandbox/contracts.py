"""Hypothesis strategies of random valid wire contracts, drawn from the contract's schema.

``overrides()`` draws the override JSON (as a connection's extra ``contract`` or ``--contract FILE``
takes it), every group set; ``contracts()`` is the same laid over ``contract.DEFAULT``. They cover
every pagination style and end signal (cursor with a plain or nested token field; page numbers from
0, 1 or 2 ended by a next-page field, total pages, total count, has-more, a short or an empty page;
offsets ended by a next-offset field, total count, has-more, short or empty), the wrapper as a dotted
key or a bare list (where the end signal allows one), renamed paths, parameters, record and console
fields, the three time formats, inclusive or exclusive ``to``, repeated or comma lists, sort
parameters or none, enum spellings, logs by URL or inline, both "no logs" shapes, a
``not_stored_status``, bare-list or wrapped log files, raw or JSON-wrapped large messages, and error
bodies at dotted keys. Every query parameter name is distinct and no two dotted keys of one reply
collide.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from hypothesis import strategies as st

from airflow_provider_srconnect import contract

Override = dict[str, Any]

_QUERY_NAMES = (
    "from", "to", "since", "until", "startFrom", "startTo", "after", "before", "start", "end",
    "page", "offset", "cursor", "nextToken", "pageToken", "skip", "p",
    "limit", "pageSize", "count", "per_page", "size",
    "status", "statuses", "executionStatuses", "state", "trigger", "triggers", "triggerTypes", "type",
    "sort", "sortBy", "orderBy", "order", "orderDirection", "dir", "sortOrder",
)  # fmt: skip
_PARENTS = ("result", "page", "meta", "paging", "response")
_WRAPPERS = ("items", "records", "data", "entries", "results")
_END_LEAVES = ("next", "nextToken", "cursor", "nextPage", "hasMore", "more", "total", "totalPages", "count")
_LOG_WRAPPERS = ("logs", "entries", "lines", "items")
_LOG_PARENTS = ("data", "file", "result")
_LARGE_FIELDS = ("content", "message", "text", "body")
_URL_FIELDS = ("url", "downloadUrl", "href", "link")
_URL_PARENTS = ("download", "data", "result")
_DIRECTIONS = (("asc", "desc"), ("ASC", "DESC"), ("ascending", "descending"), ("1", "-1"))


def _dotted(parents: tuple[str, ...], leaves: tuple[str, ...]) -> st.SearchStrategy[str]:
    """A leaf alone, or ``parent.leaf``."""
    leaf = st.sampled_from(leaves)
    return st.one_of(leaf, st.builds(lambda p, v: f"{p}.{v}", st.sampled_from(parents), leaf))


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


def _renamed(group: tuple[str, ...]) -> st.SearchStrategy[dict[str, str]]:
    """Each field of a ``*Fields`` group kept, in snake_case, or in SCREAMING_SNAKE (distinct by construction)."""
    fields: Any = contract.DEFAULT.as_json()
    for part in group:
        fields = fields[part]
    return st.fixed_dictionaries(
        {key: st.sampled_from((value, _snake(value), _snake(value).upper() + "_")) for key, value in fields.items()}
    )


def _spellings(names: tuple[str, ...]) -> st.SearchStrategy[dict[str, str]]:
    """Wire spellings of provider names: as they are, lower case, CamelCase, or numeric codes."""
    styles: dict[str, Callable[[int, str], str]] = {
        "same": lambda i, n: n,
        "lower": lambda i, n: n.lower(),
        "camel": lambda i, n: "".join(w.capitalize() for w in n.split("_")),
        "codes": lambda i, n: str(10 + i),
    }
    return st.sampled_from(sorted(styles)).map(lambda s: {n: styles[s](i, n) for i, n in enumerate(names)})


@st.composite
def _paths(draw: st.DrawFn) -> Override:
    prefix = draw(st.sampled_from(("", "/v1", "/api", "/v2", "/api/v3")))
    team = draw(st.sampled_from(("team", "teams", "t")))
    invocation = draw(st.sampled_from(("invocation", "invocations", "runs")))
    listing = draw(st.lists(st.sampled_from(("invocationLogs", "invocations", "runs", "audit", "auditLogs", "events")),
                            min_size=2, max_size=2, unique=True))  # fmt: skip
    logs = draw(st.lists(st.sampled_from(("consoleLogs", "console", "httpLogs", "http", "fetches", "output")),
                         min_size=2, max_size=2, unique=True))  # fmt: skip
    large = draw(st.sampled_from(("largeLogMessage", "large-messages", "messages")))
    nested = draw(st.booleans())
    base = f"{prefix}/{invocation}/{{invocation_id}}"
    return {
        "invocation_logs": f"{prefix}/{team}/{{team_id}}/{listing[0]}",
        "audit_logs": f"{prefix}/{team}/{{team_id}}/{listing[1]}",
        "console_logs": f"{base}/{logs[0]}",
        "http_logs": f"{base}/{logs[1]}",
        "large_log_message": f"{base}/{logs[0]}/{large}/{{message_id}}" if nested else f"{base}/{large}/{{message_id}}",
    }


@st.composite
def _pagination(draw: st.DrawFn, names: dict[str, str]) -> Override:
    style = draw(st.sampled_from(("cursor", "page", "offset")))
    ends = {"cursor": ("next",), "page": ("next", "total_pages", "total_count", "has_more", "short", "empty")}
    end = draw(st.sampled_from(ends.get(style, ("next", "total_count", "has_more", "short", "empty"))))
    size_max = draw(st.integers(5, 200))
    out: Override = {
        "style": style,
        "param": names["page"],
        "size_param": names["size"],
        "size_max": size_max,
        "size_default": draw(st.integers(1, size_max)),
        "first_page": draw(st.integers(0, 2)),
        "next_field": None,
        "total_pages_field": None,
        "total_count_field": None,
        "has_more_field": None,
        "last_page": end if end in ("short", "empty") else "field",
    }
    if end not in ("short", "empty"):
        out[f"{end}_field"] = draw(_dotted(_PARENTS, _END_LEAVES))
    return out


@st.composite
def overrides(draw: st.DrawFn) -> Override:
    """A random valid contract override, every group set."""
    roles = ("from", "to", "page", "size", "statuses", "triggers", "order_by", "direction")
    drawn = draw(st.lists(st.sampled_from(_QUERY_NAMES), min_size=len(roles), max_size=len(roles), unique=True))
    names = dict(zip(roles, drawn, strict=True))
    pagination = draw(_pagination(names))
    bare_allowed = pagination["last_page"] != "field"
    wrapper = draw(st.one_of(st.none(), _dotted(_PARENTS, _WRAPPERS)) if bare_allowed else _dotted(_PARENTS, _WRAPPERS))
    ascending, descending = draw(st.sampled_from(_DIRECTIONS))
    errors_parent = draw(st.sampled_from(("", "error.", "problem.")))
    return {
        "paths": draw(_paths()),
        "window": {
            "from_param": names["from"],
            "to_param": names["to"],
            "time_format": draw(st.sampled_from(("iso-ms", "epoch-ms", "epoch-s"))),
            "to_inclusive": draw(st.booleans()),
        },
        "pagination": pagination,
        "filters": {
            "execution_statuses_param": names["statuses"],
            "trigger_types_param": names["triggers"],
            "multi_value": draw(st.sampled_from(("repeat", "comma"))),
            "order_by_param": draw(st.sampled_from((None, names["order_by"]))),
            "order_by": draw(st.sampled_from(("startTime", "started", "start_time"))),
            "order_direction_param": draw(st.sampled_from((None, names["direction"]))),
            "ascending": ascending,
            "descending": descending,
        },
        "listing": {"wrapper": wrapper},
        "records": {
            "invocation": draw(_renamed(("records", "invocation"))),
            "audit": draw(_renamed(("records", "audit"))),
            "time_format": draw(st.sampled_from(("iso-ms", "epoch-ms", "epoch-s"))),
        },
        "enums": {
            "statuses": draw(_spellings(contract.EXECUTION_STATUSES)),
            "trigger_types": draw(_spellings(contract.TRIGGER_TYPES)),
        },
        "logs": {
            "mode": draw(st.sampled_from(("url", "inline"))),
            "url_field": draw(_dotted(_URL_PARENTS, _URL_FIELDS)),
            "no_logs": draw(st.sampled_from(("null-url", "empty-body"))),
            "not_stored_status": draw(st.sampled_from((404, 409, 410, 422))),
        },
        "log_files": {
            "console_wrapper": draw(st.one_of(st.none(), _dotted(_LOG_PARENTS, _LOG_WRAPPERS))),
            "http_wrapper": draw(st.one_of(st.none(), _dotted(_LOG_PARENTS, _LOG_WRAPPERS))),
            "console": draw(_renamed(("log_files", "console"))),
            "large_message_field": draw(st.one_of(st.none(), _dotted(_LOG_PARENTS, _LARGE_FIELDS))),
        },
        "errors": {
            "message_field": errors_parent + draw(st.sampled_from(("message", "detail", "msg"))),
            "code_field": errors_parent + draw(st.sampled_from(("code", "errorCode", "kind"))),
        },
    }


def contracts() -> st.SearchStrategy[contract.Contract]:
    """Random valid contracts: ``overrides()`` laid over ``contract.DEFAULT`` (so each is checked by ``load``)."""
    return overrides().map(contract.load)
