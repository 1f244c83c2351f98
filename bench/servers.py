"""The servers of a run, all on 127.0.0.1: the SRC sandbox (in this process) and moto's S3 server.

The sandbox runs in the orchestrator, which only waits while a contender runs, so its threads have
a core of their own; a fresh one per contender run gives every contender a full burst and its own
counters. ``CountingSandbox`` counts answers by route and status: P (listing pages), k·N (log calls)
and the 429s come from here, not from the clients.
"""

from __future__ import annotations

import contextlib
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from airflow_provider_srconnect import contract
from airflow_provider_srconnect.sandbox import SandboxConfig, SandboxServer
from airflow_provider_srconnect.sandbox.api import DOWNLOAD_PREFIX

#: The bench's sandbox serves the default contract.
C = contract.DEFAULT

if TYPE_CHECKING:
    from types import TracebackType

    from airflow_provider_srconnect.sandbox.api import Reply

STARTUP_TIMEOUT = 30.0


def _pattern(template: str) -> re.Pattern[str]:
    return re.compile("[^/]+".join(re.escape(part) for part in re.split(r"\{\w+\}", template)))


_ROUTES = tuple(
    (name, _pattern(template))
    for name, template in (
        ("listing", C.paths.invocation_logs),
        ("listing", C.paths.audit_logs),
        ("console", C.paths.console_logs),
        ("http", C.paths.http_logs),
        ("large", C.paths.large_log_message),
    )
)


def route_of(path: str) -> str:
    """``listing``, ``console``, ``http``, ``large``, ``download`` or ``other``: what a request asked for."""
    if path.startswith(DOWNLOAD_PREFIX):
        return "download"
    return next((name for name, pattern in _ROUTES if pattern.fullmatch(path)), "other")


@dataclass(frozen=True)
class Calls:
    """The sandbox's answers by route and status, with the derived counts of the issue's formula."""

    by_route: dict[str, dict[int, int]]
    #: Epoch seconds of the first and the last rate-limited (API) request; 0 when there was none.
    first_api_at: float = 0.0
    last_api_at: float = 0.0

    def served(self, route: str) -> int:
        """Answers other than 429: the calls the job needed on that route."""
        return sum(n for status, n in self.by_route.get(route, {}).items() if status != contract.STATUS_THROTTLED)

    @property
    def pages(self) -> int:
        return self.served("listing")

    @property
    def log_calls(self) -> int:
        return sum(self.served(route) for route in ("console", "http", "large"))

    @property
    def api_calls(self) -> int:
        """P + k·N: every rate-limited call the job needed."""
        return self.pages + self.log_calls

    @property
    def throttled(self) -> int:
        return sum(statuses.get(contract.STATUS_THROTTLED, 0) for statuses in self.by_route.values())


class CountingSandbox:
    """A ``SandboxServer`` whose app counts every answer by route and status."""

    def __init__(self, config: SandboxConfig) -> None:
        self.server = SandboxServer(config, host="127.0.0.1", port=0)
        self._counts: dict[str, Counter[int]] = {}
        self._lock = threading.Lock()
        self._first = self._last = 0.0
        handle = self.server.app.handle
        latency = config.latency_ms / 1000

        def counting(method: str, target: str, authorization: str | None) -> Reply:
            arrived = time.time()
            reply = handle(method, target, authorization)
            route = route_of(urlsplit(target).path)
            with self._lock:
                self._counts.setdefault(route, Counter())[reply.status] += 1
                if route not in ("download", "other"):
                    # When the request reached the rate limiter: after the simulated latency.
                    self._first = min(self._first or arrived + latency, arrived + latency)
                    self._last = max(self._last, arrived + latency)
            return reply

        self.server.app.handle = counting  # type: ignore[method-assign]

    @property
    def url(self) -> str:
        return self.server.url

    def calls(self) -> Calls:
        with self._lock:
            return Calls({route: dict(c) for route, c in self._counts.items()}, self._first, self._last)

    def __enter__(self) -> CountingSandbox:
        self.server.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.server.stop()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_up(url: str, what: str, process: subprocess.Popen[Any]) -> None:
    """Poll ``url`` until it answers with any HTTP status."""
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while True:
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except urllib.error.HTTPError:
            return
        except OSError as error:
            if process.poll() is not None:
                raise RuntimeError(f"{what} exited with code {process.returncode} before answering") from error
            if time.monotonic() > deadline:
                raise RuntimeError(f"{what} did not answer on {url} within {STARTUP_TIMEOUT} s") from error
        time.sleep(0.1)


class MotoS3:
    """moto's S3 server in a subprocess of its own (``python -m moto.server``), stopped on exit."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> MotoS3:
        self._process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_until_up(self.url, "moto", self._process)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=10)

    def client(self) -> Any:
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.url,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
