"""The client under the default contract and the two fixture contracts: a fake SRC that speaks any contract.

``FakeListing`` serves a listing as a contract describes it (wrapper, pagination style and end signal)
from a list of page lengths, so a test chooses short and empty pages anywhere in the stream. The other
helpers shape records, log replies and error bodies the way a contract says.
"""

from __future__ import annotations

import datetime as dt
import json
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_srconnect import contract
from airflow_provider_srconnect.contract import Contract
from airflow_provider_srconnect.hooks.srconnect import SRConnectHook
from tests.hooks.conftest import API_KEY, EMAIL

FIXTURES = Path(__file__).resolve().parent.parent / "contracts"
#: The override of each contract under test: the default and the two fixtures.
OVERRIDES: dict[str, dict[str, Any]] = {
    "default": {},
    **{path.stem: json.loads(path.read_text()) for path in sorted(FIXTURES.glob("*.json"))},
}
HOST = "https://src.test"
TEAM = "team-1"
START = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
END = dt.datetime(2026, 11, 2, tzinfo=dt.UTC)


@pytest.fixture(params=sorted(OVERRIDES), ids=str)
def named(request: pytest.FixtureRequest) -> tuple[str, dict[str, Any], Contract]:
    """Each contract under test: its name, its override JSON and the contract itself."""
    override = OVERRIDES[request.param]
    return request.param, override, contract.load(override)


@pytest.fixture
def wire(named: tuple[str, dict[str, Any], Contract]) -> Contract:
    return named[2]


@pytest.fixture
def make_hook(monkeypatch: pytest.MonkeyPatch) -> Callable[..., SRConnectHook]:
    """An SRConnectHook on a connection given as an AIRFLOW_CONN_* variable, with extras (``contract`` too)."""

    def make(conn_id: str = "srconnect_client", host: str = HOST, **extra: Any) -> SRConnectHook:
        extra = {"team_id": TEAM, "max_retries": 3, "max_retry_wait": 60, "rate_limit_per_second": 1000, **extra}
        conn = {"conn_type": "srconnect", "host": host, "login": EMAIL, "password": API_KEY, "extra": extra}
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))
        return SRConnectHook(srconnect_conn_id=conn_id)

    return make


@pytest.fixture
def hook(make_hook: Callable[..., SRConnectHook], named: tuple[str, dict[str, Any], Contract]) -> SRConnectHook:
    """A hook whose connection carries the contract under test as its extra ``contract``."""
    return make_hook(contract=named[1])


@pytest.fixture
def sleeps(mocker: Any) -> list[float]:
    """Retry waits, recorded instead of slept."""
    waited: list[float] = []
    mocker.patch("tenacity.nap.time.sleep", side_effect=waited.append)
    return waited


# --- Shaping replies as a contract does ------------------------------------------------------------


def url(wire: Contract, path: str, **values: str) -> str:
    """The full URL of one of the contract's paths, its placeholders filled in (quoted)."""
    template = getattr(wire.paths, path)
    return HOST + template.format(**{k: urllib.parse.quote(v, safe="") for k, v in values.items()})


def wire_time(wire: Contract, moment: dt.datetime) -> Any:
    """A record time as the contract's ``records.time_format`` writes it."""
    ms = int((moment - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)) / dt.timedelta(milliseconds=1))
    if wire.records.time_format == "iso-ms":
        return contract.format_time(moment, "iso-ms")
    if wire.records.time_format == "epoch-ms":
        return ms
    return ms // 1000 if ms % 1000 == 0 else ms / 1000


def invocation(wire: Contract, n: int, moment: dt.datetime | None = None, **fields: Any) -> dict[str, Any]:
    """An invocation record under the contract; ``fields`` are keyed by the contract's field attribute names."""
    names = wire.records.invocation
    record = {names.id: f"inv-{n}", names.start_time: wire_time(wire, moment or START + dt.timedelta(minutes=n))}
    record.update({getattr(names, key): value for key, value in fields.items()})
    return record


def listing_body(wire: Contract, items: list[Any], **end: Any) -> Any:
    """A listing reply: ``items`` at the contract's wrapper (or bare), and pagination fields at their dotted keys."""
    if wire.listing.wrapper is None:
        return items
    body: dict[str, Any] = {}
    contract.put(body, wire.listing.wrapper, items)
    for dotted, value in end.items():
        contract.put(body, dotted, value)
    return body


def error_body(wire: Contract, message: str, code: str = "E") -> dict[str, Any]:
    body: dict[str, Any] = {}
    contract.put(body, wire.errors.message_field, message)
    contract.put(body, wire.errors.code_field, code)
    return body


def log_file(wrapper: str | None, entries: list[dict[str, Any]]) -> Any:
    """A console or HTTP log file: the entries at ``wrapper``, or the bare list."""
    if wrapper is None:
        return entries
    body: dict[str, Any] = {}
    contract.put(body, wrapper, entries)
    return body


def url_reply(wire: Contract, link: str | None) -> dict[str, Any]:
    body: dict[str, Any] = {}
    contract.put(body, wire.logs.url_field, link)
    return body


class FakeListing:
    """A listing server for ``requests_mock``: serves ``records`` in pages of the given ``lengths``.

    Page ``i`` holds the records from ``sum(lengths[:i])`` on; requests name it as the contract's style
    says (a token, a page number or an offset), and replies carry the contract's end signal. The test
    picks ``lengths`` the contract can honour (e.g. only the last page short under ``last_page: short``).
    """

    def __init__(self, wire: Contract, records: list[dict[str, Any]], lengths: list[int]) -> None:
        assert sum(lengths) == len(records)
        self.wire = wire
        self.records = records
        self.lengths = lengths
        self.starts = [sum(lengths[:i]) for i in range(len(lengths))]
        self.queries: list[dict[str, list[str]]] = []

    def _index(self, query: dict[str, list[str]]) -> int:
        p = self.wire.pagination
        given = query.get(p.param, [None])[0]
        if p.style == "cursor":
            return 0 if given is None else int(given.removeprefix("t/"))
        assert given is not None, f"the first request names the first page ({p.param})"
        if p.style == "page":
            return int(given) - p.first_page
        return self.starts.index(int(given))

    def _follower(self, index: int) -> Any:
        p = self.wire.pagination
        if index + 1 >= len(self.lengths):
            return None
        return {"cursor": f"t/{index + 1}", "page": p.first_page + index + 1, "offset": self.starts[index + 1]}[p.style]

    def __call__(self, request: Any, context: Any) -> Any:
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(request.url).query, keep_blank_values=True)
        self.queries.append(query)
        index = self._index(query)
        start = self.starts[index]
        items = self.records[start : start + self.lengths[index]]
        p = self.wire.pagination
        end: dict[str, Any] = {}
        if p.next_field is not None:
            end[p.next_field] = self._follower(index)
        if p.total_pages_field is not None:
            end[p.total_pages_field] = len(self.lengths)
        if p.total_count_field is not None:
            end[p.total_count_field] = len(self.records)
        if p.has_more_field is not None:
            end[p.has_more_field] = index + 1 < len(self.lengths)
        return listing_body(self.wire, items, **end)


def records_of(wire: Contract, count: int) -> list[dict[str, Any]]:
    return [invocation(wire, n, START + dt.timedelta(seconds=n)) for n in range(count)]


def ids(wire: Contract, records: Iterator[dict[str, Any]] | list[dict[str, Any]]) -> list[str]:
    return [r[wire.records.invocation.id] for r in records]
