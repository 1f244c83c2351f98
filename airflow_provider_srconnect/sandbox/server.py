"""The sandbox over real HTTP: a stdlib ``ThreadingHTTPServer`` speaking keep-alive HTTP/1.1."""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from airflow_provider_srconnect.sandbox.api import Reply, SandboxApp
from airflow_provider_srconnect.sandbox.config import SandboxConfig
from airflow_provider_srconnect.sandbox.faults import Faults
from airflow_provider_srconnect.sandbox.stats import Stats
from airflow_provider_srconnect.sandbox.window import GroundTruth

log = logging.getLogger("airflow_provider_srconnect.sandbox")


class _HTTPServer(ThreadingHTTPServer):
    """Daemon handler threads; remembers open connections so ``stop`` can cut them."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], app: SandboxApp | None = None) -> None:
        self.app: SandboxApp | None = app
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Cut every kept-alive connection, so no old thread answers after ``stop``."""
        with self._open_lock:
            sockets, self._open = list(self._open), set()
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "SRConnectSandbox/1"
    #: Headers and body go out in separate writes; without this, Nagle + delayed ACK add ~40 ms.
    disable_nagle_algorithm = True
    #: Idle keep-alive connections are closed after this many seconds.
    timeout = 30
    server: _HTTPServer

    def _serve(self) -> None:
        length = self.headers.get("Content-Length", "0")
        if length.isdigit() and int(length) > 0:
            self.rfile.read(int(length))  # a body is never used, but must not be read as the next request
        app = self.server.app
        assert app is not None
        self._write(app.handle(self.command, self.path, self.headers.get("Authorization")))

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

    def _write(self, reply: Reply) -> None:
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        for name, value in reply.headers:
            self.send_header(name, value)
        self.end_headers()
        if reply.reset_after is None:
            self.wfile.write(reply.body)
            return
        self.wfile.write(reply.body[: reply.reset_after])
        self.wfile.flush()
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def log_message(self, format: str, *args: Any) -> None:  # request line only, never headers
        log.info("%s %s", self.address_string(), format % args)


class SandboxServer:
    """The SRC sandbox on ``host:port`` (port 0 = any free port); ``start`` serves in a daemon thread.

    Binding happens in the constructor, so ``url`` and ``port`` are known before ``start``.
    """

    def __init__(
        self,
        config: SandboxConfig | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        faults: Faults | None = None,
    ) -> None:
        self.config = config if config is not None else SandboxConfig()
        self.faults = faults if faults is not None else Faults()
        self.stats = Stats()
        self._httpd = _HTTPServer((host, port))
        self.host = host
        self.port: int = self._httpd.server_address[1]
        self.url = f"http://[{host}]:{self.port}" if ":" in host else f"http://{host}:{self.port}"
        self.app = SandboxApp(self.config, self.faults, self.stats, self.url)
        self._httpd.app = self.app
        self.ground_truth = GroundTruth(self.app.dataset)
        self._thread: threading.Thread | None = None
        self._stopped = False

    def start(self) -> SandboxServer:
        """Serve in a daemon thread; returns self."""
        if self._stopped:
            raise RuntimeError("a stopped SandboxServer cannot start again; create a new one")
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._httpd.serve_forever,
                kwargs={"poll_interval": 0.05},
                name=f"srconnect-sandbox-{self.port}",
                daemon=True,
            )
            self._thread.start()
            log.info("SRC sandbox serving on %s", self.url)
        return self

    def stop(self) -> None:
        """Stop serving, cut open connections and free the port (idempotent)."""
        if self._stopped:
            return
        self._stopped = True
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=5)
        self._httpd.close_connections()
        self._httpd.server_close()

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
