"""Fixtures of the sandbox tests: a started sandbox with a fixed clock, and a client for it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from airflow_provider_srconnect.sandbox import (
    DEFAULT_API_KEY,
    DEFAULT_EMAIL,
    SandboxConfig,
    SandboxServer,
)
from airflow_provider_srconnect.sandbox.api import Reply

#: A fixed "now" in the middle of an hour (with milliseconds, to exercise rounding).
NOW = dt.datetime(2026, 3, 10, 12, 30, 15, 250000, tzinfo=dt.UTC)
AUTH = (DEFAULT_EMAIL, DEFAULT_API_KEY)


class Client:
    """A keep-alive ``requests`` session on one sandbox, authenticated as the default user."""

    def __init__(self, server: SandboxServer) -> None:
        self.server = server
        self.session = requests.Session()
        self.session.auth = AUTH

    def get(self, path: str, params: Any = None, **kwargs: Any) -> requests.Response:
        return self.session.get(self.server.url + path, params=params, timeout=10, **kwargs)

    def reply(self, path: str, params: list[tuple[str, str]]) -> Reply:
        """``get`` as a ``Reply`` (status, body, content type), for the raw walk of ``tests.sandbox.walk``."""
        response = self.get(path, params=params)
        return Reply(response.status_code, response.content, response.headers.get("Content-Type", ""))


@pytest.fixture
def start_sandbox() -> Iterator[Callable[..., SandboxServer]]:
    """Start sandboxes (``now=NOW``, no rate limit unless given); all are stopped afterwards."""
    started: list[SandboxServer] = []

    def start(port: int = 0, **overrides: Any) -> SandboxServer:
        settings: dict[str, Any] = {"now": NOW, "rate_limit_per_second": 0, **overrides}
        server = SandboxServer(SandboxConfig(**settings), port=port).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def sandbox(start_sandbox: Callable[..., SandboxServer]) -> SandboxServer:
    """One started sandbox with the defaults of ``start_sandbox``."""
    return start_sandbox()


@pytest.fixture
def client(sandbox: SandboxServer) -> Client:
    """A client of ``sandbox``."""
    return Client(sandbox)
