"""Fixtures of the doctor tests: sandboxes on 127.0.0.1, connections as AIRFLOW_CONN_* variables, and the
doctor run as a subprocess or through ``main(argv)``."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_srconnect import contract
from airflow_provider_srconnect.doctor import main
from airflow_provider_srconnect.sandbox import (
    DEFAULT_API_KEY,
    DEFAULT_EMAIL,
    DEFAULT_TEAM,
    SandboxConfig,
    SandboxServer,
)
from tests.conftest import REPO_ROOT

NOW = dt.datetime(2026, 3, 10, 12, 30, tzinfo=dt.UTC)
START = dt.datetime(2026, 3, 8, tzinfo=dt.UTC)
END = dt.datetime(2026, 3, 9, tzinfo=dt.UTC)
WINDOW = ["--start", "2026-03-08T00:00:00Z", "--end", "2026-03-09T00:00:00Z"]
FIXTURES = REPO_ROOT / "tests" / "contracts"
#: The keys of the contract that set requests, which no reply reveals.
REQUEST_SIDE_PAGINATION = ("style", "param", "first_page", "size_param", "size_max", "size_default")


def fixture(name: str) -> dict[str, Any]:
    """The override JSON of a fixture contract (``pages``, ``offset``)."""
    return json.loads((FIXTURES / f"{name}.json").read_text())


def request_side(override: dict[str, Any]) -> dict[str, Any]:
    """The part of an override that only a user can know: paths, window, filters, how pages are asked for."""
    out = {k: override[k] for k in ("paths", "window", "filters") if k in override}
    out["pagination"] = {k: v for k, v in override.get("pagination", {}).items() if k in REQUEST_SIDE_PAGINATION}
    return out


def connection(url: str, **extra: Any) -> str:
    """An srconnect connection on ``url`` as AIRFLOW_CONN_* JSON (login/password overridable)."""
    extra = {"team_id": DEFAULT_TEAM, "rate_limit_per_second": 1000, **extra}
    login = extra.pop("login", DEFAULT_EMAIL)
    password = extra.pop("password", DEFAULT_API_KEY)
    return json.dumps({"conn_type": "srconnect", "host": url, "login": login, "password": password, "extra": extra})


@dataclass
class Run:
    """One doctor run: exit code and what it printed."""

    code: int
    out: str
    err: str

    @property
    def text(self) -> str:
        return self.out + self.err


@pytest.fixture
def sandbox() -> Iterator[Callable[..., SandboxServer]]:
    """Start sandboxes (fixed clock, no rate limit unless given); all are stopped afterwards."""
    started: list[SandboxServer] = []

    def start(**config: Any) -> SandboxServer:
        server = SandboxServer(SandboxConfig(**{"now": NOW, "rate_limit_per_second": 0, **config})).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def doctor(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> Callable[..., Run]:
    """Run the doctor on a connection (AIRFLOW_CONN_DOCTOR_TEST) in this process (``main``) or a subprocess.

    In this process the sandbox's request log (its own URLs and ids) would print next to the doctor's
    output; it is kept at WARNING, so that what is captured is the doctor's alone.
    """
    caplog.set_level(logging.WARNING, logger="airflow_provider_srconnect.sandbox")

    def run(conn: str | None, *args: str, subprocess_: bool = False) -> Run:
        if conn is not None:
            monkeypatch.setenv("AIRFLOW_CONN_DOCTOR_TEST", conn)
        argv = ["--conn-id", "doctor_test", *args]
        if subprocess_:
            done = subprocess.run(
                [sys.executable, "-m", "airflow_provider_srconnect.doctor", *argv],
                env=dict(os.environ),
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
            return Run(done.returncode, done.stdout, done.stderr)
        capsys.readouterr()
        code = main(argv)
        captured = capsys.readouterr()
        return Run(code, captured.out, captured.err)

    return run


def loads(path: Path) -> contract.Contract:
    """A proposal file, loaded as the connection extra would be."""
    return contract.load(json.loads(path.read_text()))
