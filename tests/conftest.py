"""Test environment: an isolated Airflow home, set up before anything imports Airflow.

Airflow reads its configuration when first imported, so the environment below is set when pytest
loads this file, before any test module is collected. Subprocesses (``airflow`` CLI, servers) inherit it.
Unit tests need no database; a test that does asks for the ``airflow_db`` fixture.
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import importlib.metadata
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
#: The Airflow line under test (read from the installed distribution, without importing Airflow).
AIRFLOW_3 = int(importlib.metadata.version("apache-airflow").split(".")[0]) >= 3
AIRFLOW_HOME = tempfile.mkdtemp(prefix="srconnect-airflow-home-")
atexit.register(shutil.rmtree, AIRFLOW_HOME, ignore_errors=True)

for _name in [n for n in os.environ if n.startswith("AIRFLOW_CONN_")]:
    del os.environ[_name]  # only connections a test defines itself
for _name in ("AWS_PROFILE", "GOOGLE_APPLICATION_CREDENTIALS"):
    os.environ.pop(_name, None)  # never reach for a developer's real cloud credentials
os.environ.update(
    AIRFLOW_HOME=AIRFLOW_HOME,
    AIRFLOW__CORE__LOAD_EXAMPLES="False",
    AIRFLOW__CORE__UNIT_TEST_MODE="True",
    AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{AIRFLOW_HOME}/airflow.db",
    AIRFLOW__CORE__DAGS_FOLDER=str(REPO_ROOT / "example_dags"),
    # Unit-test mode otherwise draws a new Fernet key in every process, so an `airflow` subprocess
    # could not read connections that this process (or another subprocess) stored.
    AIRFLOW__CORE__FERNET_KEY=base64.urlsafe_b64encode(os.urandom(32)).decode(),
    AWS_EC2_METADATA_DISABLED="true",
    NO_GCE_CHECK="True",
    AWS_ACCESS_KEY_ID="testing",
    AWS_SECRET_ACCESS_KEY="testing",
    AWS_DEFAULT_REGION="us-east-1",
)
if not AIRFLOW_3:
    # Airflow 2's unit-test mode defaults to LocalExecutor, which refuses SQLite (Airflow 3 allows it).
    os.environ["AIRFLOW__CORE__EXECUTOR"] = "SequentialExecutor"


def stop_process_group(process: subprocess.Popen[Any], grace: float = 10.0) -> None:
    """SIGTERM the process group of ``process`` (started with ``start_new_session=True``), then SIGKILL it."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            break
        try:
            process.wait(timeout=wait)
            break
        except subprocess.TimeoutExpired:
            continue


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that is free right now (a server started next will likely get it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def airflow_db() -> Iterator[str]:
    """A freshly reset Airflow metadata DB (SQLite in the temp home); yields its URL. About 1 s, once."""
    from airflow.utils import db

    db.resetdb()
    yield os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]


class _Raised:
    """What ``fails_task_with`` yields: ``value`` is the typed error once the block has run."""

    value: BaseException | None = None


@contextlib.contextmanager
def fails_task_with(error_type: type[BaseException], match: str | None = None) -> Iterator[_Raised]:
    """Expect the task to fail at once (``AirflowFailException``, no retries) with ``error_type`` as the cause."""
    from airflow.providers.common.compat.sdk import AirflowFailException

    raised = _Raised()
    with pytest.raises(AirflowFailException) as info:
        yield raised
    raised.value = info.value.__cause__
    assert isinstance(raised.value, error_type), f"the cause is {raised.value!r}, not a {error_type.__name__}"
    if match:
        assert re.search(match, str(raised.value)), f"{match!r} not in {raised.value}"
