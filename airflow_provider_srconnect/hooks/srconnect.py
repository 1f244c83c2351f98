"""Hooks for the ScriptRunner Connect (SRC) public REST API.

``SRConnectHook`` (requests) serves operators and sensors; ``SRConnectAsyncHook`` (httpx) serves
triggers. Both take every wire detail from the connection's contract (``hook.contract``: the packaged
default with the extra ``contract`` laid over it), build and read requests with ``_api``, retry with
the one policy of ``_retry`` and draw on the per-user budget of ``_ratelimit``: they differ only in how
bytes move.

Log files and large messages are read as bytes and verified before they are read (``_api.download_body``):
a damaged one is downloaded again with a fresh URL, and a body whose MD5 ``ETag`` it does not match is
accepted only once two downloads agree byte for byte. Inside the export's fetch threads every request
first checks the task's stop flag (``_retry.stop_on``), so a task whose log fetch failed for good sends
nothing more.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import hashlib
import itertools
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote, unquote, urlsplit

import requests
import urllib3
from airflow.providers.common.compat.sdk import BaseHook, mask_secret
from requests.adapters import HTTPAdapter
from tenacity import AsyncRetrying, Retrying

from airflow_provider_srconnect import _api, contract
from airflow_provider_srconnect._ratelimit import get_limiter
from airflow_provider_srconnect._retry import check_stop, retry_kwargs, stoppable
from airflow_provider_srconnect.connection import (
    EXTRA_FIELDS,
    UI_FIELD_BEHAVIOUR,
    ConnectionSettings,
    parse_settings,
    validate_id,
)
from airflow_provider_srconnect.exceptions import (
    SRConnectContractError,
    SRConnectDownloadError,
    SRConnectError,
    SRConnectParamError,
    SRConnectRateLimitError,
    SRConnectTransportError,
)

if TYPE_CHECKING:
    import httpx

    from airflow_provider_srconnect._ratelimit import Budget
    from airflow_provider_srconnect.contract import Contract

T = TypeVar("T")
Record = dict[str, Any]
#: Threads that may share one hook's connection pool (the export fetches logs concurrently).
POOL_SIZE = 16
#: How often the async hook looks at the budget again while it is spent.
BUDGET_POLL_SECONDS = 0.05
#: ``test_connection`` answers within 10 s whatever the host does: it waits at most this long for the
#: budget and for an answer, and retries (once) only when that leaves it under ``TEST_RETRY_WAIT`` s.
TEST_BUDGET_WAIT = 0.5
TEST_TIMEOUT_SECONDS = 3.0
TEST_RETRY_WAIT = 1.0
#: Inside a stoppable block, the budget is waited for in slices this long, the stop flag checked between.
BUDGET_SLICE_SECONDS = 0.25


class SRConnectHook(BaseHook):
    """Reads invocation and audit logs of an SRC team, page by page, inside the API's rate limit.

    :param srconnect_conn_id: an ``srconnect`` connection: Login = account e-mail, Password = API key
        (or extra ``authorization`` = the ready header), extras as in ``connection.EXTRA_FIELDS``.
    """

    conn_name_attr = "srconnect_conn_id"
    default_conn_name = "srconnect_default"
    conn_type = "srconnect"
    hook_name = "ScriptRunner Connect"

    def __init__(self, srconnect_conn_id: str = default_conn_name, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.srconnect_conn_id = srconnect_conn_id
        self._settings: ConnectionSettings | None = None

    # --- Connection ---------------------------------------------------------------------------

    @property
    def settings(self) -> ConnectionSettings:
        """The connection, checked (``SRConnectParamError`` names the first bad field)."""
        if self._settings is None:
            self._settings = self._parse(self.get_connection(self.srconnect_conn_id))
        return self._settings

    @staticmethod
    def _parse(conn: Any) -> ConnectionSettings:
        settings = parse_settings(
            host=conn.host,
            schema=conn.schema,
            port=conn.port,
            login=conn.login,
            password=conn.password,
            extra=conn.extra_dejson,
        )
        for secret in (
            conn.password,
            settings.authorization,
            settings.authorization.partition(" ")[2],
            *_url_passwords(settings.rate_limit_storage),
        ):
            if secret:
                mask_secret(secret)
        return settings

    @property
    def contract(self) -> Contract:
        """The wire contract of the connection: the packaged default with its extra ``contract`` laid over it."""
        return self.settings.contract

    def team(self, team_id: str | None = None) -> str:
        """The team to read: the argument, else the connection's ``team_id``."""
        if team_id is not None:
            return validate_id("team_id", team_id)
        if self.settings.team_id is None:
            raise SRConnectParamError(
                "team_id",
                "no team given and the connection has no 'team_id' extra",
                "Pass team_id=..., or set the extra team_id on the connection.",
            )
        return self.settings.team_id

    @functools.cached_property
    def _limiter(self) -> Budget:
        s = self.settings
        return get_limiter(s.rate_limit_storage, s.budget_key, s.rate_limit_per_second, s.burst)

    @functools.cached_property
    def _session(self) -> requests.Session:
        session = requests.Session()
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=POOL_SIZE)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        return session

    def _acquire_budget(self, wait: float) -> None:
        """Take one request from the budget, waiting at most ``wait`` s.

        Inside a stoppable block (the export's fetch threads) it waits in slices and checks the stop flag between.
        """
        key = self.settings.budget_key
        if not stoppable():
            if not self._limiter.try_acquire(key, timeout=wait):
                raise _budget_spent()
            return
        deadline = time.monotonic() + wait
        while True:
            check_stop("a request to SRC")
            left = max(0.0, deadline - time.monotonic())
            if self._limiter.try_acquire(key, timeout=min(left, BUDGET_SLICE_SECONDS)):
                return
            if left <= BUDGET_SLICE_SECONDS:
                raise _budget_spent()

    def _heard(self, status: int) -> None:
        """Note the status of an API reply: a 429 (sent inside the budget) lowers the budget's learned rate."""
        if status != contract.STATUS_THROTTLED:
            return
        change = self._limiter.throttled()
        if change is not None:
            self.log.warning(
                "SRC answered 429 inside the budget: the shared budget %s now allows %.1f requests/s (was %.1f); "
                "it grows back gradually",
                self.settings.budget_key,
                change[1],
                change[0],
            )

    # --- One request --------------------------------------------------------------------------

    def _headers(self, api: bool, budget_wait: float | None) -> dict[str, str]:
        """The headers of one GET; an API call first takes one request from the budget and carries the credential."""
        headers = {"Accept": "application/json"}
        if api:
            self._acquire_budget(self.settings.max_retry_wait if budget_wait is None else budget_wait)
            headers["Authorization"] = self.settings.authorization
        return headers

    def _get(
        self,
        url: str,
        params: _api.Params | None = None,
        *,
        api: bool = True,
        timeout: float | None = None,
        budget_wait: float | None = None,
    ) -> _api.Reply:
        """One GET. API calls carry the credential and spend budget; presigned downloads do neither.

        ``timeout`` and ``budget_wait`` default to the connection's ``timeout`` and ``max_retry_wait``.
        """
        headers = self._headers(api, budget_wait)
        check_stop(f"GET {url.split('?')[0]}")
        timeout = timeout or self.settings.timeout
        try:
            response = self._session.get(url, params=params, headers=headers, timeout=timeout)
            reply = _api.Reply(response.status_code, response.headers, response.text)
        except requests.RequestException as exc:
            raise _transport_error(url, exc, timeout, api) from exc
        if api:
            self._heard(reply.status)
        return reply

    def _get_file(self, url: str, *, api: bool) -> _api.Download:
        """One GET of a file (a log file or large message), its body as the bytes on the wire.

        The ``Content-Encoding`` is left for ``_api.download_body`` to undo, so that ``Content-Length``
        and the ``ETag`` can be checked against what actually arrived.
        """
        headers = {**self._headers(api, None), "Accept-Encoding": _api.ACCEPT_ENCODING}
        check_stop(f"GET {url.split('?')[0]}")
        timeout = self.settings.timeout
        try:
            with self._session.get(url, headers=headers, timeout=timeout, stream=True) as response:
                raw = response.raw.read(decode_content=False)
                download = _api.Download(response.status_code, response.headers, raw)
        except (requests.RequestException, urllib3.exceptions.HTTPError) as exc:
            raise _transport_error(url, exc, timeout, api) from exc
        if api:
            self._heard(download.status)
        return download

    def _retrying(self, fn: Callable[[], T]) -> T:
        policy = retry_kwargs(self.settings.max_retries, self.settings.max_retry_wait, self.log)
        return Retrying(**policy)(fn)

    def _get_json(self, path: str, params: _api.Params, what: str) -> Any:
        url = self.settings.base_url + path
        return self._retrying(lambda: _api.read_json(self._get(url, params), what, self.contract))

    def _download(self, path: str, what: str, read: Callable[[bytes], T], empty: T) -> T:
        """A verified log file or large message, ``read`` (``empty`` when SRC says there is none).

        One attempt asks the log endpoint (for a fresh URL, or for the file itself ``inline``), downloads
        and verifies it; a damaged download fails the attempt, which the retry policy repeats. Two cases
        are downloaded once more at once and settled by comparing downloads byte for byte (of any
        attempts): a body whose MD5 ``ETag`` it does not match is kept once two agree (an SSE-KMS
        object's ETag is no MD5 of it), and JSON off the contract's shape is a contract error once two agree.
        """
        wire = self.contract
        url = self.settings.base_url + path
        inline = wire.logs.mode == "inline"
        seen: set[bytes] = set()  # digests of downloaded bodies that were not accepted as they came

        def agreed(body: bytes) -> bool:
            digest = hashlib.sha256(body).digest()
            if digest in seen:
                return True
            seen.add(digest)
            return False

        def fetch() -> T:
            if inline:
                download = self._get_file(url, api=True)
            else:
                link = _api.download_url(self._get(url), what, wire)
                if link is None:
                    return empty
                download = self._get_file(link, api=False)
            body = _api.download_body(download, what, wire, presigned=not inline)
            if _api.etag_mismatch(download, body):
                if not agreed(body):
                    raise _Again(
                        f"{what}: the download's MD5 is not its ETag",
                        SRConnectDownloadError(
                            f"{what}: the download's MD5 is not its ETag, and no two downloads agree byte for byte"
                        ),
                    )
                self.log.info("%s: two downloads agree, though not with the ETag (no MD5, as with SSE-KMS)", what)
            if inline and not body:
                return empty
            try:
                return read(body)
            except _api.OffContract as exc:
                if agreed(body):
                    raise exc.confirmed() from None
                raise _Again(exc.problem, exc) from None

        def once() -> T:
            again = None
            for _ in range(2):
                try:
                    return fetch()
                except _Again as raised:
                    again = raised.error
                    self.log.warning("%s; downloading it again at once to compare", raised)
            assert again is not None
            raise again

        return self._retrying(once)

    # --- Listings -----------------------------------------------------------------------------

    def pages(
        self, walk: _api.PageWalk, log_type: str = "invocations", team_id: str | None = None
    ) -> Iterator[list[Record]]:
        """The pages of a listing (``invocation_walk`` or ``audit_walk``), each as its records in the window.

        :param log_type: ``invocations`` or ``audit``: which listing ``walk`` walks.
        """
        paths = self.contract.paths
        path = self._team_path(paths.audit_logs if log_type == "audit" else paths.invocation_logs, team_id)
        while (params := walk.next_params()) is not None:
            records = walk.accept(self._get_json(path, params, walk.what))
            self.log.info("%s: page %d, %d records so far", walk.what, walk.pages, walk.records)
            yield records

    def iter_invocation_logs(
        self,
        start: dt.datetime,
        end: dt.datetime,
        *,
        team_id: str | None = None,
        execution_statuses: str | Iterable[str] | None = None,
        trigger_types: str | Iterable[str] | None = None,
        order_by: str | None = None,
        order_direction: str | None = None,
        page_size: int | None = None,
    ) -> Iterator[Record]:
        """Yield the invocation logs of a team that started in ``[start, end)``, one page in memory.

        Records come as SRC sent them (the contract's field names and spellings).

        :param execution_statuses: only these statuses (the provider's names, ``contract.EXECUTION_STATUSES``).
        :param trigger_types: only these trigger types (``contract.TRIGGER_TYPES``).
        :param order_by: one of ``contract.ORDER_BY_VALUES``; None: the contract's stable ``startTime`` order.
        :param order_direction: ``asc`` (None) or ``desc``.
        :param page_size: records per page; None: the contract's default.
        """
        walk = self.invocation_walk(
            start,
            end,
            team_id=team_id,
            execution_statuses=execution_statuses,
            trigger_types=trigger_types,
            order_by=order_by,
            order_direction=order_direction,
            page_size=page_size,
        )
        return itertools.chain.from_iterable(self.pages(walk, "invocations", team_id))

    def iter_audit_logs(
        self,
        start: dt.datetime,
        end: dt.datetime,
        *,
        team_id: str | None = None,
        page_size: int | None = None,
    ) -> Iterator[Record]:
        """Yield the audit logs of a team dated in ``[start, end)``, one page in memory (None: default page size)."""
        walk = self.audit_walk(start, end, team_id=team_id, page_size=page_size)
        return itertools.chain.from_iterable(self.pages(walk, "audit", team_id))

    def audit_walk(
        self, start: dt.datetime, end: dt.datetime, *, team_id: str | None = None, page_size: int | None = None
    ) -> _api.PageWalk:
        """The page walk of an audit listing; checks every parameter before any request."""
        what = f"SRC audit logs of team {self.team(team_id)}"
        return _api.audit_walk(self.contract, what, start, end, page_size)

    def invocation_walk(
        self, start: dt.datetime, end: dt.datetime, *, team_id: str | None = None, **query: Any
    ) -> _api.PageWalk:
        """The page walk of an invocation listing (``query``: the filters of ``iter_invocation_logs``).

        Checks every parameter before any request.
        """
        what = f"SRC invocation logs of team {self.team(team_id)}"
        return _api.invocation_walk(self.contract, what, start, end, **query)

    def _team_path(self, template: str, team_id: str | None) -> str:
        return template.format(team_id=quote(self.team(team_id), safe=""))

    # --- Logs of one invocation ---------------------------------------------------------------

    def get_console_logs(self, invocation_id: str) -> list[Record]:
        """The console lines of an invocation (``SRConnectLogsNotStoredError`` while it runs).

        :param invocation_id: the id exactly as SRC returned it (URL-quoted here, never pattern-checked).
        """
        files = self.contract.log_files
        path, what = _log_path(self.contract.paths.console_logs, "console logs", invocation_id)
        return self._download(path, what, lambda body: _api.log_entries(body, files.console_wrapper, what), [])

    def get_http_logs(self, invocation_id: str) -> list[Record]:
        """The HTTP-call log entries of an invocation."""
        files = self.contract.log_files
        path, what = _log_path(self.contract.paths.http_logs, "HTTP logs", invocation_id)
        key = "log_files.http_wrapper"
        return self._download(path, what, lambda body: _api.log_entries(body, files.http_wrapper, what, key=key), [])

    def get_large_log_message(self, invocation_id: str, message_id: str) -> str:
        """The full text of a console line too large to store inline.

        :param message_id: the line's large-message id exactly as SRC sent it (any text: ``+``, ``/``,
            ``=``, spaces and non-ASCII are URL-quoted).
        """
        field = self.contract.log_files.large_message_field
        path, what = _log_path(
            self.contract.paths.large_log_message,
            "large log message",
            invocation_id,
            message_id=_api.path_segment("message_id", message_id),
        )
        return self._download(path, what, lambda body: _api.large_message(body, field, what), "")

    # --- Airflow integration ------------------------------------------------------------------

    def test_connection(self) -> tuple[bool, str]:
        """The quick check (the UI button, ``airflow connections test``): the credential, team and host.

        One listing request for a one-record page, with a short timeout and at most one retry, so it
        answers within 10 s even when the host hangs or throttles; the message says what to fix.
        """
        try:
            wire = self.contract
            url = self.settings.base_url + self._team_path(wire.paths.invocation_logs, None)
            what = "the connection test"

            def once() -> Any:
                reply = self._get(
                    url, _api.probe_query(wire), timeout=TEST_TIMEOUT_SECONDS, budget_wait=TEST_BUDGET_WAIT
                )
                return _api.read_json(reply, what, wire)

            body = Retrying(**retry_kwargs(1, TEST_RETRY_WAIT, self.log))(once)
            _api.listing_items(body, what, wire.listing)
        except SRConnectError as exc:
            return False, _test_advice(exc)
        return True, f"Connected to {self.settings.base_url} and read team {self.settings.team_id}."

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """The connection form on Airflow 2.11 (Airflow 3 reads provider info instead)."""
        return {key.replace("-", "_"): value for key, value in UI_FIELD_BEHAVIOUR.items()}

    @classmethod
    def get_connection_form_widgets(cls) -> dict[str, Any]:
        """Extra fields of the connection form on Airflow 2.11."""
        from flask_appbuilder.fieldwidgets import BS3PasswordFieldWidget, BS3TextAreaFieldWidget, BS3TextFieldWidget
        from wtforms import IntegerField, PasswordField, StringField
        from wtforms.validators import Optional

        # Airflow 2.11 takes only some field classes (not FloatField): numbers other than whole ones go as
        # text, which parse_settings turns into numbers and checks. JSON (the contract) is text in a text area.
        widgets: dict[str, Any] = {}
        for spec in EXTRA_FIELDS:
            if spec.sensitive:
                field, widget = PasswordField, BS3PasswordFieldWidget()
            elif spec.kind == "json":
                field, widget = StringField, BS3TextAreaFieldWidget()
            else:
                field, widget = (IntegerField if spec.kind == "int" else StringField), BS3TextFieldWidget()
            widgets[spec.name] = field(
                spec.label, widget=widget, validators=[Optional()], description=spec.description, default=spec.default
            )
        return widgets


class _Again(Exception):
    """A download to repeat at once and compare: ``error`` is raised if the repeat does not settle it."""

    def __init__(self, note: str, error: SRConnectError) -> None:
        super().__init__(note)
        self.error = error


def _transport_error(url: str, exc: BaseException, timeout: float, api: bool) -> SRConnectTransportError:
    """The typed error of a requests/urllib3 failure, naming host and port ("connection refused", "timed out")."""
    timed_out = isinstance(exc, (requests.Timeout, urllib3.exceptions.TimeoutError))
    return _api.transport_error(url, exc, timed_out=timed_out, timeout=timeout, api=api)


def _budget_spent() -> SRConnectRateLimitError:
    return SRConnectRateLimitError(
        "the client-side rate budget stayed spent for max_retry_wait; lower the parallelism sharing this "
        "connection, or raise rate_limit_per_second if your SRC plan allows more"
    )


def _url_passwords(url: str) -> tuple[str, ...]:
    """The password of a URL (``redis://:secret@host``), as written and decoded; none if it has none."""
    try:
        password = urlsplit(url).password
    except ValueError:
        return ()
    return (password, unquote(password)) if password else ()


def _test_advice(exc: SRConnectError) -> str:
    """The failed connection test's message: the error, and what to fix for it."""
    if isinstance(exc, SRConnectTransportError):
        return (
            f"{exc}. No answer within {TEST_TIMEOUT_SECONDS:.0f} s: check the Host (empty = the region's API), "
            "the port, and that this machine can reach it."
        )
    if isinstance(exc, SRConnectRateLimitError):
        return f"{exc}. The credential could not be checked now: test again in a minute."
    if isinstance(exc, SRConnectContractError):
        return (
            f"{exc}. The credential works, but the reply does not match the wire contract: run "
            "python -m airflow_provider_srconnect.doctor and set the connection extra 'contract' as it proposes."
        )
    return str(exc)


def _log_path(template: str, kind: str, invocation_id: str, **more: str) -> tuple[str, str]:
    path = template.format(invocation_id=_api.path_segment("invocation_id", invocation_id), **more)
    return path, f"SRC {kind} of invocation {invocation_id}"


class SRConnectAsyncHook(SRConnectHook):
    """The async face of ``SRConnectHook`` for triggers: same contract, policy and budget, over httpx."""

    async def asettings(self) -> ConnectionSettings:
        """The connection, read without blocking the event loop."""
        if self._settings is None:
            getter = getattr(BaseHook, "aget_connection", None)
            if getter is not None:
                conn = await getter(self.srconnect_conn_id)
            else:  # Airflow 2
                from asgiref.sync import sync_to_async

                conn = await sync_to_async(self.get_connection)(self.srconnect_conn_id)
            self._settings = self._parse(conn)
        return self._settings

    async def _aget(self, client: httpx.AsyncClient, url: str, params: _api.Params) -> _api.Reply:
        import httpx

        settings = await self.asettings()
        await self._await_budget(settings)
        headers = {"Accept": "application/json", "Authorization": settings.authorization}
        try:
            response = await client.get(url, params=list(params), headers=headers, timeout=settings.timeout)
        except httpx.HTTPError as exc:
            timed_out = isinstance(exc, httpx.TimeoutException)
            raise _api.transport_error(url, exc, timed_out=timed_out, timeout=settings.timeout) from exc
        self._heard(response.status_code)
        return _api.Reply(response.status_code, response.headers, response.text)

    async def _await_budget(self, settings: ConnectionSettings) -> None:
        """Take one request from the budget without blocking the event loop.

        Takes that do not wait, and ``asyncio.sleep`` between them (a blocking take would hold the loop).
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + settings.max_retry_wait
        while not self._limiter.try_acquire(settings.budget_key, timeout=0):
            if loop.time() >= deadline:
                raise _budget_spent()
            await asyncio.sleep(BUDGET_POLL_SECONDS)

    async def _aretrying(self, fn: Callable[[], Awaitable[T]]) -> T:
        settings = await self.asettings()
        policy = retry_kwargs(settings.max_retries, settings.max_retry_wait, self.log, blocking=False)
        return await AsyncRetrying(**policy)(fn)

    async def aiter_invocation_logs(
        self, start: dt.datetime, end: dt.datetime, **query: Any
    ) -> AsyncGenerator[Record, None]:
        """Async twin of ``iter_invocation_logs`` (same parameters)."""
        import httpx

        settings = await self.asettings()
        walk = self.invocation_walk(start, end, **query)
        url = settings.base_url + self._team_path(settings.contract.paths.invocation_logs, query.get("team_id"))
        async with httpx.AsyncClient() as client:
            while (params := walk.next_params()) is not None:
                page = functools.partial(self._aget_json, client, url, params, walk.what)
                for record in walk.accept(await self._aretrying(page)):
                    yield record

    async def _aget_json(self, client: httpx.AsyncClient, url: str, params: _api.Params, what: str) -> Any:
        return _api.read_json(await self._aget(client, url, params), what, (await self.asettings()).contract)
