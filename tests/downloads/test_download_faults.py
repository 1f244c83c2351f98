"""Real exports against the sandbox's download faults: the archive equals the ground truth, or the task fails.

Each download fault (``Faults.download_*_rate``) at a high rate, under the three contracts (so for
presigned downloads and for files served ``inline``), for log files and large messages alike. Every
archived console line, HTTP entry and large message must equal ``server.ground_truth.logs(...)``; when
the fault never lets a whole file through, the export raises the typed, retryable error. Never a
shorter or different value. Retry waits are recorded, not slept (``sleeps``).
"""

from __future__ import annotations

import gzip
import io
import json
from typing import Any

import pytest

from airflow_provider_srconnect.exceptions import SRConnectDownloadError
from airflow_provider_srconnect.export import (
    CONSOLE_LINES_KEY,
    FULL_MESSAGE_KEY,
    HTTP_ENTRIES_KEY,
    ExportRequest,
    write_window,
)
from airflow_provider_srconnect.sandbox import DEFAULT_TEAM, SandboxServer
from airflow_provider_srconnect.sandbox.faults import DOWNLOAD_FAULTS
from tests.downloads.conftest import CONTRACTS, PATIENT, WINDOW

ADDED = (CONSOLE_LINES_KEY, HTTP_ENTRIES_KEY)
#: Faults a whole file survives (the ETag is no MD5 of it, or the encoding is undone): every download.
HARMLESS = ("wrong_etag", "kms_etag", "gzip")
#: Faults that spoil the file: half the downloads, then every one.
SPOILING = ("html", "truncate")


def fired(server: SandboxServer, fault: str) -> int:
    return server.stats.faults.get(f"file:{fault}", 0)


def archived(out: io.BytesIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in gzip.decompress(out.getvalue()).splitlines()]


def export(hook: Any) -> tuple[list[dict[str, Any]], Any]:
    out = io.BytesIO()
    result = write_window(hook, WINDOW, ExportRequest(include_logs="all", log_workers=4), out)
    return archived(out), result


def assert_is_the_ground_truth(server: SandboxServer, records: list[dict[str, Any]]) -> None:
    """Every record, console line, HTTP entry and large message as the sandbox holds it."""
    truth = server.ground_truth
    ids = truth.contract.records.invocation.id
    expected = truth.invocations(DEFAULT_TEAM, WINDOW.start, WINDOW.end)
    assert [r[ids] for r in records] == [r[ids] for r in expected]
    large_messages = 0
    for record, wanted in zip(records, expected, strict=True):
        assert {k: v for k, v in record.items() if k not in ADDED} == wanted
        logs = truth.logs(DEFAULT_TEAM, record[ids])
        assert logs.stored
        console = [dict(line) for line in logs.console]
        if logs.large_message_line is not None:
            console[logs.large_message_line][FULL_MESSAGE_KEY] = logs.large_message
            large_messages += 1
        assert record.get(CONSOLE_LINES_KEY, []) == console
        assert record.get(HTTP_ENTRIES_KEY, []) == logs.http
    assert large_messages >= 3, "a window without large messages would prove little"


@CONTRACTS
@pytest.mark.parametrize("fault", HARMLESS)
def test_files_that_survive_the_fault_are_archived_as_they_are(sandbox, sleeps, contract_name, fault):
    server, hook = sandbox(contract_name, **PATIENT)
    setattr(server.faults, f"download_{fault}_rate", 1.0)

    records, _ = export(hook)

    assert fired(server, fault) >= 10
    assert_is_the_ground_truth(server, records)


@CONTRACTS
@pytest.mark.parametrize("fault", SPOILING)
def test_spoiled_files_are_downloaded_again_until_whole(sandbox, sleeps, contract_name, fault):
    server, hook = sandbox(contract_name, **PATIENT)
    server.faults.fault_seed = 5
    setattr(server.faults, f"download_{fault}_rate", 0.5)

    records, _ = export(hook)

    assert fired(server, fault) >= 10
    assert_is_the_ground_truth(server, records)


@CONTRACTS
@pytest.mark.parametrize("fault", SPOILING)
def test_files_spoiled_on_every_download_fail_the_export_with_a_typed_retryable_error(
    sandbox, sleeps, contract_name, fault
):
    server, hook = sandbox(contract_name, max_retries=3)
    setattr(server.faults, f"download_{fault}_rate", 1.0)

    with pytest.raises(SRConnectDownloadError, match=r"of invocation .*gave up after 4 attempts") as raised:
        export(hook)

    assert raised.value.retryable
    assert fired(server, fault) >= 4


@CONTRACTS
def test_every_download_fault_at_once_still_gives_the_ground_truth(sandbox, sleeps, contract_name):
    server, hook = sandbox(contract_name, **PATIENT)
    server.faults.fault_seed = 11
    for fault in DOWNLOAD_FAULTS:
        setattr(server.faults, f"download_{fault}_rate", 0.25)
    server.faults.truncate_rate = server.faults.reset_rate = 0.1  # the older body faults too

    records, _ = export(hook)

    assert all(fired(server, fault) >= 1 for fault in DOWNLOAD_FAULTS)
    assert_is_the_ground_truth(server, records)
