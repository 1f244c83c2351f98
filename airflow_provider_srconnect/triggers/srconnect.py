"""Triggers for ScriptRunner Connect, and the settlement rule they share with the sensors.

A log window ``[start, end)`` is *settled* when no invocation that started in it can still be
running. SRC stops every invocation after ``contract.MAX_INVOCATION_DURATION`` (15 minutes), so
the clock alone decides most cases (``settlement``); only between ``end`` and ``settled_at`` must
SRC be asked whether one invocation of the window is still RUNNING (``running_query``). The poke
mode of ``SRConnectWindowSettledSensor`` and ``SRConnectWindowSettledTrigger`` both go through
these two functions, so the two modes cannot give different answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from typing import TYPE_CHECKING, Any

import pendulum
from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_provider_srconnect import contract
from airflow_provider_srconnect._task import connection_defined
from airflow_provider_srconnect.exceptions import SRConnectError
from airflow_provider_srconnect.hooks.srconnect import SRConnectAsyncHook, SRConnectHook
from airflow_provider_srconnect.windows import resolve_window

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from airflow_provider_srconnect.windows import LogWindow

#: ``TriggerEvent`` statuses.
EVENT_SETTLED = "settled"
EVENT_ERROR = "error"


def utcnow() -> pendulum.DateTime:
    """The current UTC time (the one clock of the sensor and the trigger; tests replace it)."""
    return pendulum.now("UTC")


def settlement(window: LogWindow | None, now: dt.datetime) -> bool | None:
    """What the clock alone says about a window at ``now``.

    :param window: the resolved window; None stands for a window already past SRC's retention.
    :return: True when settled (``now`` is at or after ``settled_at``, or the window is past
        retention), False while the window has not ended (new invocations may still start in it),
        None when SRC must be asked whether one of the window's invocations is still RUNNING.
    """
    if window is None or now >= window.settled_at:
        return True
    if now < window.end:
        return False
    return None


def resolve_settlement_window(context: Any, window_start: Any, window_end: Any, now: dt.datetime) -> LogWindow | None:
    """The window to judge: ``resolve_window`` with a future end allowed; None when past retention.

    Raises ``SRConnectParamError`` on an empty, reversed or unparseable window.
    """
    return resolve_window(context, window_start, window_end, on_expired="skip", allow_future=True, now=now)


def running_query(window: LogWindow, team_id: str | None) -> dict[str, Any]:
    """Keyword arguments of the one listing call that finds a RUNNING invocation of the window, if any."""
    return {
        "start": window.fetch_start,
        "end": window.end,
        "team_id": team_id,
        "execution_statuses": [contract.STATUS_RUNNING],
        "page_size": 1,
    }


def window_payload(window: LogWindow) -> dict[str, str]:
    """The window as plain JSON (ISO-8601 UTC strings)."""
    return {"start": window.start.isoformat(), "end": window.end.isoformat()}


def _iso(value: str | dt.datetime) -> str:
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return pendulum.instance(value).in_timezone("UTC").isoformat()
    return value if isinstance(value, str) else value.isoformat()  # naive: rejected in run() with a clear message


class SRConnectWindowSettledTrigger(BaseTrigger):
    """Fires once no invocation that started in ``[window_start, window_end)`` can still be running.

    Every loop asks the same question (``settlement``, then at most one one-record listing of
    RUNNING invocations) and the loop ends by ``settled_at``: after it the clock alone says
    "settled". It yields exactly one event: ``{"status": "settled", "window": {...}}`` or
    ``{"status": "error", "message": ..., "error_type": ...}``. ``error_type`` names the provider's typed
    error, or the type of an unexpected one (its details only in the triggerer's log); the sensor raises
    the same error from it as a poke would (``sensors.srconnect.error_from_event``).

    :param window_start: start of the window, ISO-8601 with a zone (or an aware datetime).
    :param window_end: end of the window, exclusive.
    :param srconnect_conn_id: the ``srconnect`` connection.
    :param team_id: the team; None means the connection's ``team_id``.
    :param poke_interval: seconds between two questions to SRC.
    """

    def __init__(
        self,
        *,
        window_start: str | dt.datetime,
        window_end: str | dt.datetime,
        srconnect_conn_id: str = SRConnectHook.default_conn_name,
        team_id: str | None = None,
        poke_interval: float = 60.0,
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.window_start = _iso(window_start)
        self.window_end = _iso(window_end)
        self.srconnect_conn_id = srconnect_conn_id
        self.team_id = team_id
        self.poke_interval = float(poke_interval)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        """Classpath and keyword arguments (plain JSON types) that rebuild this trigger."""
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "window_start": self.window_start,
                "window_end": self.window_end,
                "srconnect_conn_id": self.srconnect_conn_id,
                "team_id": self.team_id,
                "poke_interval": self.poke_interval,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Ask until the window is settled; yield one event and return."""
        hook = SRConnectAsyncHook(srconnect_conn_id=self.srconnect_conn_id)
        try:
            while True:
                now = utcnow()
                window = resolve_settlement_window({}, self.window_start, self.window_end, now)
                verdict = settlement(window, now)
                if verdict is None and window is not None:
                    with connection_defined("srconnect_conn_id", self.srconnect_conn_id, SRConnectHook.conn_type):
                        verdict = await self._none_running(hook, window)
                if verdict or window is None:
                    payload = window_payload(window) if window else {"start": self.window_start, "end": self.window_end}
                    self.log.info("SRC window [%s, %s) is settled", payload["start"], payload["end"])
                    yield _event({"status": EVENT_SETTLED, "window": payload})
                    return
                await asyncio.sleep(self._pause(window, now))
        except SRConnectError as exc:  # typed errors carry no credential (see exceptions.py)
            yield _event({"status": EVENT_ERROR, "message": str(exc), "error_type": type(exc).__name__})
        except Exception as exc:
            self.log.exception("SRC settlement trigger failed")
            message = f"unexpected {type(exc).__name__} in the SRC settlement trigger; see the triggerer log"
            yield _event({"status": EVENT_ERROR, "message": message, "error_type": type(exc).__name__})

    async def _none_running(self, hook: SRConnectAsyncHook, window: LogWindow) -> bool:
        # The listing is an async generator: close it at once, so its HTTP client does not outlive the question.
        records = hook.aiter_invocation_logs(**running_query(window, self.team_id))
        async with contextlib.aclosing(records):
            running = await anext(records, None)
        if running is not None:
            self.log.info("SRC invocation %s of the window is still running", running.get(contract.InvocationField.ID))
        return running is None

    def _pause(self, window: LogWindow, now: dt.datetime) -> float:
        """Seconds to the next question: the poke interval, but never past the next point the clock decides."""
        boundary = window.end if now < window.end else window.settled_at
        return max(0.0, min(self.poke_interval, boundary.timestamp() - now.timestamp()))


def _event(payload: dict[str, Any]) -> TriggerEvent:
    return TriggerEvent(payload)  # type: ignore[no-untyped-call]
