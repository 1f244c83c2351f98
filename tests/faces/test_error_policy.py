"""One error policy in both sensor modes: an unexpected error is retried whether a poke or the trigger met it.

The unexpected error here is an outage of the rate budget's storage: Redis on a port of 127.0.0.1 where
nothing listens (redis-py's ``ConnectionError``), or the limiter itself raising it. The poke raises
``SRConnectUnexpectedError`` (retryable, Redis' error as the cause); in deferrable mode the trigger reports
the error in its event and ``execute_complete`` raises the same class. Neither is ``AirflowFailException``,
so Airflow's retries apply to both, as docs/backfill.md says.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import importlib
from typing import Any

import pendulum
import pytest
import redis.exceptions
from airflow.providers.common.compat.sdk import AirflowFailException, TaskDeferred

from airflow_provider_srconnect.exceptions import SRConnectUnexpectedError
from airflow_provider_srconnect.sensors.srconnect import SRConnectWindowSettledSensor
from airflow_provider_srconnect.triggers.srconnect import SRConnectWindowSettledTrigger
from tests.conftest import free_port

START = pendulum.datetime(2026, 11, 27, 10, tz="UTC")
END = pendulum.datetime(2026, 11, 27, 11, tz="UTC")
#: Between the window's end and settled_at: only SRC can say whether it is settled, so both modes ask.
ASKING = END + dt.timedelta(minutes=5)


@pytest.fixture(params=["closed-port", "limiter-raises"])
def outage(request: Any, src_conn: Any, mocker: Any) -> str:
    """A connection whose budget storage is down; returns its id."""
    if request.param == "closed-port":
        return str(src_conn(rate_limit_storage=f"redis://127.0.0.1:{free_port()}/0"))
    mocker.patch(
        "airflow_provider_srconnect._ratelimit.Budget.try_acquire",
        side_effect=redis.exceptions.ConnectionError("Redis is down"),
    )
    return str(src_conn())


def make_sensor(conn_id: str, *, deferrable: bool) -> SRConnectWindowSettledSensor:
    return SRConnectWindowSettledSensor(
        task_id="settled",
        srconnect_conn_id=conn_id,
        window_start=START,
        window_end=END,
        poke_interval=30,
        deferrable=deferrable,
    )


def from_poke(conn_id: str, clock: Any) -> BaseException:
    clock.set(ASKING)
    with pytest.raises(Exception) as raised:
        make_sensor(conn_id, deferrable=False).poke({})
    return raised.value


def from_trigger(conn_id: str, clock: Any) -> BaseException:
    """Defer while the window is open (no request), then let the trigger ask once it has ended."""
    clock.set(END - dt.timedelta(minutes=1))
    sensor = make_sensor(conn_id, deferrable=True)
    with pytest.raises(TaskDeferred) as deferred:
        sensor.execute({})
    classpath, kwargs = deferred.value.trigger.serialize()  # rebuilt as the triggerer does
    module, name = classpath.rsplit(".", 1)
    trigger: SRConnectWindowSettledTrigger = getattr(importlib.import_module(module), name)(**kwargs)

    async def first_event() -> Any:
        async with contextlib.aclosing(trigger.run()) as events:
            return await anext(events)

    clock.set(ASKING)
    event = asyncio.run(asyncio.wait_for(first_event(), 30))
    assert event.payload["status"] == "error" and event.payload["error_type"] == "ConnectionError"
    with pytest.raises(Exception) as raised:
        sensor.execute_complete({}, event.payload)
    return raised.value


def test_a_budget_outage_is_the_same_retryable_error_in_poke_and_deferrable_mode(outage, clock, requests_mock):
    poked = from_poke(outage, clock)
    deferred = from_trigger(outage, clock)

    for error in (poked, deferred):
        assert type(error) is SRConnectUnexpectedError and error.retryable
        assert not isinstance(error, AirflowFailException)  # Airflow retries the task
        assert str(error).startswith("unexpected ConnectionError ") and str(error).endswith("Airflow's retries apply")
    assert isinstance(poked.__cause__, redis.exceptions.ConnectionError)
    assert requests_mock.call_count == 0  # the budget is taken before a request is sent


def test_the_trigger_event_keeps_the_outages_details_out_of_the_database(outage, clock):
    """The event is stored with the task instance: it names the error's type, not its text."""
    clock.set(ASKING)
    trigger = SRConnectWindowSettledTrigger(window_start=START, window_end=END, srconnect_conn_id=outage)

    async def first_event() -> Any:
        async with contextlib.aclosing(trigger.run()) as events:
            return await anext(events)

    event = asyncio.run(asyncio.wait_for(first_event(), 30))

    assert event.payload["error_type"] == "ConnectionError"
    assert "127.0.0.1" not in event.payload["message"] and "Redis is down" not in event.payload["message"]
