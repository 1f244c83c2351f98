"""Fixtures of the sensor tests: an ``srconnect`` connection from the environment and a frozen clock."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import pendulum
import pytest

from airflow_provider_srconnect.sensors import srconnect as sensor_module
from airflow_provider_srconnect.triggers import srconnect as trigger_module

CONN_ID = "srconnect_sensor_test"
API_KEY = "sensor-test-api-key-4d1e"
EMAIL = "owner@example.com"


@pytest.fixture
def src_conn(monkeypatch: pytest.MonkeyPatch) -> Callable[..., str]:
    """Define the connection ``CONN_ID`` as an AIRFLOW_CONN_* variable (no metadata DB); returns its id."""

    def define(
        host: str = "https://src.test",
        *,
        login: str = EMAIL,
        password: str = API_KEY,
        **extra: Any,
    ) -> str:
        extra = {"team_id": "team-1", "max_retries": 0, "rate_limit_per_second": 1000, **extra}
        extra = {key: value for key, value in extra.items() if value is not None}
        conn = {"conn_type": "srconnect", "host": host, "login": login, "password": password, "extra": extra}
        monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", json.dumps(conn))
        return CONN_ID

    return define


class Clock:
    """The sensor's and the trigger's ``utcnow``, frozen at ``now`` until a test moves it."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = pendulum.instance(now).in_timezone("UTC")

    def __call__(self) -> pendulum.DateTime:
        return self.now

    def set(self, now: dt.datetime) -> None:
        self.now = pendulum.instance(now).in_timezone("UTC")


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """A frozen clock (initially 2026-11-27 12:00 UTC) for both the sensor and the trigger module."""
    frozen = Clock(pendulum.datetime(2026, 11, 27, 12, tz="UTC"))
    monkeypatch.setattr(sensor_module, "utcnow", frozen)
    monkeypatch.setattr(trigger_module, "utcnow", frozen)
    return frozen
