"""The default contract's archive is byte-identical to the one the provider wrote before the contract became data.

The digests were taken with the code of commit a20a819 (the last release of the constants-module contract),
through the same sandbox, window and requests; any change to the default wire format or to the archive's
bytes shows here. Since then the sandbox serves some large-message ids with ``+``, ``/``, ``=``, spaces and
non-ASCII (server values are data); this test serves them as a20a819 did, all hex, so that the served
data, and so the archive, stay the same.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
from collections.abc import Iterator

import pendulum
import pytest

from airflow_provider_srconnect.export import ExportRequest, write_window
from airflow_provider_srconnect.hooks.srconnect import SRConnectHook
from airflow_provider_srconnect.sandbox import (
    DEFAULT_API_KEY,
    DEFAULT_EMAIL,
    DEFAULT_TEAM,
    SandboxConfig,
    SandboxServer,
    data,
    logfiles,
)
from airflow_provider_srconnect.windows import LogWindow

NOW = dt.datetime(2026, 3, 10, 12, tzinfo=dt.UTC)
WINDOW = LogWindow(pendulum.datetime(2026, 3, 8, tz="UTC"), pendulum.datetime(2026, 3, 9, tz="UTC"))
GOLDEN = {
    # log type, include_logs: (records, bytes, sha256)
    ("invocations", "all"): (988, 1379176, "93cc1fbf07a478bb6005244c2598c2bfb75bf952f2568abeb3a6aeef182fc36a"),
    ("audit", "none"): (145, 3839, "59506564ba595e6972400b7c35a5cf763a0b8eb3be1ca0cf9676a0faae0e1976"),
}


def hex_message_id(raw: data.RawInvocation) -> str | None:
    """The large-message id as the sandbox of a20a819 made it."""
    if raw.large_line < 0:
        return None
    return hashlib.blake2b(f"{raw.id}|{raw.large_line}".encode(), digest_size=8).hexdigest()


@pytest.fixture(scope="module")
def hook() -> Iterator[SRConnectHook]:
    config = SandboxConfig(seed=5, invocations_per_hour=40, audit_per_hour=6, rate_limit_per_second=None, now=NOW)
    with pytest.MonkeyPatch.context() as mp, SandboxServer(config, host="127.0.0.1", port=0) as server:
        mp.setattr(logfiles, "large_message_id", hex_message_id)
        conn = {
            "conn_type": "srconnect",
            "host": server.url,
            "login": DEFAULT_EMAIL,
            "password": DEFAULT_API_KEY,
            "extra": {"team_id": DEFAULT_TEAM, "rate_limit_per_second": 1000, "burst": 100},
        }
        mp.setenv("AIRFLOW_CONN_SRCONNECT_GOLDEN", json.dumps(conn))
        yield SRConnectHook(srconnect_conn_id="srconnect_golden")


@pytest.mark.parametrize(("log_type", "include_logs"), sorted(GOLDEN))
def test_default_contract_archive_bytes_are_unchanged(hook: SRConnectHook, log_type: str, include_logs: str) -> None:
    out = io.BytesIO()
    result = write_window(hook, WINDOW, ExportRequest(log_type=log_type, include_logs=include_logs), out)  # type: ignore[arg-type]
    records, size, digest = GOLDEN[(log_type, include_logs)]
    assert (result.records, result.bytes, hashlib.sha256(out.getvalue()).hexdigest()) == (records, size, digest)
