from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import pytest

from airflow_provider_srconnect.hooks.srconnect import SRConnectHook
from tests.conftest import AIRFLOW_3

API_KEY = "unit-test-api-key-7f3c9a"
EMAIL = "owner@example.com"


@pytest.fixture
def make_hook(monkeypatch: pytest.MonkeyPatch) -> Callable[..., SRConnectHook]:
    """An SRConnectHook on a connection given as an AIRFLOW_CONN_* variable (no metadata DB)."""

    def make(host: str = "https://src.test", conn_id: str = "srconnect_unit", **extra: Any) -> SRConnectHook:
        extra = {"team_id": "team-1", "max_retries": 3, "max_retry_wait": 60, "rate_limit_per_second": 1000, **extra}
        conn = {"conn_type": "srconnect", "host": host, "login": EMAIL, "password": API_KEY, "extra": extra}
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))
        return SRConnectHook(srconnect_conn_id=conn_id)

    return make


@pytest.fixture
def sleeps(mocker: Any) -> list[float]:
    """Retry waits, recorded instead of slept (the hooks' stoppable ``_retry.pause`` and tenacity's own sleep)."""
    waited: list[float] = []
    mocker.patch("tenacity.nap.time.sleep", side_effect=waited.append)
    mocker.patch("airflow_provider_srconnect._retry.pause", side_effect=waited.append)
    return waited


@pytest.fixture
def log_text(caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]) -> Callable[[], str]:
    """Everything logged so far: stdlib records and Airflow 3's structlog lines (printed to stdout).

    On Airflow 2 every log line is a stdlib record, and its console handler prints a copy of each to
    stdout; that copy is left out so that each line counts once.
    """
    caplog.set_level(logging.DEBUG)

    def text() -> str:
        captured = capsys.readouterr()
        if not AIRFLOW_3:
            return caplog.text + captured.err
        return caplog.text + captured.out + captured.err

    return text
