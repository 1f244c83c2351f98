"""Shared by the download tests: the three wire contracts, served files, and a sandbox with a hook on it.

Every rule holds under the default contract (URLs, wrapped files, a large message as text), ``pages``
(URLs at ``download.url``, bare lists, a large message as a JSON object) and ``offset`` (files served
``inline`` by the log endpoint itself).
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pendulum
import pytest

from airflow_provider_srconnect import contract
from airflow_provider_srconnect.hooks.srconnect import SRConnectHook
from airflow_provider_srconnect.sandbox import (
    DEFAULT_API_KEY,
    DEFAULT_EMAIL,
    DEFAULT_TEAM,
    SandboxConfig,
    SandboxServer,
)
from airflow_provider_srconnect.windows import LogWindow
from tests.conftest import REPO_ROOT
from tests.hooks.conftest import make_hook, sleeps

__all__ = ["make_hook", "sleeps"]

#: The contract overrides of the three contracts, as a connection's extra ``contract`` takes them.
OVERRIDES: dict[str, dict[str, Any]] = {
    "default": {},
    **{
        name: json.loads((REPO_ROOT / "tests" / "contracts" / f"{name}.json").read_text())
        for name in ("pages", "offset")
    },
}
CONTRACTS = pytest.mark.parametrize("contract_name", sorted(OVERRIDES))
KINDS = ("console", "http", "large")
#: Retries for faults drawn at random: enough that a fetch fails for good far less than once in 10^8 (an
#: attempt spoiled half the time, or 3 times in 4 when the log endpoint is faulted too).
PATIENT = {"max_retries": 64, "max_retry_wait": 3600}
NOW = dt.datetime(2026, 3, 10, 12, 30, tzinfo=dt.UTC)
#: Two settled hours: every invocation in them is finished, so every log is stored; with seed 49, 35
#: invocations, 5 of them with a large message.
WINDOW = LogWindow(pendulum.datetime(2026, 3, 9, 6, tz="UTC"), pendulum.datetime(2026, 3, 9, 8, tz="UTC"))


def wire_of(contract_name: str) -> contract.Contract:
    """The ``contract.Contract`` of one of the three contracts."""
    return contract.load(OVERRIDES[contract_name])


def md5(body: bytes) -> str:
    return hashlib.md5(body, usedforsecurity=False).hexdigest()


def gzipped(body: bytes) -> bytes:
    return gzip.compress(body, mtime=0)


@dataclass(frozen=True)
class File:
    """A log file or large message of one contract: its bytes, content type and the value the hook returns."""

    body: bytes
    content_type: str
    value: Any

    def reply(self, *, etag: str | None = "md5", body: bytes | None = None, **headers: str) -> dict[str, Any]:
        """A requests-mock reply of the file (or of ``body`` instead), ETag the MD5 of the file by default."""
        sent = self.body if body is None else body
        all_headers = {"Content-Type": self.content_type, **headers}
        if etag == "md5":
            all_headers["ETag"] = f'"{md5(self.body)}"'
        elif etag is not None:
            all_headers["ETag"] = etag
        return {"content": sent, "headers": all_headers}


def sample_file(wire: contract.Contract, kind: str) -> File:
    """A file of ``kind`` as ``wire`` shapes it, with non-ASCII text (so decoding is exercised)."""
    files = wire.log_files
    if kind == "large":
        text = "Dumping batch: " + '[{"row": 1, "value": "\u00e9t\u00e9 \u2713"}]' * 400
        if files.large_message_field is None:
            return File(text.encode(), "text/plain; charset=utf-8", text)
        body: dict[str, Any] = {}
        contract.put(body, files.large_message_field, text)
        return File(json.dumps(body).encode(), "application/json", text)
    entries = [{"message": f"line {n}: \u00e9t\u00e9"} for n in range(20)]
    wrapper = files.console_wrapper if kind == "console" else files.http_wrapper
    shaped: Any = entries
    if wrapper is not None:
        shaped = {}
        contract.put(shaped, wrapper, entries)
    return File(json.dumps(shaped).encode(), "application/json", entries)


def endpoint(wire: contract.Contract, kind: str, base: str = "https://src.test") -> str:
    """The URL of the log endpoint of ``kind`` for invocation ``inv-1`` (message ``msg-9``)."""
    template = {"console": wire.paths.console_logs, "http": wire.paths.http_logs, "large": wire.paths.large_log_message}
    return base + template[kind].format(invocation_id="inv-1", message_id="msg-9")


def fetch(hook: SRConnectHook, kind: str) -> Any:
    """What the hook returns for the log of ``kind`` of invocation ``inv-1``."""
    if kind == "console":
        return hook.get_console_logs("inv-1")
    if kind == "http":
        return hook.get_http_logs("inv-1")
    return hook.get_large_log_message("inv-1", "msg-9")


def serve(requests_mock: Any, wire: contract.Contract, kind: str, replies: list[dict[str, Any]]) -> Callable[[], int]:
    """Serve ``replies`` as the successive downloads of one log; returns a counter of downloads made.

    ``url`` mode: the log endpoint hands out a fresh URL each time, the n-th URL answers ``replies[n]``.
    ``inline``: the log endpoint itself answers them in turn. The last reply repeats.
    """
    url = endpoint(wire, kind)
    if wire.logs.mode == "inline":
        requests_mock.get(url, replies)
        return lambda: sum(1 for r in requests_mock.request_history if r.url.startswith(url))
    links = []
    for n, reply in enumerate(replies):
        link = f"https://files.test/log?n={n}&sig=secret"
        requests_mock.get(link, **reply)
        body: dict[str, Any] = {}
        contract.put(body, wire.logs.url_field, link)
        links.append({"json": body})
    requests_mock.get(url, links)
    return lambda: sum(1 for r in requests_mock.request_history if r.url.startswith("https://files.test/"))


@pytest.fixture
def hook_for(make_hook: Callable[..., SRConnectHook]) -> Callable[..., SRConnectHook]:
    """A unit-test hook on ``https://src.test`` speaking one of the three contracts."""

    def make(contract_name: str, **extra: Any) -> SRConnectHook:
        return make_hook(contract=OVERRIDES[contract_name], **extra)

    return make


@pytest.fixture
def sandbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., tuple[SandboxServer, SRConnectHook]]]:
    """Start a sandbox speaking a contract (fixed clock, no server-side limit) and a hook on it."""
    servers: list[SandboxServer] = []

    def start(contract_name: str, **extra: Any) -> tuple[SandboxServer, SRConnectHook]:
        config = SandboxConfig(
            seed=49, invocations_per_hour=20, rate_limit_per_second=0, now=NOW, contract=wire_of(contract_name)
        )
        server = SandboxServer(config, host="127.0.0.1", port=0).start()
        servers.append(server)
        conn_id = f"src_downloads_{len(servers)}"
        conn = {
            "conn_type": "srconnect",
            "host": server.url,
            "login": DEFAULT_EMAIL,
            "password": DEFAULT_API_KEY,
            "extra": {
                "team_id": DEFAULT_TEAM,
                "rate_limit_per_second": 1000,
                "burst": 100,
                "timeout": 10,
                "contract": OVERRIDES[contract_name],
                **extra,
            },
        }
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))
        return server, SRConnectHook(srconnect_conn_id=conn_id)

    yield start
    for server in servers:
        server.stop()
