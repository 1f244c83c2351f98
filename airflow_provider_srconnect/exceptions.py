"""The typed errors of the provider. Each message says what went wrong and what to change.

None of them ever carries a credential: messages are built from status codes, paths and
parameter names only, never from request headers.
"""

from __future__ import annotations


class SRConnectError(Exception):
    """Base class of every error this provider raises."""

    #: True when trying the same request again may succeed (the hook's retry policy reads it).
    retryable: bool = False

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class SRConnectParamError(SRConnectError, ValueError):
    """A parameter or connection field is wrong; raised before any request is sent."""

    def __init__(self, param: str, problem: str, fix: str) -> None:
        super().__init__(f"{param}: {problem}. {fix}")
        self.param = param


class SRConnectDestinationError(SRConnectParamError):
    """The archive's bucket does not exist, or its folder cannot be written; raised before any SRC request."""


class SRConnectAuthError(SRConnectError):
    """401/403: the e-mail or API key is wrong or revoked, or the team is not the key owner's."""


class SRConnectNotFoundError(SRConnectError):
    """404 on a listing or other resource."""


class SRConnectLogsNotStoredError(SRConnectNotFoundError):
    """404 on a log download: the invocation has not finished, or SRC stored no logs for it."""


class SRConnectRequestError(SRConnectError):
    """Another 4xx: SRC rejected the request (for example an unknown status or trigger type)."""


class SRConnectRateLimitError(SRConnectError):
    """429: throttled. Retried by the hook; raised once the retry budget is spent."""

    retryable = True

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message, status=429)
        self.retry_after = retry_after


class SRConnectServerError(SRConnectError):
    """5xx. Retried by the hook; raised once the retry budget is spent."""

    retryable = True


class SRConnectTransportError(SRConnectError):
    """No usable response: connection refused or reset, timeout, or a body cut short.

    Retried by the hook; raised once the retry budget is spent.
    """

    retryable = True


class SRConnectUnreachableError(SRConnectTransportError):
    """The host refused the connection: nothing listens at that host and port.

    Retried by the hook for a few seconds only (``_retry.UNREACHABLE_RETRY_SECONDS``), so the task fails
    quickly with the host in its error line and Airflow's own retries take over.
    """


class SRConnectDownloadError(SRConnectTransportError):
    """A log file or large message arrived damaged: fewer bytes than its ``Content-Length``, an HTML page,
    not the contract's JSON shape, not UTF-8, or an MD5 ``ETag`` no two downloads could confirm.

    Retried by asking SRC for a fresh URL; raised once the retry budget is spent. Nothing damaged is stored.
    """

    retryable = True


class SRConnectCancelledError(SRConnectError):
    """A request not sent because another log fetch of the same task failed for good (the task raises that one)."""


class SRConnectDownloadExpiredError(SRConnectError):
    """A log download URL was refused (it expired). Retried by asking SRC for a fresh URL."""

    retryable = True


class SRConnectContractError(SRConnectError):
    """A response is not shaped as the contract module says; the message names the field."""


class SRConnectUnexpectedError(SRConnectError):
    """An error outside the provider's typed ones (the budget's Redis down, a bug); Airflow's retries apply.

    The original error is its ``__cause__`` (in the triggerer's log when a trigger met it).
    """

    retryable = True
