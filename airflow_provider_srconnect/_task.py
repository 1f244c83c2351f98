"""What the provider's tasks share about failing."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

from airflow.providers.common.compat.sdk import AirflowFailException

from airflow_provider_srconnect.exceptions import SRConnectError

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
