"""A real Airflow 3 UI for the browser tests: the sandbox, the API server and headless Chromium, all on 127.0.0.1.

- the API server runs in its own ``AIRFLOW_HOME`` with a freshly migrated SQLite DB (not the test
  session's DB), SimpleAuthManager with every user an admin (no login page) and "Test connection" on;
- Chromium is Debian's (``/usr/bin/chromium``, or ``SRCONNECT_CHROMIUM``) driven by Playwright, with a
  new empty profile; every request that is not to 127.0.0.1 is aborted;
- the tests skip where Chromium or Playwright is missing, except in CI (``CI`` set), where ``.ci/run``
  installs Chromium and a missing one fails.

Every wait is bounded: server start-up, each browser action and each subprocess have a timeout.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from airflow_provider_srconnect.sandbox import SandboxConfig, SandboxServer
from tests.conftest import free_port, stop_process_group

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, Page, ViewportSize

#: Seconds for ``airflow db migrate`` on a fresh SQLite DB (about 5 s on an idle machine).
MIGRATE_TIMEOUT = 180.0
#: Seconds the API server may take to answer its health check (about 10 s on an idle machine).
API_SERVER_STARTUP_TIMEOUT = 120.0
#: Milliseconds any one browser action or expectation may take.
BROWSER_ACTION_TIMEOUT_MS = 20_000
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    # Without these, Chromium's background requests misbehave on a closed network.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # Resolve no host name: the UI is addressed as 127.0.0.1 (belt and braces with the route filter).
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
]
#: Big enough for the whole add-connection dialog with its extra fields open.
VIEWPORT: ViewportSize = {"width": 1100, "height": 1700}


def _require(found: bool, what: str, install: str) -> None:
    if found:
        return
    if os.environ.get("CI"):
        pytest.fail(f"{what} is missing in CI: .ci/run installs it ({install})")
    pytest.skip(f"{what} is not available here ({install}); CI installs it")


@pytest.fixture(scope="session", autouse=True)
def chromium_executable() -> str:
    """Debian's Chromium and the Python Playwright package; checked before any server starts."""
    _require(importlib.util.find_spec("playwright") is not None, "Python playwright", "pip install playwright")
    path = os.environ.get("SRCONNECT_CHROMIUM") or "/usr/bin/chromium"
    _require(
        os.path.isfile(path) and os.access(path, os.X_OK),
        f"Chromium at {path} (SRCONNECT_CHROMIUM overrides the path)",
        "apt-get install --no-install-recommends chromium",
    )
    return path


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxServer]:
    """The SRC sandbox with its default user, team and rate limit."""
    server = SandboxServer(SandboxConfig(), host="127.0.0.1", port=0).start()
    try:
        yield server
    finally:
        server.stop()


@dataclass(frozen=True)
class AirflowUI:
    """A running API server: its URL, and the environment that reaches its DB."""

    url: str
    env: dict[str, str]
    log: Path

    def log_tail(self, lines: int = 40) -> str:
        """The end of the server's log, for failure messages."""
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def run_python(self, code: str, *args: str, timeout: float = 120.0) -> str:
        """Run ``code`` in a new Python process against the server's DB, as a server-side process does."""
        env = {**self.env, "_AIRFLOW_PROCESS_CONTEXT": "server"}  # read connections from the metastore
        done = subprocess.run(
            [sys.executable, "-c", code, *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        assert done.returncode == 0, f"exit {done.returncode}\n{done.stdout}\n{done.stderr[-4000:]}"
        return done.stdout


def _server_env(home: Path, port: int) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("AIRFLOW_CONN_")}
    env.update(
        AIRFLOW_HOME=str(home),
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{home}/airflow.db",
        AIRFLOW__CORE__DAGS_FOLDER=str(home / "dags"),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__CORE__UNIT_TEST_MODE="False",
        AIRFLOW__CORE__AUTH_MANAGER="airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
        AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS="True",
        AIRFLOW__CORE__TEST_CONNECTION="Enabled",
        AIRFLOW__API__HOST="127.0.0.1",
        AIRFLOW__API__PORT=str(port),
        AIRFLOW__API__WORKERS="1",
        PYTHONUNBUFFERED="1",
    )
    # AIRFLOW__CORE__FERNET_KEY comes from tests/conftest.py, so this process could decrypt what the server stores.
    return env


def _wait_for_health(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + API_SERVER_STARTUP_TIMEOUT
    while True:
        try:
            with urllib.request.urlopen(f"{url}/api/v2/monitor/health", timeout=2):
                return
        except (OSError, urllib.error.HTTPError) as error:
            if process.poll() is not None:
                raise RuntimeError(
                    f"the API server exited with code {process.returncode} before answering:\n{log.read_text()[-4000:]}"
                ) from error
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"the API server did not answer on {url} within {API_SERVER_STARTUP_TIMEOUT} s:\n"
                    f"{log.read_text()[-4000:]}"
                ) from error
        time.sleep(0.25)


@pytest.fixture(scope="module")
def airflow_ui(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AirflowUI]:
    """``airflow api-server`` on 127.0.0.1 over a freshly migrated SQLite DB; stopped (whole process group) after."""
    home = tmp_path_factory.mktemp("airflow-ui-home")
    (home / "dags").mkdir()
    port = free_port()
    env = _server_env(home, port)
    migrate = subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"],
        env=env,
        capture_output=True,
        text=True,
        timeout=MIGRATE_TIMEOUT,
        check=False,
    )
    assert migrate.returncode == 0, f"airflow db migrate failed:\n{migrate.stdout[-2000:]}\n{migrate.stderr[-4000:]}"

    log = home / "api-server.log"
    url = f"http://127.0.0.1:{port}"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "airflow", "api-server", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        _wait_for_health(url, process, log)
        yield AirflowUI(url=url, env=env, log=log)
    finally:
        stop_process_group(process)


@pytest.fixture(scope="module")
def browser_context(
    chromium_executable: str, airflow_ui: AirflowUI, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[BrowserContext]:
    """Headless Chromium with a new empty profile; requests beyond 127.0.0.1 are aborted."""
    from playwright.sync_api import Route, expect, sync_playwright

    expect.set_options(timeout=BROWSER_ACTION_TIMEOUT_MS)
    blocked: list[str] = []

    def only_local(route: Route) -> None:
        blocked.append(route.request.url)
        route.abort()

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")),
            executable_path=chromium_executable,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport=VIEWPORT,
            timeout=BROWSER_ACTION_TIMEOUT_MS * 3,
        )
        try:
            context.set_default_timeout(BROWSER_ACTION_TIMEOUT_MS)
            context.set_default_navigation_timeout(BROWSER_ACTION_TIMEOUT_MS * 2)
            context.route(lambda url: not url.startswith(("http://127.0.0.1:", "data:", "blob:")), only_local)
            yield context
        finally:
            context.close()
    if blocked:
        print(f"requests beyond 127.0.0.1 that were aborted: {blocked}")


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Keep each phase's report on the test item, so fixtures can tell whether the test failed."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


def screenshot_dirs(tmp_dir: Path) -> list[Path]:
    """Where screenshots go: the pytest tmp dir, and ``SRCONNECT_SCREENSHOT_DIR`` when set."""
    dirs = [tmp_dir]
    if extra := os.environ.get("SRCONNECT_SCREENSHOT_DIR"):
        dirs.append(Path(extra))
    for directory in dirs:
        directory.mkdir(parents=True, exist_ok=True)
    return dirs


def save_screenshot(png: bytes, name: str, tmp_dir: Path) -> list[Path]:
    """Write ``png`` as ``name`` into every screenshot directory; return the paths."""
    paths = [directory / name for directory in screenshot_dirs(tmp_dir)]
    for path in paths:
        path.write_bytes(png)
    return paths


@pytest.fixture
def page(
    browser_context: BrowserContext, airflow_ui: AirflowUI, request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Page]:
    """A new tab; on failure, a screenshot of it and the API server's log tail are kept for the report."""
    tab = browser_context.new_page()
    try:
        yield tab
    finally:
        report = getattr(request.node, "report_call", None)
        if report is not None and report.failed:
            name = f"failed-{request.node.name}.png"
            try:
                paths = save_screenshot(tab.screenshot(full_page=True), name, tmp_path)
                print(f"screenshot at failure: {', '.join(map(str, paths))}")
            except Exception as error:  # the browser may be what failed
                print(f"no screenshot at failure: {error}")
            print(f"API server log (tail):\n{airflow_ui.log_tail()}")
        tab.close()
