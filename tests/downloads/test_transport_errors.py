"""An unreachable SRC host: the error line names host and port and says "connection refused" or "timed out".

Real sockets on 127.0.0.1: a port nothing listens on (refused) and a socket that accepts connections and
never answers (timed out). The error stays retryable, for the hook's and Airflow's retries.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator

import pendulum
import pytest

from airflow_provider_srconnect.exceptions import SRConnectTransportError, SRConnectUnreachableError
from airflow_provider_srconnect.hooks.srconnect import SRConnectAsyncHook, SRConnectHook
from tests.conftest import free_port

START = pendulum.datetime(2026, 3, 9, tz="UTC")
END = START.add(hours=1)


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port whose connections the kernel accepts (the backlog) and nobody ever answers."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        yield int(sock.getsockname()[1])


def list_sync(hook: SRConnectHook) -> None:
    list(hook.iter_invocation_logs(START, END))


def list_async(hook: SRConnectHook) -> None:
    async def walk() -> None:
        assert isinstance(hook, SRConnectAsyncHook)
        async for _ in hook.aiter_invocation_logs(START, END):
            pass

    asyncio.run(walk())


FACES = pytest.mark.parametrize(
    ("hook_class", "walk"), [(SRConnectHook, list_sync), (SRConnectAsyncHook, list_async)], ids=["sync", "async"]
)


def hook_on(make_hook, hook_class: type, port: int, **extra) -> SRConnectHook:
    made = make_hook(host=f"http://127.0.0.1:{port}", **extra)
    return hook_class(srconnect_conn_id=made.srconnect_conn_id)


@FACES
def test_a_refused_connection_names_host_and_port_and_stays_retryable(make_hook, sleeps, hook_class, walk):
    port = free_port()  # closed again: nothing listens there
    hook = hook_on(make_hook, hook_class, port, max_retries=0)

    with pytest.raises(SRConnectTransportError) as raised:
        walk(hook)

    message = str(raised.value)
    assert f"connection refused by 127.0.0.1:{port}" in message
    assert "check the connection's Host and port" in message
    assert raised.value.retryable


@FACES
def test_a_host_that_never_answers_names_host_and_port_and_says_timed_out(
    make_hook, sleeps, silent_port, hook_class, walk
):
    hook = hook_on(make_hook, hook_class, silent_port, max_retries=0, timeout=0.2)

    with pytest.raises(SRConnectTransportError) as raised:
        walk(hook)

    message = str(raised.value)
    assert f"127.0.0.1:{silent_port} timed out" in message and "timeout of 0.2 s" in message
    assert raised.value.retryable


def test_the_retried_error_keeps_the_host_and_says_how_long_it_tried(make_hook, sleeps):
    port = free_port()
    hook = make_hook(host=f"http://127.0.0.1:{port}", max_retries=2)

    with pytest.raises(SRConnectTransportError, match=rf"refused by 127\.0\.0\.1:{port} .*gave up after 3 attempts"):
        list_sync(hook)
    assert len(sleeps) == 2


def test_a_refusing_host_is_retried_for_seconds_not_minutes(make_hook, sleeps, mocker):
    """The task fails fast with the host named; Airflow's retries, not minutes of the hook's, take over."""
    clock = iter(range(0, 1000, 3))  # each attempt "takes" 3 s, so the 10 s limit is reached on the 4th
    mocker.patch("tenacity.time.monotonic", side_effect=lambda: float(next(clock)))
    port = free_port()
    hook = make_hook(host=f"http://127.0.0.1:{port}", max_retries=8, max_retry_wait=300)

    with pytest.raises(SRConnectUnreachableError, match=rf"refused by 127\.0\.0\.1:{port}"):
        list_sync(hook)
    assert len(sleeps) < 8


def test_a_download_host_that_refuses_is_named_without_the_signature(make_hook):
    port = free_port()
    hook = make_hook()

    with pytest.raises(SRConnectTransportError) as raised:
        hook._get_file(f"http://127.0.0.1:{port}/bucket/log.json?X-Amz-Signature=secret", api=False)

    message = str(raised.value)
    assert f"GET http://127.0.0.1:{port}/bucket/log.json failed: connection refused by 127.0.0.1:{port}" in message
    assert "download URLs" in message and "secret" not in message
