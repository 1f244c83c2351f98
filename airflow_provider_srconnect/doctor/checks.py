"""The doctor's checks: a bounded handful of requests, each reply compared with the contract.

All I/O goes through one GET function, ``get(url, params, api) -> Reply``: ``api=True`` sends the
credential and spends the connection's budget, ``api=False`` (a presigned download) does neither.
Requests are built from the contract directly, following the agreed wire semantics, so the doctor
does not depend on the client it checks. Evidence is shape only (``shapes``).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import quote

from airflow_provider_srconnect import contract
from airflow_provider_srconnect.doctor import propose, shapes
from airflow_provider_srconnect.doctor.report import Report
from airflow_provider_srconnect.exceptions import SRConnectError, SRConnectTransportError

if TYPE_CHECKING:
    from airflow_provider_srconnect.contract import Contract

Params = list[tuple[str, str]]


class Reply(Protocol):
    """What the GET function returns (``_api.Reply``)."""

    @property
    def status(self) -> int: ...
    @property
    def headers(self) -> Mapping[str, str]: ...
    @property
    def text(self) -> str: ...


#: ``get(url, params, api)``: ``api=True`` sends the credential and spends budget; False does neither.
Get = Callable[[str, "Params | None", bool], Reply]
#: At most this many API requests (retries included); downloads come on top (at most three).
MAX_API_REQUESTS = 12
#: Records asked for per page: small, so that a day holds a second page.
PAGE_SIZE = 5
#: Records asked for by the filter check.
FILTER_PAGE_SIZE = 20
#: The longest wait for a 429's Retry-After (or after a 5xx) before the one retry.
MAX_RETRY_WAIT = 10.0
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_VOCABULARY = re.compile(r"^[A-Za-z][A-Za-z0-9_ -]{0,39}$")
_MS = dt.timedelta(milliseconds=1)


class CouldNotCheck(Exception):
    """The doctor could not check (exit 2); the message says what to fix."""


def default_window(now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """The last full UTC day that ended at least an hour before ``now`` (its invocations have finished)."""
    end = (now.astimezone(dt.UTC) - dt.timedelta(hours=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return end - dt.timedelta(days=1), end


def _ceil(moment: dt.datetime, unit: dt.timedelta) -> dt.datetime:
    floor = _EPOCH + (moment - _EPOCH) // unit * unit
    return floor if floor == moment else floor + unit


def window_params(c: Contract, start: dt.datetime, end: dt.datetime) -> tuple[Params, int, int]:
    """The window as the contract sends it, and the bounds the server should keep, in ms (from, to)."""
    w = c.window
    unit = contract.TIME_UNITS[w.time_format]
    lo = _EPOCH + (start - _EPOCH) // unit * unit
    hi = _ceil(end, unit)
    if w.to_inclusive and unit == _MS:
        hi -= _MS
    params = [(w.from_param, str(contract.format_time(lo, w.time_format)))]
    params.append((w.to_param, str(contract.format_time(hi, w.time_format))))
    return params, (lo - _EPOCH) // _MS, (hi - _EPOCH) // _MS


def _ok(reply: Reply | None) -> bool:
    return reply is not None and 200 <= reply.status < 300


class Doctor:
    """One run of the checks against one team, window and contract."""

    def __init__(
        self,
        get: Get,
        base_url: str,
        team_id: str,
        contract_: Contract,
        start: dt.datetime,
        end: dt.datetime,
        *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._get = get
        self._base_url = base_url.rstrip("/")
        self._team = quote(team_id, safe="")
        self.contract = contract_
        self.start = start
        self.end = end
        self._sleep = sleep
        self.report = Report()
        self.seen = propose.Observed()
        self._window, self._lo_ms, self._hi_ms = window_params(contract_, start, end)
        self._authenticated = False

    # --- I/O ----------------------------------------------------------------------------------------

    def _api(self, path: str, params: Params | None, what: str) -> Reply | None:
        """One API GET, retried once after a 429 or 5xx; None when the request budget is spent."""
        for attempt in range(2):
            if self.report.api_requests >= MAX_API_REQUESTS:
                return None
            self.report.api_requests += 1
            try:
                reply = self._get(self._base_url + path, params, True)
            except SRConnectTransportError as exc:
                raise CouldNotCheck(
                    f"could not reach SRC for {what} ({type(exc.__cause__ or exc).__name__}): check the connection's "
                    "Host / region and the network, then run the doctor again"
                ) from None
            except SRConnectError as exc:
                raise CouldNotCheck(f"could not send {what}: {exc}") from None
            if reply.status in (401, 403):
                raise CouldNotCheck(
                    f"SRC answered {reply.status} to {what}: the credential was refused. Check the connection's "
                    "Login (account e-mail) and Password (API key; keys can be revoked), or its 'authorization' "
                    "extra, and that extra team_id is a team of that user"
                )
            if reply.status == contract.STATUS_THROTTLED or reply.status >= 500:
                if attempt == 0:
                    wait = _retry_after(reply) if reply.status == contract.STATUS_THROTTLED else 1.0
                    self._sleep(min(wait, MAX_RETRY_WAIT))
                    continue
                raise CouldNotCheck(
                    f"SRC answered {reply.status} to {what} twice: try again later, or lower the connection's "
                    "rate_limit_per_second"
                )
            self._authenticated = self._authenticated or 200 <= reply.status < 300
            if 400 <= reply.status < 500:
                ok, body = shapes.parse_json(reply.text)
                if ok:
                    self.seen.error_bodies.append(body)
            return reply
        return None

    def _download(self, url: str, what: str) -> Reply | None:
        """GET a presigned URL without Authorization; a failure is a finding of ``logs``."""
        self.report.downloads += 1
        try:
            return self._get(url, None, False)
        except SRConnectError as exc:
            name = type(exc.__cause__ or exc).__name__
            self.report.add("logs", False, f"{what}: the download URL could not be fetched ({name})")
            return None

    def _path(self, name: str, *args: str) -> str:
        template: str = getattr(self.contract.paths, name)
        keys = ("team_id",) if name in ("invocation_logs", "audit_logs") else ("invocation_id", "message_id")
        return template.format(**dict(zip(keys, args, strict=False)))

    def _path_finding(self, name: str, reply: Reply | None) -> None:
        """A 404/405 says the path differs; on a log path the contract's "not stored" status says nothing."""
        if reply is None:
            return
        if name not in ("invocation_logs", "audit_logs") and reply.status == self.contract.logs.not_stored_status:
            return
        if reply.status in (404, 405):
            template = getattr(self.contract.paths, name)
            self.report.add("paths", False, f"{name} ({template}): {reply.status}, the path may differ")
        else:
            self.report.add("paths", True, f"{name}: {reply.status}")

    # --- Listings -----------------------------------------------------------------------------------

    def _position(self) -> Params:
        p = self.contract.pagination
        if p.style == "page":
            return [(p.param, str(p.first_page))]
        if p.style == "offset":
            return [(p.param, "0")]
        return []

    def _order(self) -> Params:
        f = self.contract.filters
        params: Params = []
        if f.order_by_param is not None:
            params.append((f.order_by_param, f.order_by))
        if f.order_direction_param is not None:
            params.append((f.order_direction_param, f.ascending))
        return params

    def _size(self, size: int) -> Params:
        return [(self.contract.pagination.size_param, str(size))]

    def _first_page(self, kind: str, size: int) -> tuple[Reply | None, Params]:
        """Page 1 of a listing; a refused query is retried with fewer parameters, to tell which are refused."""
        path_name = "invocation_logs" if kind == "invocations" else "audit_logs"
        path = self._path(path_name, self._team)
        what = f"the {kind} listing"
        full = self._window + self._size(size) + self._position() + (self._order() if kind == "invocations" else [])
        reply = self._api(path, full, what)
        self._path_finding(path_name, reply)
        if reply is None or _ok(reply) or reply.status in (404, 405):
            return reply, full
        shape = shapes.describe(reply.status, reply.headers, reply.text)
        tries: list[tuple[str, Params]] = []
        if kind == "invocations" and self._order():
            tries.append(("filters", self._window + self._size(size) + self._position()))
        tries.append(("pagination", list(self._window)))
        for group, params in tries:
            retry = self._api(path, params, what)
            if _ok(retry):
                assert retry is not None
                names = [k for k, _ in full if k not in {k for k, _ in params}]
                self.report.add(
                    group,
                    False,
                    f"{kind}: refused with {shape}; accepted without {', '.join(sorted(set(names)))}",
                )
                return retry, params
        self.report.add(
            "window",
            False,
            f"{kind}: even a query with only the window was refused: {shape} (check window.from_param, "
            "to_param, time_format)",
        )
        return reply, full

    def _records_of(self, kind: str, body: object) -> list[dict[str, Any]]:
        """The records of a listing reply, at the contract's wrapper (or where they seem to be)."""
        wrapper = self.contract.listing.wrapper
        items = body if wrapper is None else contract.lookup(body, wrapper)
        where = "a bare list" if wrapper is None else f"'{wrapper}'"
        if isinstance(items, list) and all(isinstance(r, dict) for r in items):
            self.report.add("listing", True, f"{kind}: {len(items)} records at {where}; reply {_outline(body)}")
            return list(items)
        found = propose.find_records(body)
        guess = ""
        if found is not None:
            guess = "; the records seem to be " + ("a bare list" if found[0] is None else f"at '{found[0]}'")
        self.report.add("listing", False, f"{kind}: no list of records at {where}{guess}; reply {_outline(body)}")
        return [r for r in (found[1] if found else []) if isinstance(r, dict)]

    def _listing(self, kind: str) -> None:
        size = min(PAGE_SIZE, self.contract.pagination.size_max)
        reply, params = self._first_page(kind, size)
        if not _ok(reply):
            if reply is not None:
                self.report.add("listing", None, f"{kind}: the listing answered {reply.status}")
            return
        assert reply is not None
        ok, body = shapes.parse_json(reply.text)
        if not ok:
            described = shapes.describe(reply.status, reply.headers, reply.text)
            self.report.add("listing", False, f"{kind}: the reply is not JSON: {described}")
            return
        records = self._records_of(kind, body)
        if kind == "invocations":
            self.seen.invocation_bodies.append(body)
            self.seen.invocation_records += records
            if self._size(size)[0] in params:
                records += self._second_page(body, records, params, size)
            self._records("invocations", records)
            self._filters(records)
        else:
            self.seen.audit_bodies.append(body)
            self.seen.audit_records += records
            self._records("audit", records)

    def _continuation(self, body: object, params: Params, n: int, size: int) -> tuple[Params | None, str]:
        """The query of page 2 as the contract says, or None and why the contract ends the walk."""
        p = self.contract.pagination
        rest = [(k, v) for k, v in params if k != p.param]
        if p.style == "cursor":
            token = contract.lookup(body, p.next_field or "")
            if token is None or token == "" or isinstance(token, (dict, list, bool)):
                return None, f"no token at '{p.next_field}'"
            return [*rest, (p.param, str(token))], f"the token at '{p.next_field}'"
        following = p.first_page + 1 if p.style == "page" else n
        if p.last_page == "short" and n < size:
            return None, "a short page ends the walk"
        if p.last_page == "empty" and n == 0:
            return None, "an empty page ends the walk"
        how = f"{p.param}={following}"
        if p.last_page == "field":
            if p.next_field is not None:
                value = contract.lookup(body, p.next_field)
                if isinstance(value, bool) or not (isinstance(value, int) or str(value).isdigit()):
                    return None, f"no next page at '{p.next_field}' ({shapes.kind(value)})"
                following, how = int(value), f"the next page at '{p.next_field}'"
            else:
                end_field = p.total_pages_field or p.total_count_field or p.has_more_field or ""
                value = contract.lookup(body, end_field)
                if end_field == p.has_more_field:
                    if value is not True:
                        return None, f"'{end_field}' is {shapes.kind(value)}, not true"
                elif isinstance(value, bool) or not isinstance(value, int):
                    return None, f"no number at '{end_field}' ({shapes.kind(value)})"
                elif end_field == p.total_pages_field and value <= 1:
                    return None, f"'{end_field}' says one page"
                elif end_field == p.total_count_field and (
                    following >= value if p.style == "offset" else math.ceil(value / size) <= 1
                ):
                    return None, f"'{end_field}' says nothing follows"
                how += f" ('{end_field}')"
        return [*rest, (p.param, str(following))], how

    def _second_page(
        self, body: object, records: list[dict[str, Any]], params: Params, size: int
    ) -> list[dict[str, Any]]:
        n = len(records)
        if n > size:
            self.report.add(
                "pagination",
                False,
                f"page 1 holds {n} records although {size} were asked for: "
                f"'{self.contract.pagination.size_param}' was ignored or is named differently",
            )
        following, how = self._continuation(body, params, n, size)
        if following is None:
            if n < size:
                self.report.add(
                    "pagination", None, f"the window holds only {n} records: give a wider --start/--end to check paging"
                )
            else:
                self.report.add("pagination", False, f"a full first page, but the contract ends the walk: {how}")
            return []
        path = self._path("invocation_logs", self._team)
        reply = self._api(path, following, "page 2 of the invocations listing")
        if reply is None:
            return []
        if not _ok(reply):
            described = shapes.describe(reply.status, reply.headers, reply.text)
            self.report.add("pagination", False, f"page 2 ({how}) was refused: {described}")
            return []
        ok, body2 = shapes.parse_json(reply.text)
        if not ok:
            self.report.add("pagination", False, f"page 2 ({how}) is not JSON")
            return []
        self.seen.invocation_bodies.append(body2)
        wrapper = self.contract.listing.wrapper
        items = body2 if wrapper is None else contract.lookup(body2, wrapper)
        if not isinstance(items, list):
            found = propose.find_records(body2)
            items = found[1] if found else []
        page2 = [r for r in items if isinstance(r, dict)]
        self.seen.invocation_records += page2
        key = self._fields("invocations", records + page2).get("id")
        first = {_identity(r, key) for r in records}
        repeated = sum(_identity(r, key) in first for r in page2)
        if repeated:
            self.report.add(
                "pagination",
                False,
                f"page 2 ({how}) repeats {repeated} of the {n} records of page 1: "
                f"'{self.contract.pagination.param}' was ignored or is named differently",
            )
        elif not page2:
            self.report.add("pagination", None, f"page 2 ({how}) is empty: nothing to compare")
        else:
            self.report.add("pagination", True, f"page 1: {n} records; page 2 ({how}): {len(page2)}, none repeated")
        return page2

    def _filters(self, records: list[dict[str, Any]]) -> None:
        fields = self._fields("invocations", records)
        status_key, trigger_key = fields.get("execution_status"), fields.get("trigger_type")
        if status_key is None or trigger_key is None or not records:
            self.report.add("filters", None, "no records with a status and a trigger type to filter by")
            return
        statuses = _pick(records, status_key)
        triggers = _pick(records, trigger_key)
        if not statuses or not triggers:
            self.report.add("filters", None, "no status or trigger spelling seen to filter by")
            return
        f = self.contract.filters
        size = min(FILTER_PAGE_SIZE, self.contract.pagination.size_max)
        params = self._window + self._size(size) + self._position() + self._order()
        for name, values in ((f.execution_statuses_param, statuses), (f.trigger_types_param, triggers)):
            params += [(name, v) for v in values] if f.multi_value == "repeat" else [(name, ",".join(values))]
        path = self._path("invocation_logs", self._team)
        reply = self._api(path, params, "a filtered invocations listing")
        asked = f"{len(statuses)} statuses and {len(triggers)} trigger types ({f.multi_value})"
        if reply is None:
            return
        if not _ok(reply):
            described = shapes.describe(reply.status, reply.headers, reply.text)
            self.report.add("filters", False, f"a listing filtered by {asked} was refused: {described}")
            return
        ok, body = shapes.parse_json(reply.text)
        found = propose.find_records(body) if ok else None
        wrapper = self.contract.listing.wrapper
        items = body if wrapper is None else contract.lookup(body, wrapper)
        if not isinstance(items, list):
            items = found[1] if found else []
        got = [r for r in items if isinstance(r, dict)]
        wrong = sum(r.get(status_key) not in statuses or r.get(trigger_key) not in triggers for r in got)
        if wrong:
            self.report.add(
                "filters", False, f"filtered by {asked}: {wrong} of {len(got)} records do not match (filter ignored)"
            )
        elif not got:
            self.report.add("filters", None, f"filtered by {asked}: no records to compare")
        else:
            self.report.add("filters", True, f"filtered by {asked}: {len(got)} records, all matching")

    # --- Records ------------------------------------------------------------------------------------

    def _fields(self, kind: str, records: Sequence[Mapping[str, Any]]) -> dict[str, str]:
        if kind == "invocations":
            return propose.invocation_fields(records, self.contract)
        return propose.audit_fields(records, self.contract)

    def _records(self, kind: str, records: list[dict[str, Any]]) -> None:
        if not records:
            self.report.add("records", None, f"{kind}: no records in the window: give another --start/--end")
            return
        group = self.contract.records.invocation if kind == "invocations" else self.contract.records.audit
        current = propose._current(group)
        keys = {k for r in records for k in r}
        absent = {name: wire for name, wire in current.items() if wire not in keys}
        extra = sorted(shapes.safe_key(k) for k in keys - set(current.values()))
        needed = {"id", "start_time", "execution_status", "console_logs", "http_logs", "date"}
        inferred = self._fields(kind, records)
        renamed = {name: inferred[name] for name in absent if name in inferred}
        text = f"{kind}: {len(records)} records {shapes.shape(records).removeprefix(f'list[{len(records)}] of ')}"
        if absent and (needed & set(absent) or extra):
            self.report.add("records", False, f"{kind}: absent from every record: {', '.join(absent.values())}")
            if extra:
                self.report.add("records", False, f"{kind}: keys the contract does not name: {', '.join(extra)}")
            if renamed:
                pairs = ", ".join(f"{name} -> '{shapes.safe_key(wire)}'" for name, wire in renamed.items())
                self.report.add("records", False, f"{kind}: seem renamed: {pairs}")
        elif absent:
            missing = ", ".join(absent.values())
            self.report.add("records", True, f"{kind}: absent from every record (optional?): {missing}")
        else:
            self.report.add("records", True, f"{kind}: every field the contract names is present")
        self.report.add("records", None if absent else True, text)
        time_key = inferred.get("start_time" if kind == "invocations" else "date")
        if time_key is None:
            self.report.add("records", False, f"{kind}: no record time found")
            return
        values = [r.get(time_key) for r in records]
        fmt = propose.time_format(values)
        expected = self.contract.records.time_format
        if fmt is None:
            kinds = sorted({shapes.kind(v) for v in values})
            self.report.add("records", False, f"{kind}: record times are {'|'.join(kinds)}, in no known format")
        elif fmt != expected:
            self.report.add("records", False, f"{kind}: record times are {fmt}; the contract says {expected}")
        else:
            self.report.add("records", True, f"{kind}: record times are {fmt}")
        self._window_finding(kind, values, fmt or expected)

    def _window_finding(self, kind: str, values: list[object], fmt: contract.TimeFormat) -> None:
        inclusive = self.contract.window.to_inclusive
        outside = 0
        for value in values:
            try:
                moment = contract.parse_time(value, fmt)
            except (ValueError, OverflowError, OSError):
                continue
            ms = (moment - _EPOCH) // _MS
            if ms < self._lo_ms or ms > self._hi_ms or (ms == self._hi_ms and not inclusive):
                outside += 1
        if outside:
            self.report.add(
                "window",
                False,
                f"{kind}: {outside} of {len(values)} records lie outside the window asked for: the server ignored "
                f"or misread '{self.contract.window.from_param}'/'{self.contract.window.to_param}' "
                f"({self.contract.window.time_format})",
            )
        else:
            self.report.add("window", True, f"{kind}: all {len(values)} records lie inside the window")

    def _enums(self) -> None:
        records = self.seen.invocation_records
        if not records:
            self.report.add("enums", None, "no invocation records seen")
            return
        fields = self._fields("invocations", records)
        enums = self.contract.enums
        for label, names, known in (
            ("statuses", ("execution_status",), set(enums.statuses.values())),
            ("trigger types", ("trigger_type", "root_trigger_type"), set(enums.trigger_types.values())),
        ):
            keys = [fields[n] for n in names if n in fields]
            if not keys:
                self.report.add("enums", None, f"{label}: no field holding them found")
                continue
            seen = {r.get(k) for r in records for k in keys} - {None}
            unknown = seen - known
            if unknown:
                shown = sorted(str(v) for v in unknown if isinstance(v, str) and _VOCABULARY.match(v))
                hidden = len(unknown) - len(shown)
                more = f" and {hidden} other values" if hidden else ""
                self.report.add("enums", False, f"{label} outside the contract: {', '.join(shown)}{more}")
            else:
                self.report.add("enums", True, f"{label}: {len(seen)} spellings seen, all in the contract")

    # --- Logs ---------------------------------------------------------------------------------------

    def _logs(self) -> None:
        records = self.seen.invocation_records
        fields = self._fields("invocations", records) if records else {}
        running = self.contract.enums.statuses[contract.STATUS_RUNNING]
        for name, count_field in (("console_logs", "console_logs"), ("http_logs", "http_logs")):
            id_key, count_key = fields.get("id"), fields.get(count_field)
            chosen = next(
                (
                    r
                    for r in records
                    if id_key is not None
                    and count_key is not None
                    and isinstance(r.get(count_key), int)
                    and r[count_key] > 0
                    and r.get(fields.get("execution_status", "")) != running
                ),
                None,
            )
            if chosen is None or id_key is None:
                self.report.add("logs", None, f"{name}: no finished invocation with such logs seen")
                continue
            invocation = quote(str(chosen[id_key]), safe="")
            ok, file = self._log(name, self._path(name, invocation), f"the {name.replace('_', ' ')} of an invocation")
            if ok:
                self._log_file(name, file)
                if name == "console_logs":
                    self._large_message(invocation, file)

    def _log(self, name: str, path: str, what: str) -> tuple[bool, Any]:
        """Ask a log endpoint for a log; returns (read, the log file as JSON or text)."""
        reply = self._api(path, None, what)
        self._path_finding(name, reply)
        if reply is None:
            return False, None
        logs = self.contract.logs
        if reply.status == logs.not_stored_status:
            self.report.add(
                "logs",
                False,
                f"{name}: {reply.status} (the contract's 'not stored') for a finished invocation with logs",
            )
            return False, None
        if not _ok(reply):
            if reply.status not in (404, 405):  # those are findings of paths
                described = shapes.describe(reply.status, reply.headers, reply.text)
                self.report.add("logs", False, f"{name}: {described}")
            return False, None
        ok, body = shapes.parse_json(reply.text)
        if name == "console_logs":
            self.seen.console_reply = (ok, body if ok else reply.text)
        described = shapes.describe(reply.status, reply.headers, reply.text, items=False)
        mode, url_field = propose.delivery((ok, body))
        if logs.mode == "inline":
            if mode == "url":
                self.report.add(
                    "logs", False, f"{name}: a download URL at '{url_field}', not the log; reply {described}"
                )
                return False, None
            self.report.add("logs", True, f"{name}: inline; reply {described}")
            return True, body if ok else reply.text
        url = contract.lookup(body, logs.url_field) if ok else None
        if not _is_url(url):
            seems = {"url": f"; a URL seems to be at '{url_field}'", "inline": "; the reply seems to be the log itself"}
            note = seems.get(mode or "", "")
            self.report.add("logs", False, f"{name}: no download URL at '{logs.url_field}'{note}; reply {described}")
            if mode == "inline":
                return True, body
            if mode != "url" or url_field is None:
                return False, None
            url = contract.lookup(body, url_field)
        download = self._download(str(url), name)
        if download is None:
            return False, None
        if not _ok(download):
            self.report.add(
                "logs",
                False,
                f"{name}: the download URL answered {download.status} to a GET without Authorization",
            )
            return False, None
        self.report.add("logs", True, f"{name}: a download URL; GET without Authorization: {download.status}")
        ok, file = shapes.parse_json(download.text)
        return True, file if ok else download.text

    def _log_file(self, name: str, file: object) -> None:
        files = self.contract.log_files
        wrapper = files.console_wrapper if name == "console_logs" else files.http_wrapper
        if name == "console_logs":
            self.seen.console_file = file
        else:
            self.seen.http_file = file
        label = name.replace("_logs", " file")
        where = "a bare list" if wrapper is None else f"'{wrapper}'"
        items = file if wrapper is None else contract.lookup(file, wrapper)
        if not isinstance(items, list):
            found = propose.find_records(file)
            guess = ""
            if found is not None:
                guess = "; the lines seem to be " + ("a bare list" if found[0] is None else f"at '{found[0]}'")
            self.report.add("log_files", False, f"{label}: no list at {where}{guess}; file {_outline(file)}")
            items = found[1] if found else []
        else:
            self.report.add("log_files", True, f"{label}: {len(items)} entries at {where}")
        lines = [line for line in items if isinstance(line, dict)]
        if name != "console_logs" or not lines:
            return
        current = propose._current(files.console)
        keys = {k for line in lines for k in line}
        absent = [wire for field_name, wire in current.items() if wire not in keys and field_name != "large_message_id"]
        shape = shapes.shape(lines).removeprefix(f"list[{len(lines)}] of ")
        if absent:
            inferred = propose.console_fields(lines, self.contract)
            renamed = [
                f"{n} -> '{shapes.safe_key(inferred[n])}'" for n, w in current.items() if w in absent and n in inferred
            ]
            seems = f"; seem renamed: {', '.join(renamed)}" if renamed else ""
            self.report.add("log_files", False, f"console lines lack: {', '.join(absent)}{seems}; lines {shape}")
        else:
            self.report.add("log_files", True, f"console lines {shape}")

    def _large_message(self, invocation: str, file: object) -> None:
        files = self.contract.log_files
        found = propose.find_records(file)
        lines = [line for line in (found[1] if found else []) if isinstance(line, dict)]
        key = propose.console_fields(lines, self.contract).get("large_message_id") if lines else None
        message_id = next((line.get(key) for line in lines if key and isinstance(line.get(key), str)), None)
        if key is None or message_id is None:
            self.report.add("log_files", None, "large message: no oversized console line in the file read")
            return
        path = self._path("large_log_message", invocation, quote(message_id, safe=""))
        ok, body = self._log("large_log_message", path, "a large log message")
        if not ok:
            return
        is_json = not isinstance(body, str)
        self.seen.large_message = (is_json, body)
        if files.large_message_field is None:
            self.report.add("log_files", not is_json, f"large message: {'JSON' if is_json else 'raw text'}")
        else:
            text = contract.lookup(body, files.large_message_field)
            held = isinstance(text, str)
            where = f"'{files.large_message_field}'"
            self.report.add("log_files", held, f"large message: {'text' if held else 'no text'} at {where}")

    # --- Errors -------------------------------------------------------------------------------------

    def _errors(self) -> None:
        if not self.seen.error_bodies:
            p = self.contract.pagination
            params = self._window + self._size(p.size_max + 1) + self._position()
            path = self._path("invocation_logs", self._team)
            reply = self._api(path, params, "a listing with a page size above the maximum")
            if reply is None:
                return
            if _ok(reply):
                self.report.add(
                    "errors",
                    None,
                    f"a page size of {p.size_max + 1} was accepted ({reply.status}): no error body to read "
                    f"(pagination.size_max may be higher than {p.size_max})",
                )
                return
            if not self.seen.error_bodies:
                described = shapes.describe(reply.status, reply.headers, reply.text)
                self.report.add("errors", False, f"an error reply without a JSON body: {described}")
                return
        body = self.seen.error_bodies[0]
        e = self.contract.errors
        has_message = isinstance(contract.lookup(body, e.message_field), str)
        has_code = contract.lookup(body, e.code_field) is not None
        missing = [k for k, has in ((e.message_field, has_message), (e.code_field, has_code)) if not has]
        text = f"error body {shapes.shape(body)}"
        if missing:
            self.report.add("errors", False, f"{text}; no {' or '.join(repr(m) for m in missing)}")
        else:
            self.report.add("errors", True, text)

    # --- The run ------------------------------------------------------------------------------------

    def run(self) -> Report:
        """Every check, in order; raises ``CouldNotCheck`` on 401/403 or when SRC is unreachable."""
        self._listing("invocations")
        self._listing("audit")
        self._enums()
        self._logs()
        self._errors()
        if self._authenticated:
            self.report.add("auth", True, "the credential was accepted (a 2xx reply)")
        else:
            self.report.add("auth", None, "no 2xx reply; a 404 or 400 does not prove the credential")
        return self.report


def _is_url(value: object) -> bool:
    return isinstance(value, str) and value.startswith(("http://", "https://"))


def _retry_after(reply: Reply) -> float:
    try:
        return max(0.0, float(reply.headers.get(contract.RETRY_AFTER_HEADER) or 1.0))
    except ValueError:
        return 1.0


def _outline(body: object) -> str:
    """The shape of a reply with what its lists hold left out."""
    return shapes.shape(body, items=False)


def _identity(record: Mapping[str, Any], key: str | None) -> str:
    if key is not None and record.get(key) is not None:
        return str(record[key])
    return json.dumps(record, sort_keys=True, default=str)


def _pick(records: Sequence[Mapping[str, Any]], key: str) -> list[str]:
    """Up to two spellings to filter by: the first record's, and another one seen."""
    values: list[str] = []
    for record in records:
        value = record.get(key)
        if isinstance(value, str) and value and value not in values:
            values.append(value)
        if len(values) == 2:
            break
    return values
