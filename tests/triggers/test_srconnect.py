"""SRConnectWindowSettledTrigger: serialisation, and the same answers as the poke-mode sensor on a real sandbox."""

from __future__ import annotations

import asyncio
import datetime as dt
import importlib
import json
import types
from typing import Any

import pendulum
import pytest
from airflow.providers.common.compat.sdk import TaskDeferred
from airflow.triggers.base import TriggerEvent

from airflow_provider_srconnect.exceptions import SRConnectAuthError
from airflow_provider_srconnect.sandbox import DEFAULT_EMAIL, DEFAULT_TEAM
from airflow_provider_srconnect.sensors.srconnect import SRConnectWindowSettledSensor
from airflow_provider_srconnect.triggers import srconnect as trigger_module
from airflow_provider_srconnect.triggers.srconnect import SRConnectWindowSettledTrigger
from airflow_provider_srconnect.windows import LogWindow
from tests.conftest import fails_task_with
from tests.sensors.conftest import Clock
from tests.triggers.conftest import NOW, Windows


def rebuild(trigger: SRConnectWindowSettledTrigger) -> SRConnectWindowSettledTrigger:
    """A trigger made again from ``serialize()`` alone, as the triggerer does."""
    classpath, kwargs = trigger.serialize()
    module, name = classpath.rsplit(".", 1)
    rebuilt: SRConnectWindowSettledTrigger = getattr(importlib.import_module(module), name)(**kwargs)
    return rebuilt


def make_trigger(conn_id: str, window: LogWindow, **kwargs: Any) -> SRConnectWindowSettledTrigger:
    settings: dict[str, Any] = {"srconnect_conn_id": conn_id, "poke_interval": 0.01, **kwargs}
    return SRConnectWindowSettledTrigger(window_start=window.start, window_end=window.end, **settings)


def make_sensor(conn_id: str, window: LogWindow, **kwargs: Any) -> SRConnectWindowSettledSensor:
    return SRConnectWindowSettledSensor(
        task_id="settled",
        srconnect_conn_id=conn_id,
        window_start=window.start.isoformat(),
        window_end=window.end.isoformat(),
        poke_interval=0.01,
        **kwargs,
    )


def all_events(trigger: SRConnectWindowSettledTrigger, timeout: float = 5.0) -> list[TriggerEvent]:
    """Every event of a run that ends by itself within ``timeout`` seconds."""

    async def collect() -> list[TriggerEvent]:
        return [event async for event in trigger.run()]

    return asyncio.run(asyncio.wait_for(collect(), timeout))


# --- Serialisation --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (pendulum.datetime(2026, 11, 1, tz="UTC"), pendulum.datetime(2026, 11, 2, tz="UTC")),
        (
            dt.datetime(2026, 11, 1, 1, 30, 0, 123456, tzinfo=dt.timezone(dt.timedelta(hours=1, minutes=30))),
            pendulum.datetime(2026, 11, 2, tz="Europe/Berlin"),
        ),
        ("2026-11-01T00:00:00Z", "2026-11-02T00:00:00.250+00:00"),
    ],
)
@pytest.mark.parametrize("team_id", [None, "team-7"])
def test_serialize_round_trips_exactly_with_plain_json(start, end, team_id):
    trigger = SRConnectWindowSettledTrigger(
        window_start=start, window_end=end, srconnect_conn_id="src", team_id=team_id, poke_interval=12
    )
    classpath, kwargs = trigger.serialize()

    assert classpath == "airflow_provider_srconnect.triggers.srconnect.SRConnectWindowSettledTrigger"
    assert json.loads(json.dumps(kwargs)) == kwargs
    assert rebuild(trigger).serialize() == (classpath, kwargs)
    assert rebuild(rebuild(trigger)).serialize() == (classpath, kwargs)
    if not isinstance(start, str):  # times become UTC ISO text, the same instant
        assert pendulum.parse(kwargs["window_start"]) == start
        assert kwargs["window_start"].endswith("+00:00")


def test_airflow_stores_and_returns_the_same_kwargs():
    from airflow.models.trigger import Trigger

    trigger = SRConnectWindowSettledTrigger(window_start=NOW, window_end=NOW + dt.timedelta(hours=1), team_id="t-1")
    row = Trigger.from_object(trigger)  # what the scheduler stores (kwargs encrypted), no DB needed

    assert (row.classpath, row.kwargs) == trigger.serialize()


def test_a_bad_window_is_an_error_event_without_a_request(sandbox, sandbox_conn):
    trigger = SRConnectWindowSettledTrigger(
        window_start="2026-03-10T12:00:00+00:00", window_end="not a time", srconnect_conn_id=sandbox_conn
    )
    (event,) = all_events(trigger)

    assert event.payload["status"] == "error" and event.payload["error_type"] == "SRConnectParamError"
    assert "window_end" in event.payload["message"]
    assert sandbox.stats.requests_total == 0


# --- Same answers as the poke-mode sensor, on the sandbox -----------------------------------------


@pytest.fixture
def fake_sleep(monkeypatch: pytest.MonkeyPatch, clock: Clock) -> list[float]:
    """The trigger's ``asyncio.sleep`` moves the frozen clock instead of waiting; returns the waits.

    Only the trigger module's sleep is replaced (the rate limiter runs its own loop in a thread).
    The trigger is never cancelled in these tests: one that does not fire is seen through its
    waits (cancelling one inside the hook's rate limiter can hang, see the report).
    """
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        if len(waits) > 1000:
            raise RuntimeError("the trigger loops without end")
        clock.set(clock.now + dt.timedelta(seconds=seconds))
        await asyncio.sleep(0)

    monkeypatch.setattr(trigger_module, "asyncio", types.SimpleNamespace(sleep=sleep))
    return waits


def test_a_window_with_a_running_invocation_is_not_settled_until_settled_at(
    sandbox, sandbox_conn, windows: Windows, clock: Clock, fake_sleep: list[float]
):
    window = windows.running  # runs "forever": the sandbox's own clock stands still
    assert windows.running_in(window), "precondition: the ground truth has a RUNNING invocation"

    assert make_sensor(sandbox_conn, window).poke({}) is False
    assert sandbox.stats.requests_total == 1
    sandbox.stats.reset()
    (event,) = all_events(make_trigger(sandbox_conn, window, poke_interval=120))

    assert event.payload["status"] == "settled"
    assert clock.now == window.settled_at  # it fired only once the clock alone decided
    assert sum(fake_sleep) == pytest.approx((window.settled_at - pendulum.instance(NOW)).total_seconds())
    assert max(fake_sleep) <= 120
    assert sandbox.stats.requests_total == len(fake_sleep)  # one question per wait, none at settled_at
    assert set(sandbox.stats.by_status) == {200}


def test_a_window_past_settled_at_is_settled_without_any_request(sandbox, sandbox_conn, windows: Windows):
    window = windows.past
    assert window.settled_at < NOW

    assert make_sensor(sandbox_conn, window).poke({}) is True
    events = all_events(make_trigger(sandbox_conn, window))

    assert [e.payload for e in events] == [
        {"status": "settled", "window": {"start": window.start.isoformat(), "end": window.end.isoformat()}}
    ]
    assert sandbox.stats.requests_total == 0


def test_an_ended_window_without_running_invocations_is_settled(sandbox, sandbox_conn, windows: Windows):
    window = windows.quiet
    assert window.end <= NOW < window.settled_at and not windows.running_in(window)

    assert make_sensor(sandbox_conn, window).poke({}) is True
    assert sandbox.stats.requests_total == 1
    (event,) = all_events(make_trigger(sandbox_conn, window))

    assert event.payload == {
        "status": "settled",
        "window": {"start": window.start.isoformat(), "end": window.end.isoformat()},
    }
    assert sandbox.stats.requests_total == 2


def test_an_open_window_is_not_settled_and_nothing_is_asked_before_its_end(
    sandbox, sandbox_conn, windows: Windows, fake_sleep: list[float]
):
    now = pendulum.instance(NOW)
    window = LogWindow(now - dt.timedelta(minutes=10), now + dt.timedelta(minutes=5))
    assert windows.running_in(window), "precondition: it holds an invocation running at NOW"

    assert make_sensor(sandbox_conn, window).poke({}) is False
    assert sandbox.stats.requests_total == 0
    (event,) = all_events(make_trigger(sandbox_conn, window, poke_interval=240))

    assert event.payload["status"] == "settled"
    # To the end without a question (240 + 60 s), then a question per wait until settled_at.
    assert fake_sleep == [240, 60, 240, 240, 240, 180]
    assert sandbox.stats.requests_total == 4


def test_a_wrong_api_key_is_the_same_typed_error_in_both_modes(sandbox, src_conn, clock, windows: Windows):
    clock.set(NOW)
    wrong_key = "wrong-sandbox-key-93b1"
    conn_id = src_conn(sandbox.url, login=DEFAULT_EMAIL, password=wrong_key, team_id=DEFAULT_TEAM)
    sensor = make_sensor(conn_id, windows.quiet)

    with fails_task_with(SRConnectAuthError) as raised:
        sensor.poke({})
    (event,) = all_events(make_trigger(conn_id, windows.quiet))

    assert event.payload["status"] == "error" and event.payload["error_type"] == "SRConnectAuthError"
    assert wrong_key not in event.payload["message"] and wrong_key not in str(raised.value)
    with fails_task_with(SRConnectAuthError, match="401"):
        sensor.execute_complete({}, event.payload)


# --- Deferrable mode end to end -------------------------------------------------------------------


def test_deferral_round_trip_through_serialize(sandbox, sandbox_conn, clock: Clock, windows: Windows):
    window = windows.running
    sensor = make_sensor(sandbox_conn, window, deferrable=True, timeout=900)

    with pytest.raises(TaskDeferred) as deferred:
        sensor.execute({})
    assert sandbox.stats.requests_total == 1  # the one synchronous check
    assert deferred.value.timeout == dt.timedelta(seconds=900)

    trigger = deferred.value.trigger
    assert isinstance(trigger, SRConnectWindowSettledTrigger)
    clock.set(window.settled_at)
    (event,) = all_events(rebuild(trigger))

    assert sensor.execute_complete({}, event.payload) is None
    assert sandbox.stats.requests_total == 1
