"""What the provider's tasks share about failing.

Two rules, the same for every operator and for both modes of the sensor:

- a user's mistake (a wrong parameter or connection field, an undefined connection, a missing bucket)
  or a response off the contract fails the task at once, without Airflow's retries
  (``permanent_errors_fail_the_task``);
- anything else, typed as retryable (throttling, 5xx, transport) or unexpected (say, the rate budget's
  Redis is down), is left to Airflow's retries (``unexpected_errors_are_retried``).
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

from airflow.providers.common.compat.sdk import AirflowException, AirflowFailException, AirflowNotFoundException

from airflow_provider_srconnect.exceptions import SRConnectError, SRConnectParamError, SRConnectUnexpectedError

if TYPE_CHECKING:
    from collections.abc import Iterator


@contextlib.contextmanager
def permanent_errors_fail_the_task() -> Iterator[None]:
    """Fail the task at once, without its retries, on an error no retry can fix.

    A wrong key, a bad parameter or a response off the contract stays wrong on the next try;
    only errors marked ``retryable`` (throttling, 5xx, transport) are left for Airflow to retry.
    The typed error stays attached as the cause.
    """
    try:
        yield
    except SRConnectError as exc:
        if exc.retryable:
            raise
        raise AirflowFailException(f"{type(exc).__name__}: {exc}") from exc


@contextlib.contextmanager
def unexpected_errors_are_retried(doing: str) -> Iterator[None]:
    """Turn an error that is neither the provider's nor Airflow's into ``SRConnectUnexpectedError`` (retryable).

    :param doing: what the task was doing, for the message (``"checking the SRC window"``).
    """
    try:
        yield
    except (SRConnectError, AirflowException):
        raise
    except Exception as exc:
        raise unexpected_error(type(exc).__name__, f"while {doing} (see the cause below)") from exc


def unexpected_error(error_type: str, where: str) -> SRConnectUnexpectedError:
    """The retryable error of an unexpected ``error_type``; ``where`` ends the message."""
    return SRConnectUnexpectedError(f"unexpected {error_type} {where}; Airflow's retries apply")


@contextlib.contextmanager
def connection_defined(param: str, conn_id: str | None, conn_type: str) -> Iterator[None]:
    """Turn Airflow's "conn_id isn't defined" inside the block into an ``SRConnectParamError`` saying how to add it.

    :param param: the operator argument that names the connection (``"srconnect_conn_id"``).
    :param conn_type: the connection type to suggest (``"srconnect"``, ``"aws"``, ``"google_cloud_platform"``).
    """
    try:
        yield
    except AirflowNotFoundException as exc:
        raise undefined_connection(param, str(conn_id), conn_type) from exc


def undefined_connection(param: str, conn_id: str, conn_type: str) -> SRConnectParamError:
    """The error of a connection id that names no Airflow connection."""
    return SRConnectParamError(
        param,
        f"no Airflow connection {conn_id!r} is defined",
        f"Add it (Admin > Connections, or `airflow connections add {conn_id} --conn-type {conn_type} ...`, "
        f"or the environment variable AIRFLOW_CONN_{conn_id.upper()}), or set {param} to a defined connection.",
    )
