"""The fault matrix: each fault of the sandbox, met by a real export to S3, and what the user gets.

Every case ends one of two ways: recovered (the archive equals the sandbox's ground truth for the
window, manifest included) or a typed error with nothing written (a permanent error fails the task
at once; a retryable one is raised for Airflow's retries). Time-based faults (429 storms, slow
responses, a restart) run on real time with short storms; the others record retry waits instead of
sleeping (``sleeps``). The fault table in docs/troubleshooting.md is this file, case by case.
"""

from __future__ import annotations

import threading
import time

import pytest

from airflow_provider_srconnect.exceptions import (
    SRConnectAuthError,
    SRConnectContractError,
    SRConnectDownloadError,
    SRConnectDownloadExpiredError,
    SRConnectRateLimitError,
    SRConnectServerError,
    SRConnectTransportError,
)
from airflow_provider_srconnect.sandbox import DEFAULT_API_KEY, DEFAULT_EMAIL, SandboxServer
from tests.conftest import fails_task_with
from tests.faults.conftest import Matrix, fired, sandbox_config

WITH_AND_WITHOUT_LOGS = pytest.mark.parametrize("include_logs", ["none", "all"])
#: Retries for faults drawn at random: enough that a fetch fails for good about once in 10^8. An attempt of
#: a log fetch is two requests (the log endpoint, then the download): at a rate of 0.5 it fails 3 times in 4.
PATIENT = {"max_retries": 64, "max_retry_wait": 3600}


# --- 429 storms (real time) -----------------------------------------------------------------------


def test_a_429_storm_longer_than_its_retry_after_is_ridden_out(matrix: Matrix) -> None:
    matrix.server.faults.storm_retry_after = 1
    matrix.server.faults.throttle_for(2.5)

    xcom = matrix.export()

    assert fired(matrix.server, "storm") >= 2, "one wait of Retry-After was not enough"
    matrix.assert_recovered(xcom)


def test_a_429_storm_that_says_retry_at_once_is_backed_off(matrix: Matrix) -> None:
    matrix.connect(max_retries=12)
    matrix.server.faults.storm_retry_after = 0
    matrix.server.faults.throttle_for(1.5)

    xcom = matrix.export()

    assert fired(matrix.server, "storm") >= 1
    matrix.assert_recovered(xcom)


def test_a_429_storm_beyond_the_retry_budget_is_retryable_and_writes_nothing(matrix: Matrix) -> None:
    matrix.connect(max_retries=2, max_retry_wait=4)  # a 429 is no failed attempt: the total wait ends it
    matrix.server.faults.storm_retry_after = 1
    matrix.server.faults.throttle_for(60)

    with pytest.raises(SRConnectRateLimitError, match="gave up after"):
        matrix.export()

    matrix.assert_nothing_written()


# --- 5xx -------------------------------------------------------------------------------------------


@WITH_AND_WITHOUT_LOGS
def test_5xx_on_half_the_requests_are_retried_to_a_complete_archive(
    matrix: Matrix, sleeps: list[float], include_logs: str
) -> None:
    matrix.connect(**PATIENT)
    matrix.server.faults.error_rate, matrix.server.faults.fault_seed = 0.5, 4  # all four within 4 pages

    xcom = matrix.export(include_logs)  # type: ignore[arg-type]

    assert {500, 502, 503, 504} <= set(matrix.server.stats.by_status)
    assert include_logs == "none" or fired(matrix.server, "download:error") >= 1
    matrix.assert_recovered(xcom, include_logs)  # type: ignore[arg-type]


def test_5xx_that_outlast_the_retries_are_retryable_and_write_nothing(matrix: Matrix, sleeps: list[float]) -> None:
    matrix.connect(max_retries=3)
    matrix.server.faults.error_rate = 1.0

    with pytest.raises(SRConnectServerError, match="gave up after 4 attempts"):
        matrix.export()

    matrix.assert_nothing_written()


# --- Broken bodies ---------------------------------------------------------------------------------


@pytest.mark.parametrize("fault", ["reset", "truncate", "malformed"])
@WITH_AND_WITHOUT_LOGS
def test_broken_bodies_are_fetched_again_to_a_complete_archive(
    matrix: Matrix, sleeps: list[float], fault: str, include_logs: str
) -> None:
    matrix.connect(**PATIENT)
    setattr(matrix.server.faults, f"{fault}_rate", 0.3)
    matrix.server.faults.fault_seed = 2  # fires by the 3rd page

    xcom = matrix.export(include_logs)  # type: ignore[arg-type]

    assert fired(matrix.server, fault) >= 1
    assert include_logs == "none" or fired(matrix.server, f"download:{fault}") >= 1
    matrix.assert_recovered(xcom, include_logs)  # type: ignore[arg-type]


def test_a_page_without_the_items_field_fails_the_task_and_writes_nothing(matrix: Matrix, sleeps: list[float]) -> None:
    matrix.server.faults.missing_field_rate, matrix.server.faults.fault_seed = 0.3, 0  # the 4th page

    with fails_task_with(SRConnectContractError, match="'items'"):
        matrix.export()

    assert fired(matrix.server, "missing") == 1 and matrix.server.stats.by_status[200] >= 2
    matrix.assert_nothing_written()


# --- Slow responses (real time) --------------------------------------------------------------------


@WITH_AND_WITHOUT_LOGS
def test_responses_slower_than_the_timeout_are_retried_to_a_complete_archive(matrix: Matrix, include_logs: str) -> None:
    matrix.connect(timeout=0.5)
    faults = matrix.server.faults
    faults.slow_seconds, faults.fault_seed = 1.5, 3
    faults.slow_rate = 0.3 if include_logs == "none" else 0.05

    xcom = matrix.export(include_logs)  # type: ignore[arg-type]

    assert fired(matrix.server, "slow") >= 1  # downloads draw from the same odds, so may or may not be hit
    matrix.assert_recovered(xcom, include_logs)  # type: ignore[arg-type]


def test_a_server_always_slower_than_the_timeout_is_retryable_and_writes_nothing(matrix: Matrix) -> None:
    matrix.connect(timeout=0.5, max_retries=2)
    matrix.server.faults.slow_rate, matrix.server.faults.slow_seconds = 1.0, 1.5

    with pytest.raises(SRConnectTransportError, match="Timeout"):
        matrix.export()

    matrix.assert_nothing_written()


# --- Download URLs ---------------------------------------------------------------------------------


def test_expired_download_urls_are_replaced_by_fresh_ones(matrix: Matrix, sleeps: list[float]) -> None:
    matrix.connect(**PATIENT)
    matrix.server.faults.expired_url_rate, matrix.server.faults.fault_seed = 0.5, 4

    xcom = matrix.export("all")

    assert fired(matrix.server, "expired_url") >= 1
    matrix.assert_recovered(xcom, "all")


def test_download_urls_that_are_always_expired_are_retryable_and_write_nothing(
    matrix: Matrix, sleeps: list[float]
) -> None:
    matrix.connect(max_retries=3)
    matrix.server.faults.expired_url_rate = 1.0

    with pytest.raises(SRConnectDownloadExpiredError, match="refused"):
        matrix.export("all")

    matrix.assert_nothing_written()


# --- Damaged downloads -----------------------------------------------------------------------------


@pytest.mark.parametrize("fault", ["html", "truncate", "wrong_etag", "kms_etag", "gzip"])
def test_damaged_and_encoded_downloads_are_verified_to_a_complete_archive(
    matrix: Matrix, sleeps: list[float], fault: str
) -> None:
    matrix.connect(**PATIENT)
    setattr(matrix.server.faults, f"download_{fault}_rate", 0.5)
    matrix.server.faults.fault_seed = 2

    xcom = matrix.export("all")

    assert fired(matrix.server, f"file:{fault}") >= 1
    matrix.assert_recovered(xcom, "all")


@pytest.mark.parametrize("fault", ["html", "truncate"])
def test_downloads_damaged_every_time_are_retryable_and_write_nothing(
    matrix: Matrix, sleeps: list[float], fault: str
) -> None:
    matrix.connect(max_retries=3)
    setattr(matrix.server.faults, f"download_{fault}_rate", 1.0)

    with pytest.raises(SRConnectDownloadError, match="gave up after 4 attempts"):
        matrix.export("all")

    matrix.assert_nothing_written()


# --- The key and the server ------------------------------------------------------------------------


@WITH_AND_WITHOUT_LOGS
def test_a_key_revoked_mid_window_fails_the_task_and_writes_nothing(matrix: Matrix, include_logs: str) -> None:
    matrix.server.faults.revoke(DEFAULT_EMAIL, after=2)

    with fails_task_with(SRConnectAuthError, match="401") as raised:
        matrix.export(include_logs)  # type: ignore[arg-type]

    assert matrix.server.stats.by_status[200] == 2 and fired(matrix.server, "revoked") >= 1
    assert DEFAULT_API_KEY not in str(raised.value)
    matrix.assert_nothing_written()


@WITH_AND_WITHOUT_LOGS
def test_a_sandbox_restarted_mid_window_is_recovered(matrix: Matrix, include_logs: str) -> None:
    matrix.server.stop()
    # 100 ms a request: the old server serves the first page or two, never the whole window (4+ pages).
    old = matrix.server = SandboxServer(sandbox_config(latency_ms=100)).start()
    matrix.connect()
    new: list[SandboxServer] = []

    def restart() -> None:
        deadline = time.monotonic() + 30
        while old.stats.requests_total < 1 and time.monotonic() < deadline:
            time.sleep(0.005)
        old.stop()
        time.sleep(0.2)  # down for a moment: requests meet a refused connection
        new.append(SandboxServer(sandbox_config(), port=old.port).start())

    restarter = threading.Thread(target=restart, name="restart-sandbox")
    restarter.start()
    try:
        xcom = matrix.export(include_logs)  # type: ignore[arg-type]
    finally:
        restarter.join(timeout=35)
        if new:
            matrix.server = new[0]  # the fixture stops it

    assert new and new[0].url == old.url and new[0].stats.requests_total >= 1, "not restarted mid-window"
    matrix.assert_recovered(xcom, include_logs)  # type: ignore[arg-type]
