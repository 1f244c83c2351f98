"""Sensors for ScriptRunner Connect.

``SRConnectWindowSettledSensor`` waits until a log window can no longer change, so an export of
that window is final. Poke and deferrable modes share ``settlement`` and ``running_query`` with
the trigger (``triggers/srconnect.py``), so they give the same answer on the same window, and one
error policy (``_task.py``): a user's mistake or a typed permanent error fails the task at once; a
retryable typed error, or an unexpected one (``SRConnectUnexpectedError``: say, the rate budget's Redis
is down), is left to Airflow's retries, whether it happened in a poke or in the triggerer.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import BaseSensorOperator, conf

from airflow_provider_srconnect import contract, exceptions
from airflow_provider_srconnect._task import (
    connection_defined,
    permanent_errors_fail_the_task,
    unexpected_error,
    unexpected_errors_are_retried,
)
from airflow_provider_srconnect.connection import validate_id
from airflow_provider_srconnect.exceptions import SRConnectError, SRConnectParamError
from airflow_provider_srconnect.hooks.srconnect import SRConnectHook
from airflow_provider_srconnect.triggers.srconnect import (
    EVENT_ERROR,
    EVENT_SETTLED,
    SRConnectWindowSettledTrigger,
    resolve_settlement_window,
    running_query,
    settlement,
    utcnow,
)

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from airflow.providers.common.compat.sdk import Context

    from airflow_provider_srconnect.windows import LogWindow


class SRConnectWindowSettledSensor(BaseSensorOperator):
    """Wait until no invocation that started in the window ``[start, end)`` is still RUNNING.

    SRC stops invocations after 15 minutes, so the window is final at ``end + 15 min``: from then
    on the sensor succeeds without any request; before ``end`` it waits without any request; in
    between it asks SRC for one RUNNING invocation of the window.

    :param srconnect_conn_id: the ``srconnect`` connection. (templated, as on the export operators)
    :param team_id: the team; default the connection's ``team_id``. (templated)
    :param window_start: start of the window instead of ``data_interval_start``. (templated)
    :param window_end: end of the window instead of ``data_interval_end``; may be in the future. (templated)
    :param deferrable: wait in the triggerer instead of a worker slot (default from
        ``[operators] default_deferrable``).
    """

    template_fields: Sequence[str] = ("srconnect_conn_id", "team_id", "window_start", "window_end")
    ui_color = "#e8f1fb"

    def __init__(
        self,
        *,
        srconnect_conn_id: str = SRConnectHook.default_conn_name,
        team_id: str | None = None,
        window_start: Any = None,
        window_end: Any = None,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.srconnect_conn_id = srconnect_conn_id
        self.team_id = team_id
        self.window_start = window_start
        self.window_end = window_end
        self.deferrable = deferrable

    @functools.cached_property
    def hook(self) -> SRConnectHook:
        """The sync hook of the connection."""
        return SRConnectHook(srconnect_conn_id=self.srconnect_conn_id)

    # --- One check, shared by both modes ----------------------------------------------------------

    def _check(self, context: Context) -> tuple[LogWindow | None, bool]:
        """Resolve the window and decide; raises ``SRConnectParamError`` before any request."""
        now = utcnow()
        if self.team_id is not None:
            validate_id("team_id", self.team_id)
        window = resolve_settlement_window(context, self.window_start, self.window_end, now)
        verdict = settlement(window, now)
        if window is None:
            self.log.info("The window is past SRC's retention: nothing in it can still run")
            return window, True
        if verdict is not True:  # a connection and team to ask about, checked before any request or deferral
            with connection_defined("srconnect_conn_id", self.srconnect_conn_id, SRConnectHook.conn_type):
                self.hook.team(self.team_id)
        if verdict is None:
            running = next(iter(self.hook.iter_invocation_logs(**running_query(window, self.team_id))), None)
            verdict = running is None
            if running is not None:
                self.log.info(
                    "SRC invocation %s of the window is still running", running.get(contract.InvocationField.ID)
                )
        self.log.info(
            "SRC window [%s, %s) %s (settles at %s at the latest)",
            window.start,
            window.end,
            "is settled" if verdict else "is not settled yet",
            window.settled_at,
        )
        return window, verdict

    def poke(self, context: Context) -> bool:
        """True once no invocation that started in the window can still be running."""
        with error_policy():
            return self._check(context)[1]

    # --- Deferrable mode --------------------------------------------------------------------------

    def execute(self, context: Context) -> Any:
        """Poke mode: the usual sensor loop. Deferrable: check once here, then wait in the triggerer."""
        if not self.deferrable:
            return super().execute(context)
        with error_policy():
            window, settled = self._check(context)
        if settled or window is None:
            return None
        self.defer(
            trigger=SRConnectWindowSettledTrigger(
                window_start=window.start,
                window_end=window.end,
                srconnect_conn_id=self.srconnect_conn_id,
                team_id=self.team_id,
                poke_interval=self.poke_interval,
            ),
            method_name="execute_complete",
            timeout=dt.timedelta(seconds=self.timeout),
        )

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> None:
        """Resume after the trigger: succeed when settled, raise the typed error otherwise."""
        if event and event.get("status") == EVENT_SETTLED:
            window = event.get("window") or {}
            self.log.info("SRC window [%s, %s) is settled", window.get("start"), window.get("end"))
            return
        with permanent_errors_fail_the_task():
            if event and event.get("status") == EVENT_ERROR:
                raise error_from_event(event)
            raise SRConnectError(f"the SRC settlement trigger sent an unexpected event: {event!r}")


@contextlib.contextmanager
def error_policy() -> Iterator[None]:
    """The policy of both modes: permanent errors fail the task at once, unexpected ones are retried."""
    with permanent_errors_fail_the_task(), unexpected_errors_are_retried("checking whether the SRC window settled"):
        yield


def error_from_event(event: dict[str, Any]) -> SRConnectError:
    """The typed error an error event names.

    An error that is not the provider's (the trigger met, say, Redis' ``ConnectionError``) is
    ``SRConnectUnexpectedError``, retryable, as it is in poke mode; a typed error that cannot be rebuilt
    is ``SRConnectError``.
    """
    message = str(event.get("message") or "the SRC settlement trigger failed without a message")
    error_type = event.get("error_type")
    if isinstance(error_type, str) and error_type and not error_type.startswith("SRConnect"):
        return unexpected_error(error_type, "in the SRC settlement trigger (see the triggerer log)")
    cls = getattr(exceptions, str(error_type), None)
    # A parameter error is built from (param, problem, fix); its text is already final, so keep the base type.
    if isinstance(cls, type) and issubclass(cls, SRConnectError) and not issubclass(cls, SRConnectParamError):
        try:
            return cls(message)
        except TypeError:
            pass
    return SRConnectError(message)
