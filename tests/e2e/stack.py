"""Servers of the scale-out test, each on 127.0.0.1 on a free port, started and stopped by the test.

- ``postgresql()``: Debian's PostgreSQL (``initdb`` and ``postgres`` from ``/usr/lib/postgresql/<N>/bin``) in a
  throwaway data folder, as the ``postgres`` user when the test runs as root (PostgreSQL refuses root);
- ``redis_server()``: ``redis-server`` without persistence;
- ``Stack``: an Airflow home's CLI and its long-running components, each in a process group of its own.

A missing binary skips the test, except in CI (``CI`` set), where ``.ci/run`` installs it and it fails.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import free_port, stop_process_group

#: Seconds a server may take to accept its first connection.
STARTUP_TIMEOUT = 60.0


def require(what: str, found: object, install: str) -> None:
    """Skip when ``found`` is falsy, or fail in CI, where ``.ci/run`` installs it."""
    if found:
        return
    if os.environ.get("CI"):
        pytest.fail(f"{what} is missing in CI: .ci/run installs it ({install})")
    pytest.skip(f"{what} is not installed here ({install}); CI installs it")


def postgres_bin() -> Path | None:
    """The newest ``/usr/lib/postgresql/<N>/bin`` with ``initdb`` (Debian's layout), else ``initdb`` on PATH."""
    found = [p.parent for p in Path("/usr/lib/postgresql").glob("*/bin/initdb")]
    found.sort(key=lambda path: int(path.parent.name) if path.parent.name.isdigit() else 0)
    if found:
        return found[-1]
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _unprivileged() -> dict[str, Any]:
    """``subprocess`` arguments that run PostgreSQL as ``postgres`` when we are root (nothing otherwise)."""
    if os.geteuid() != 0:
        return {}
    user = pwd.getpwnam("postgres")
    return {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}


def _wait(ready: Any, process: subprocess.Popen[bytes], what: str, log: Path) -> None:
    """Call ``ready()`` until it returns without an ``OSError``-like error; fail if ``process`` exits."""
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while True:
        try:
            ready()
            return
        except Exception as error:
            if process.poll() is not None:
                pytest.fail(f"{what} exited with code {process.returncode}:\n{log.read_text(errors='replace')[-2000:]}")
            if time.monotonic() > deadline:
                pytest.fail(f"{what} did not answer within {STARTUP_TIMEOUT} s: {error}")
            time.sleep(0.1)


@contextlib.contextmanager
def postgresql() -> Iterator[str]:
    """A PostgreSQL server with an empty database ``airflow`` (user ``airflow``, trust auth, TCP only).

    Yields its SQLAlchemy URL (``postgresql+psycopg2://...``). Durability is off (``fsync``, synchronous
    commit, full-page writes): the data lives as long as the test. Stopped with a fast shutdown.
    """
    import psycopg2

    bindir = postgres_bin()
    require("PostgreSQL (initdb, postgres)", bindir, "apt-get install postgresql")
    assert bindir is not None
    drop = _unprivileged()
    # Not under pytest's tmp_path: its root is mode 700 and owned by root, which `postgres` cannot enter.
    folder = Path(tempfile.mkdtemp(prefix="srconnect-postgres-"))
    process: subprocess.Popen[bytes] | None = None
    try:
        if drop:
            os.chown(folder, drop["user"], drop["group"])
        data = folder / "data"
        initdb = (str(bindir / "initdb"), "-D", str(data), "-U", "airflow", "-A", "trust", "-E", "UTF8", "--locale=C")
        init = subprocess.run(
            [*initdb, "--no-sync", "--no-instructions"],
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            **drop,
        )
        assert init.returncode == 0, f"initdb failed:\n{init.stdout[-2000:]}\n{init.stderr[-2000:]}"
        port = free_port()
        log = folder / "postgres.log"
        settings = ("fsync=off", "synchronous_commit=off", "full_page_writes=off", "max_connections=200")
        with log.open("wb") as out:
            process = subprocess.Popen(
                [
                    *(str(bindir / "postgres"), "-D", str(data), "-h", "127.0.0.1", "-p", str(port), "-k", ""),
                    *(arg for setting in settings for arg in ("-c", setting)),
                ],
                cwd=folder,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                **drop,
            )

        def connect() -> Any:
            return psycopg2.connect(host="127.0.0.1", port=port, user="airflow", dbname="postgres", connect_timeout=2)

        _wait(lambda: connect().close(), process, "postgres", log)
        with contextlib.closing(connect()) as admin:
            admin.autocommit = True
            with admin.cursor() as cursor:
                cursor.execute("CREATE DATABASE airflow")
        yield f"postgresql+psycopg2://airflow@127.0.0.1:{port}/airflow"
    finally:
        if process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGINT)  # fast shutdown: clients are cut off, not waited for
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=30)
            stop_process_group(process)
        shutil.rmtree(folder, ignore_errors=True)


@contextlib.contextmanager
def redis_server(folder: Path) -> Iterator[int]:
    """A private ``redis-server`` on 127.0.0.1 (no persistence); yields its port."""
    import redis

    binary = shutil.which("redis-server")
    require("redis-server", binary, "apt-get install redis-server")
    assert binary is not None
    port = free_port()
    log = folder / "redis.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            cwd=folder,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    try:
        client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=2, socket_connect_timeout=2)
        _wait(client.ping, process, "redis-server", log)
        client.close()
        yield port
    finally:
        stop_process_group(process)


def processes_of(home: Path) -> list[int]:
    """PIDs of live processes whose environment names this Airflow home (only this test starts them).

    Task processes run in process groups of their own, so a killed supervisor could leave one behind.
    """
    marker = f"AIRFLOW_HOME={home}".encode()
    pids = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            if int(entry.name) != os.getpid() and marker in (entry / "environ").read_bytes().split(b"\0"):
                pids.append(int(entry.name))
        except (OSError, ValueError):
            continue  # gone, or not ours to read
    return pids


def wait_for_http(url: str, process: subprocess.Popen[bytes], what: str, timeout: float) -> None:
    """Until ``url`` answers with any HTTP status; fail if ``process`` exits or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except urllib.error.HTTPError:
            return
        except OSError:
            assert process.poll() is None, f"{what} exited with code {process.returncode}"
            assert time.monotonic() < deadline, f"{what} did not answer on {url} within {timeout} s"
            time.sleep(0.2)


class Stack:
    """One Airflow home: its CLI, and its components (scheduler, workers, ...) as process groups of their own."""

    def __init__(self, home: Path, env: dict[str, str], cli_timeout: float) -> None:
        self.home = home
        self.env = env
        self.cli_timeout = cli_timeout
        self.airflow = str(Path(sys.executable).with_name("airflow"))
        self.components: dict[str, subprocess.Popen[bytes]] = {}

    def cli(self, *commands: tuple[str, ...]) -> list[str]:
        """Run ``airflow`` commands at the same time; fail unless each exits 0; their outputs, in order."""
        running = [
            subprocess.Popen(
                [self.airflow, *args],
                env=self.env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                stdin=subprocess.DEVNULL,
                text=True,
                start_new_session=True,
            )
            for args in commands
        ]
        outputs = []
        try:
            for args, process in zip(commands, running, strict=True):
                out, err = process.communicate(timeout=self.cli_timeout)
                assert process.returncode == 0, f"airflow {' '.join(args)}:\n{out[-2000:]}\n{err[-3000:]}"
                outputs.append(out)
        finally:
            for process in running:
                stop_process_group(process, grace=5.0)
        return outputs

    def start(self, name: str, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        """Start ``airflow *args`` as component ``name``, its output in ``<home>/<name>.log``."""
        with (self.home / f"{name}.log").open("wb") as log:
            process = subprocess.Popen(
                [self.airflow, *args],
                env={**self.env, **(env or {})},
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self.components[name] = process
        return process

    def log_tail(self, name: str, chars: int = 3000) -> str:
        path = self.home / f"{name}.log"
        return path.read_text(errors="replace")[-chars:] if path.exists() else ""

    def assert_running(self) -> None:
        """Fail with the component's log when one has exited."""
        for name, process in self.components.items():
            assert process.poll() is None, f"airflow {name} exited with {process.returncode}:\n{self.log_tail(name)}"

    def stop(self, grace: float = 30.0) -> None:
        """SIGTERM every component at once, wait up to ``grace`` s, SIGKILL what is left; then any leftover."""
        for process in self.components.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for process in self.components.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            stop_process_group(process, grace=1.0)
        for pid in processes_of(self.home):  # a task process in a session of its own
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
