"""Unit tests of SRConnectWindowSettledSensor: the decision table, input checks and the deferrable path."""

from __future__ import annotations

import datetime as dt
import importlib
import json
from typing import Any

import pendulum
import pytest
from airflow.providers.common.compat.sdk import TaskDeferred

from airflow_provider_srconnect import contract
from airflow_provider_srconnect.exceptions import (
    SRConnectAuthError,
    SRConnectError,
    SRConnectParamError,
    SRConnectRateLimitError,
    SRConnectUnexpectedError,
)
from airflow_provider_srconnect.sensors.srconnect import SRConnectWindowSettledSensor, error_from_event
from airflow_provider_srconnect.triggers.srconnect import SRConnectWindowSettledTrigger, settlement
from airflow_provider_srconnect.windows import LogWindow
from tests.conftest import fails_task_with
from tests.sensors.conftest import API_KEY

START = pendulum.datetime(2026, 11, 27, 10, tz="UTC")
END = pendulum.datetime(2026, 11, 27, 11, tz="UTC")
SETTLED_AT = END + contract.MAX_INVOCATION_DURATION
LIST_URL = "https://src.test/v1/team/team-1/invocationLogs"


def running(n: int = 1) -> dict[str, Any]:
    return {
        contract.InvocationField.ID: f"inv-{n}",
        contract.InvocationField.START_TIME: contract.format_time(START.add(minutes=50)),
        contract.InvocationField.EXECUTION_STATUS: contract.STATUS_RUNNING,
    }


def page(*items: dict[str, Any]) -> dict[str, Any]:
    return {contract.DEFAULT.listing.wrapper: list(items), "nextToken": None}


def make_sensor(conn_id: str, **kwargs: Any) -> SRConnectWindowSettledSensor:
    settings: dict[str, Any] = {
        "task_id": "settled",
        "srconnect_conn_id": conn_id,
        "window_start": START,
        "window_end": END,
        "poke_interval": 30,
        "deferrable": False,
        **kwargs,
    }
    return SRConnectWindowSettledSensor(**settings)


# --- The pure rule --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "verdict"),
    [
        (START, False),
        (END - dt.timedelta(microseconds=1), False),
        (END, None),
        (SETTLED_AT - dt.timedelta(microseconds=1), None),
        (SETTLED_AT, True),
        (SETTLED_AT + dt.timedelta(days=30), True),
    ],
)
def test_settlement_decides_by_the_clock_except_between_end_and_settled_at(now, verdict):
    assert settlement(LogWindow(START, END), now) is verdict


def test_a_window_past_retention_is_settled():
    assert settlement(None, END) is True


# --- Poke mode: the decision table ----------------------------------------------------------------


def test_before_the_window_ends_it_is_not_settled_without_a_request(src_conn, clock, requests_mock):
    clock.set(END - dt.timedelta(minutes=1))
    assert make_sensor(src_conn()).poke({}) is False
    assert requests_mock.call_count == 0


@pytest.mark.parametrize("after_end", [dt.timedelta(0), dt.timedelta(minutes=7), dt.timedelta(minutes=14, seconds=59)])
def test_between_end_and_settled_at_a_running_invocation_means_not_settled(src_conn, clock, requests_mock, after_end):
    clock.set(END + after_end)
    requests_mock.get(LIST_URL, json=page(running()))

    assert make_sensor(src_conn()).poke({}) is False
    (query,) = [h.qs for h in requests_mock.request_history]
    assert query["executionstatuses"] == ["running"] and query["pagesize"] == ["1"]
    assert query["from"] == ["2026-11-27t10:00:00.000z"] and query["to"] == ["2026-11-27t11:00:00.000z"]


def test_between_end_and_settled_at_no_running_invocation_means_settled(src_conn, clock, requests_mock):
    clock.set(END + dt.timedelta(minutes=5))
    requests_mock.get(LIST_URL, json=page())

    assert make_sensor(src_conn()).poke({}) is True
    assert requests_mock.call_count == 1


@pytest.mark.parametrize("after", [dt.timedelta(0), dt.timedelta(hours=3)])
def test_at_or_after_settled_at_it_is_settled_without_a_request(src_conn, clock, requests_mock, after):
    clock.set(SETTLED_AT + after)
    assert make_sensor(src_conn()).poke({}) is True
    assert requests_mock.call_count == 0


def test_a_window_past_retention_is_settled_without_a_request(src_conn, clock, requests_mock):
    clock.set(END.add(months=7))
    assert make_sensor(src_conn()).poke({}) is True
    assert requests_mock.call_count == 0


def test_the_window_defaults_to_the_data_interval(src_conn, clock, requests_mock):
    clock.set(END + dt.timedelta(minutes=1))
    requests_mock.get(LIST_URL, json=page())
    sensor = make_sensor(src_conn(), window_start=None, window_end=None)

    assert sensor.poke({"data_interval_start": START, "data_interval_end": END}) is True
    assert requests_mock.last_request.qs["to"] == ["2026-11-27t11:00:00.000z"]


def test_templated_iso_strings_and_an_explicit_team_are_used(src_conn, clock, requests_mock):
    clock.set(END + dt.timedelta(minutes=1))
    requests_mock.get("https://src.test/v1/team/team-2/invocationLogs", json=page(running()))
    sensor = make_sensor(src_conn(), team_id="team-2", window_start=START.isoformat(), window_end=END.isoformat())

    assert sensor.poke({}) is False
    assert set(SRConnectWindowSettledSensor.template_fields) == {
        "srconnect_conn_id",
        "team_id",
        "window_start",
        "window_end",
    }


def test_poke_mode_execute_waits_until_the_last_invocation_stops(src_conn, clock, requests_mock):
    clock.set(END + dt.timedelta(minutes=2))
    requests_mock.get(LIST_URL, [{"json": page(running(1))}, {"json": page(running(2))}, {"json": page()}])

    make_sensor(src_conn(), poke_interval=0).execute({})

    assert requests_mock.call_count == 3


# --- Bad input fails before any request -----------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "param"),
    [
        ({"window_start": END, "window_end": START}, "window_end"),
        ({"window_start": START, "window_end": START}, "data interval"),
        ({"window_start": "yesterday", "window_end": END}, "window_start"),
        ({"window_start": START.naive(), "window_end": END}, "window_start"),
        ({"window_start": None, "window_end": None}, "window_start/window_end"),
        ({"team_id": "../other-team"}, "team_id"),
        ({"team_id": ""}, "team_id"),
    ],
)
@pytest.mark.parametrize("deferrable", [False, True])
def test_bad_input_raises_the_param_error_before_any_request(
    src_conn, clock, requests_mock, overrides, param, deferrable
):
    clock.set(END + dt.timedelta(minutes=5))
    sensor = make_sensor(src_conn(), deferrable=deferrable, **overrides)

    with fails_task_with(SRConnectParamError) as raised:
        sensor.execute({}) if deferrable else sensor.poke({})
    assert raised.value.param == param
    assert requests_mock.call_count == 0


@pytest.mark.parametrize("deferrable", [False, True])
def test_a_connection_without_a_team_fails_before_any_request_or_deferral(src_conn, clock, requests_mock, deferrable):
    clock.set(START)  # even while the window is open: the question could never be asked
    sensor = make_sensor(src_conn(team_id=None), deferrable=deferrable)

    with fails_task_with(SRConnectParamError, match="team_id"):
        sensor.execute({}) if deferrable else sensor.poke({})
    assert requests_mock.call_count == 0


def test_api_errors_are_typed_and_carry_no_credential(src_conn, clock, requests_mock):
    clock.set(END + dt.timedelta(minutes=5))
    requests_mock.get(LIST_URL, status_code=401, json={"message": "bad key"})

    with fails_task_with(SRConnectAuthError) as raised:
        make_sensor(src_conn()).poke({})
    assert API_KEY not in str(raised.value)


# --- Deferrable mode ------------------------------------------------------------------------------


def test_deferrable_mode_defers_with_a_serialisable_trigger_while_open(src_conn, clock, requests_mock):
    clock.set(END - dt.timedelta(minutes=10))
    sensor = make_sensor(src_conn(), deferrable=True, team_id="team-1", timeout=3600, poke_interval=45)

    with pytest.raises(TaskDeferred) as deferred:
        sensor.execute({})

    assert requests_mock.call_count == 0
    assert deferred.value.method_name == "execute_complete"
    assert deferred.value.timeout == dt.timedelta(hours=1)
    trigger = deferred.value.trigger
    assert isinstance(trigger, SRConnectWindowSettledTrigger)
    classpath, kwargs = trigger.serialize()
    assert json.loads(json.dumps(kwargs)) == kwargs
    assert kwargs == {
        "window_start": "2026-11-27T10:00:00+00:00",
        "window_end": "2026-11-27T11:00:00+00:00",
        "srconnect_conn_id": sensor.srconnect_conn_id,
        "team_id": "team-1",
        "poke_interval": 45.0,
    }
    module, name = classpath.rsplit(".", 1)
    assert getattr(importlib.import_module(module), name)(**kwargs).serialize() == (classpath, kwargs)


def test_deferrable_mode_checks_once_then_defers_while_an_invocation_runs(src_conn, clock, requests_mock):
    clock.set(END + dt.timedelta(minutes=3))
    requests_mock.get(LIST_URL, json=page(running()))

    with pytest.raises(TaskDeferred):
        make_sensor(src_conn(), deferrable=True).execute({})
    assert requests_mock.call_count == 1


@pytest.mark.parametrize(
    ("now", "items", "calls"),
    [(SETTLED_AT, None, 0), (END + dt.timedelta(minutes=3), [], 1)],
    ids=["after-settled_at", "nothing-running"],
)
def test_deferrable_mode_returns_at_once_when_already_settled(src_conn, clock, requests_mock, now, items, calls):
    clock.set(now)
    if items is not None:
        requests_mock.get(LIST_URL, json=page(*items))

    assert make_sensor(src_conn(), deferrable=True).execute({}) is None
    assert requests_mock.call_count == calls


def test_execute_complete_succeeds_on_a_settled_event(src_conn):
    event = {"status": "settled", "window": {"start": START.isoformat(), "end": END.isoformat()}}
    assert make_sensor(src_conn()).execute_complete({}, event) is None


@pytest.mark.parametrize(
    ("error_type", "expected"),
    [
        ("SRConnectAuthError", SRConnectAuthError),
        ("SRConnectRateLimitError", SRConnectRateLimitError),
        ("SRConnectParamError", SRConnectError),
        ("SRConnectWindowExpiredError", SRConnectError),
        (None, SRConnectError),
    ],
)
def test_execute_complete_raises_the_typed_error_of_an_error_event(src_conn, error_type, expected):
    event = {"status": "error", "message": "SRC answered 401 to the listing", "error_type": error_type}

    if expected.retryable:  # left for Airflow's retries
        with pytest.raises(SRConnectError, match="SRC answered 401") as retried:
            make_sensor(src_conn()).execute_complete({}, event)
        assert type(retried.value) is expected
        return
    with fails_task_with(SRConnectError, match="SRC answered 401") as raised:
        make_sensor(src_conn()).execute_complete({}, event)
    assert type(raised.value) is expected


@pytest.mark.parametrize("error_type", ["ValueError", "ConnectionError", "AirflowNotFoundException"])
def test_execute_complete_leaves_an_unexpected_error_of_the_trigger_to_airflows_retries(src_conn, error_type):
    event = {"status": "error", "message": f"unexpected {error_type} in the trigger", "error_type": error_type}

    with pytest.raises(SRConnectUnexpectedError, match=f"unexpected {error_type} in the SRC settlement trigger"):
        make_sensor(src_conn()).execute_complete({}, event)


@pytest.mark.parametrize("event", [None, {}, {"status": "success"}])
def test_execute_complete_rejects_an_unknown_event(src_conn, event):
    with fails_task_with(SRConnectError, match="unexpected event"):
        make_sensor(src_conn()).execute_complete({}, event)


def test_error_from_event_without_message_still_says_what_failed():
    assert "failed" in str(error_from_event({"status": "error"}))
