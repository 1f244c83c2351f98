"""The sandbox's request handling, free of sockets: (method, target, Authorization) -> ``Reply``.

API requests go through: latency, fault throttling (429), Basic auth (401), the per-user token
bucket (429), an injected 5xx (500/503 with a JSON error body, 502/504 with an HTML one, like a
gateway), the slow fault, then routing (405/404/403/400/200) and body faults on a 200.
Downloads (``DOWNLOAD_PREFIX``) need no auth and are not rate-limited: they are presigned URLs.
Every log file and large message (downloaded, or ``inline`` from its log endpoint) carries its MD5 as
``ETag``, as S3 sends it, and meets the download faults (``Faults.download_fault``) when no other fault fired.

Everything on the wire follows the config's contract: the routes (``paths``, the path segments
percent-decoded and matched exactly), the listings (``sandbox.listing``), the records and log files
(``sandbox.wire``), log delivery by URL or inline, "no logs" and "not stored", and the error bodies
(the download URLs' S3-style errors stay XML, as S3's do).
"""

from __future__ import annotations

import base64
import binascii
import functools
import gzip
import hashlib
import hmac
import logging
import re
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote, urlsplit

from airflow_provider_srconnect import contract
from airflow_provider_srconnect.sandbox import logfiles
from airflow_provider_srconnect.sandbox.listing import BadRequest, parse_listing, run_listing, shortened
from airflow_provider_srconnect.sandbox.ratelimit import RateLimiter
from airflow_provider_srconnect.sandbox.tokens import Signer
from airflow_provider_srconnect.sandbox.window import Dataset
from airflow_provider_srconnect.sandbox.wire import JSON, Wire, dumps

if TYPE_CHECKING:
    from airflow_provider_srconnect.sandbox.config import SandboxConfig, User
    from airflow_provider_srconnect.sandbox.data import RawInvocation
    from airflow_provider_srconnect.sandbox.faults import BodyFault, DownloadFault, Faults
    from airflow_provider_srconnect.sandbox.stats import Stats

DOWNLOAD_PREFIX = "/_download/"
#: The page of the ``html`` download fault: what a proxy or captive portal answers instead of the file.
HTML_PAGE = (
    b"<!DOCTYPE html>\n<html><head><title>Sign in</title></head>"
    b"<body><h1>Sign in to continue</h1><p>Your session has expired.</p></body></html>\n"
)
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Reply:
    """A response; ``reset_after`` = send that many body bytes, then close the socket."""

    status: int
    body: bytes
    content_type: str = JSON
    headers: tuple[tuple[str, str], ...] = ()
    reset_after: int | None = None


class Refusal(Exception):
    """An API error raised from deep inside routing; the app renders it in the contract's error body."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


@dataclass(frozen=True)
class _Answer:
    """A successful API answer: a JSON value to serialise, or a finished ``reply`` (text, empty body)."""

    payload: Any = None
    reply: Reply | None = None
    listing: bool = False
    #: The reply is a log file or large message (which meets the download faults).
    file: bool = False


def json_reply(status: int, payload: Any, headers: tuple[tuple[str, str], ...] = ()) -> Reply:
    """A JSON response."""
    return Reply(status, dumps(payload), JSON, headers)


def _s3_error(status: int, code: str, message: str) -> Reply:
    text = f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code><Message>{message}</Message></Error>'
    return Reply(status, text.encode(), "application/xml")


def _apply(reply: Reply, fault: BodyFault | None) -> Reply:
    if fault == "reset":
        return Reply(reply.status, reply.body, reply.content_type, reply.headers, len(reply.body) // 2)
    if fault == "truncate":
        return Reply(reply.status, reply.body[: len(reply.body) // 2], reply.content_type, reply.headers)
    if fault == "malformed":
        return Reply(reply.status, b"<" + reply.body[1:], reply.content_type, reply.headers)
    return reply


def _md5(body: bytes) -> str:
    return hashlib.md5(body, usedforsecurity=False).hexdigest()


def _etag(headers: tuple[tuple[str, str], ...], md5: str) -> tuple[tuple[str, str], ...]:
    """``headers`` with the ETag ``"md5"`` instead of any other."""
    return (*((k, v) for k, v in headers if k != "ETag"), ("ETag", f'"{md5}"'))


def _download_fault(reply: Reply, fault: DownloadFault, faults: Faults) -> Reply:
    """A file reply as the download fault ``fault`` sends it."""
    if fault == "html":
        return Reply(200, HTML_PAGE, "text/html; charset=utf-8")
    if fault == "truncate":
        return Reply(reply.status, reply.body[: faults.cut_at(len(reply.body))], reply.content_type, reply.headers)
    if fault == "wrong_etag":
        return Reply(reply.status, reply.body, reply.content_type, _etag(reply.headers, faults.other_md5()))
    if fault == "kms_etag":  # the same on every download of the file, and not its MD5
        return Reply(reply.status, reply.body, reply.content_type, _etag(reply.headers, _md5(b"sse-kms:" + reply.body)))
    packed = gzip.compress(reply.body, mtime=0)
    headers = (*_etag(reply.headers, _md5(packed)), ("Content-Encoding", "gzip"))
    return Reply(reply.status, packed, reply.content_type, headers)


@functools.lru_cache(maxsize=32)
def _pattern(template: str) -> re.Pattern[str]:
    """A path template such as ``/v1/team/{team_id}/x`` as a regex with one group per parameter."""
    parts = re.split(r"\{\w+\}", template)
    return re.compile("([^/]+)".join(re.escape(p) for p in parts))


def _routes(paths: contract.Paths) -> tuple[tuple[str, str], ...]:
    return (
        ("invocations", paths.invocation_logs),
        ("audit", paths.audit_logs),
        ("console", paths.console_logs),
        ("http", paths.http_logs),
        ("large", paths.large_log_message),
    )


class SandboxApp:
    """Everything the sandbox answers, for one config (and its contract), fault set and stats."""

    def __init__(self, config: SandboxConfig, faults: Faults, stats: Stats, base_url: str) -> None:
        self.config = config
        self.faults = faults
        self.stats = stats
        self.base_url = base_url
        self.contract = config.contract
        self.wire = Wire(config.contract)
        self.short = shortened(config.contract, config.short_pages)
        self.dataset = Dataset(config)
        self.limiter = RateLimiter(config.rate_limit_per_second, config.burst)
        self._cursors = Signer(config.seed, "cursor")
        self._downloads = Signer(config.seed, "download")
        self._users = {u.email: u for u in config.users}

    def handle(self, method: str, target: str, authorization: str | None) -> Reply:
        """Answer one request; never raises."""
        path = urlsplit(target).path
        try:
            if path.startswith(DOWNLOAD_PREFIX):
                self.stats.record_download()
                return self._download(method, path[len(DOWNLOAD_PREFIX) :])
            reply = self._api(method, target, authorization)
        except Exception:  # a bug in the sandbox must still produce a response
            log.exception("sandbox failed on %s %s", method, path)
            reply = self.error_reply(500, "INTERNAL_ERROR", "sandbox error")
        if not path.startswith(DOWNLOAD_PREFIX):
            self.stats.record_status(reply.status)
        return reply

    def error_reply(self, status: int, code: str, message: str, headers: tuple[tuple[str, str], ...] = ()) -> Reply:
        """An API error: the code and message at the contract's ``errors`` keys."""
        return json_reply(status, self.wire.error(code, message), headers)

    def _throttled(self, retry_after: int) -> Reply:
        return self.error_reply(
            contract.STATUS_THROTTLED,
            "TOO_MANY_REQUESTS",
            "rate limit exceeded; retry later",
            ((contract.RETRY_AFTER_HEADER, str(retry_after)),),
        )

    def _server_error(self, status: int) -> Reply:
        if status in (502, 504):  # a gateway's page, not the API's error body
            text = f"<html><body><h1>{status} Gateway Error</h1></body></html>"
            return Reply(status, text.encode(), "text/html")
        code = "SERVICE_UNAVAILABLE" if status == 503 else "INTERNAL_ERROR"
        return self.error_reply(status, code, "injected server error")

    def _authenticate(self, header: str | None) -> tuple[User | None, str]:
        if not header:
            return None, "missing Authorization header"
        scheme, _, value = header.strip().partition(" ")
        if scheme.lower() != contract.AUTH_SCHEME.lower():
            return None, f"Authorization must use the {contract.AUTH_SCHEME} scheme"
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None, "malformed Basic credentials"
        email, sep, key = decoded.partition(":")
        user = self._users.get(email)
        if not sep or user is None or not hmac.compare_digest(key.encode(), user.api_key.encode()):
            return None, "invalid e-mail or API key"
        if not self.faults.use_key(email):
            self.stats.record_fault("revoked")
            return None, "API key has been revoked"
        return user, ""

    def _api(self, method: str, target: str, authorization: str | None) -> Reply:
        if self.config.latency_ms > 0:
            time.sleep(self.config.latency_ms / 1000)
        user, problem = self._authenticate(authorization)
        self.stats.record_request(None if user is None else user.email)
        retry_after = self.faults.throttle_retry_after()
        if retry_after is not None:
            self.stats.record_fault("storm")
            return self._throttled(retry_after)
        if user is None:
            return self.error_reply(401, "UNAUTHORIZED", problem)
        retry_after = self.limiter.acquire(user.email)
        if retry_after is not None:
            return self._throttled(retry_after)
        status = self._error_status()
        if status is not None:
            return self._server_error(status)
        self._maybe_sleep()
        if method != "GET":
            return self.error_reply(405, "METHOD_NOT_ALLOWED", "only GET is supported", (("Allow", "GET"),))
        try:
            answer = self._route(user, target)
        except Refusal as refusal:
            return self.error_reply(refusal.status, refusal.code, str(refusal))
        if answer.file and answer.reply is not None:
            return self._served_file(answer.reply, download=False)
        if answer.reply is not None:
            json_body = answer.reply.content_type == JSON and bool(answer.reply.body)
            return _apply(answer.reply, self._body_fault(json_body=json_body, listing=False))
        fault = self._body_fault(json_body=True, listing=answer.listing)
        payload = self.wire.without_items(answer.payload) if fault == "missing" else answer.payload
        return _apply(json_reply(200, payload), fault)

    def _error_status(self, *, download: bool = False) -> int | None:
        status = self.faults.error_status()
        if status is not None:
            self.stats.record_fault("error", download=download)
        return status

    def _maybe_sleep(self, *, download: bool = False) -> None:
        if self.faults.maybe_sleep():
            self.stats.record_fault("slow", download=download)

    def _body_fault(self, *, json_body: bool, listing: bool, download: bool = False) -> BodyFault | None:
        fault = self.faults.body_fault(json_body=json_body, listing=listing)
        if fault is not None:
            self.stats.record_fault(fault, download=download)
        return fault

    def _served_file(self, reply: Reply, *, download: bool) -> Reply:
        """A log file or large message as sent: a body fault, else a download fault, may hit it."""
        json_body = reply.content_type == JSON and bool(reply.body)
        body_fault = self._body_fault(json_body=json_body, listing=False, download=download)
        if body_fault is not None:
            return _apply(reply, body_fault)
        fault = self.faults.download_fault()
        if fault is None:
            return reply
        self.stats.record_fault(f"file:{fault}")
        return _download_fault(reply, fault, self.faults)

    def _route(self, user: User, target: str) -> _Answer:
        split = urlsplit(target)
        for kind, template in _routes(self.contract.paths):
            match = _pattern(template).fullmatch(split.path)
            if match is None:
                continue
            args = [unquote(g) for g in match.groups()]
            if kind in ("invocations", "audit"):
                return _Answer(payload=self._listing(user, kind, args[0], split.query), listing=True)
            return self._logs(user, kind, args)
        raise Refusal(404, "NOT_FOUND", "Path not found")

    def _listing(self, user: User, kind: str, team_id: str, query: str) -> Any:
        if team_id not in user.teams:
            raise Refusal(403, "FORBIDDEN", "no access to this team")
        scope = f"{kind}:{team_id}"
        try:
            pairs = parse_qsl(query, keep_blank_values=True, max_num_fields=200)
            parsed = parse_listing(
                pairs,
                invocations=kind == "invocations",
                scope=scope,
                signer=self._cursors,
                wire=self.contract,
                short=self.short,
            )
        except (BadRequest, ValueError) as exc:
            raise Refusal(400, "INVALID_PARAMETER", str(exc)) from None
        page = run_listing(
            self.dataset, team_id, parsed, self.dataset.moment(), scope, self._cursors, self.contract, self.short
        )
        convert = self.wire.invocation if kind == "invocations" else self.wire.audit
        return self.wire.listing([convert(r) for r in page.items], page.fields)

    def _logs(self, user: User, kind: str, args: list[str]) -> _Answer:
        broken = self.faults.logs_status(args[0])
        if broken is not None:
            self.stats.record_fault("broken_logs")
            raise Refusal(broken, "INJECTED_ERROR", "injected failure of this invocation's logs")
        not_stored = Refusal(
            self.contract.logs.not_stored_status,
            "LOGS_NOT_STORED",
            "no logs stored for this invocation (it may still be running)",
        )
        found = self.dataset.find_invocation(args[0])
        if found is None:
            raise not_stored
        team_id, raw = found
        if team_id not in user.teams:
            raise Refusal(403, "FORBIDDEN", "no access to this invocation's team")
        moment = self.dataset.moment()
        if raw is None or not moment.serves(raw.start_ms) or moment.running(raw):
            raise not_stored
        if kind == "large":
            if logfiles.large_message_id(raw) != args[1]:
                raise not_stored
            count = 1
        else:
            count = raw.console if kind == "console" else raw.http
        delivery = self.contract.logs
        if count == 0 and delivery.no_logs == "empty-body":
            return _Answer(reply=Reply(200, b""))
        if delivery.mode == "inline":
            return self._file(kind, team_id, raw)
        if count == 0:
            return _Answer(payload=self.wire.log_url(None))
        ttl = self.config.download_ttl_seconds
        if self.faults.url_expired():
            self.stats.record_fault("expired_url")
            ttl = -1.0
        expires = round(time.time() + ttl, 3)
        token = self._downloads.dumps({"k": kind, "i": raw.id, "t": team_id, "e": expires})
        return _Answer(payload=self.wire.log_url(f"{self.base_url}{DOWNLOAD_PREFIX}{token}"))

    def _file(self, kind: str, team_id: str, raw: RawInvocation) -> _Answer:
        """A log file (or the large message) of ``raw`` as the contract shapes it, its MD5 as ETag."""
        seed = self.config.seed
        if kind == "large":
            body, content_type = self.wire.large_message(logfiles.large_message(seed, raw))
        elif kind == "console":
            body, content_type = dumps(self.wire.console_file(logfiles.console_lines(seed, team_id, raw))), JSON
        else:
            body, content_type = dumps(self.wire.http_file(logfiles.http_entries(seed, raw))), JSON
        return _Answer(reply=Reply(200, body, content_type, (("ETag", f'"{_md5(body)}"'),)), file=True)

    def _download(self, method: str, token: str) -> Reply:
        if method != "GET":
            return _s3_error(405, "MethodNotAllowed", "The specified method is not allowed")
        payload = self._downloads.loads(unquote(token))
        if payload is None:
            return _s3_error(403, "SignatureDoesNotMatch", "The request signature does not match")
        if time.time() > float(payload["e"]):
            return _s3_error(403, "AccessDenied", "Request has expired")
        status = self._error_status(download=True)
        if status is not None:
            return _s3_error(status, "InternalError", "We encountered an internal error. Please try again.")
        self._maybe_sleep(download=True)
        found = self.dataset.find_invocation(str(payload["i"]))
        raw = None if found is None else found[1]
        if found is None or raw is None:
            return _s3_error(404, "NoSuchKey", "The specified key does not exist.")
        answer = self._file(str(payload["k"]), found[0], raw)
        assert answer.reply is not None
        return self._served_file(answer.reply, download=True)
