"""The export core: deterministic gzip NDJSON, log attachment, keys and manifest."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import random
import threading
import time
from typing import Any

import pendulum
import pytest

from airflow_provider_srconnect import contract
from airflow_provider_srconnect.exceptions import SRConnectLogsNotStoredError, SRConnectParamError
from airflow_provider_srconnect.export import (
    CONSOLE_LINES_KEY,
    FULL_MESSAGE_KEY,
    HTTP_ENTRIES_KEY,
    LOGS_NOT_STORED_KEY,
    Archived,
    ExportRequest,
    archive_keys,
    manifest,
    write_window,
)
from airflow_provider_srconnect.windows import LogWindow
from tests.stub_listing import ListsFromIter

F = contract.InvocationField
WINDOW = LogWindow(pendulum.datetime(2026, 11, 1, tz="UTC"), pendulum.datetime(2026, 11, 2, tz="UTC"))


class StubHook(ListsFromIter):
    """Serves fixed records and logs, with random delays so concurrency would show in the order."""

    contract = contract.DEFAULT

    def __init__(self, records: list[dict[str, Any]]) -> None:
        self.records = records
        self.log_calls: list[str] = []
        self._lock = threading.Lock()

    def iter_invocation_logs(self, start, end, **query):
        self.query = query
        return iter([dict(r) for r in self.records])

    def iter_audit_logs(self, start, end, **query):
        return iter([{"id": "a1", "date": "2026-11-01T00:00:00.000Z"}])

    def _call(self, kind: str, invocation: str) -> None:
        time.sleep(random.uniform(0, 0.003))
        with self._lock:
            self.log_calls.append(f"{kind}:{invocation}")
        if invocation == "inv-gone":
            raise SRConnectLogsNotStoredError("404")

    def get_console_logs(self, invocation):
        self._call("console", invocation)
        line = {"message": "short"}
        return (
            [line, {"message": "cut", contract.ConsoleLineField.LARGE_MESSAGE_ID: "m1"}]
            if invocation == "inv-big"
            else [line]
        )

    def get_http_logs(self, invocation):
        self._call("http", invocation)
        return [{"fetchId": 1}]

    def get_large_log_message(self, invocation, message_id):
        self._call("large", invocation)
        return "L" * 1000


def invocation(n: int, status: str = "FINISHED", console: int = 1, http: int = 1, ident: str | None = None):
    return {
        F.ID: ident or f"inv-{n}",
        F.START_TIME: f"2026-11-01T00:{n:02d}:00.000Z",
        F.EXECUTION_STATUS: status,
        F.CONSOLE_LOGS: console,
        F.HTTP_LOGS: http,
        "nested": {"b": 1, "a": "é"},
    }


def export(hook: StubHook, **request: Any) -> tuple[bytes, Any]:
    out = io.BytesIO()
    result = write_window(hook, WINDOW, ExportRequest(**request), out)  # type: ignore[arg-type]
    return out.getvalue(), result


def lines(data: bytes) -> list[dict[str, Any]]:
    return [json.loads(line) for line in gzip.decompress(data).splitlines()]


def test_output_is_gzip_ndjson_in_order_with_digest_and_size():
    records = [invocation(n) for n in range(50)]
    data, result = export(StubHook(records))

    assert lines(data) == records
    assert (result.records, result.bytes, result.sha256) == (50, len(data), hashlib.sha256(data).hexdigest())
    first = gzip.decompress(data).splitlines()[0].decode()
    assert first.startswith('{"consoleLogs":1,"executionStatus"') and '"a":"é","b":1' in first


def test_reruns_are_byte_identical():
    records = [invocation(n, "RUNTIME_ERROR") for n in range(40)]
    first, _ = export(StubHook(records), include_logs="all", log_workers=8)
    second, _ = export(StubHook(records), include_logs="all", log_workers=8)
    assert first == second


def test_failed_only_attaches_logs_to_failed_invocations_keeping_order():
    records = [invocation(n, "FUNCTION_ERROR" if n % 3 == 0 else "FINISHED") for n in range(60)]
    hook = StubHook(records)

    out = lines(export(hook, include_logs="failed", log_workers=6)[0])

    assert [r[F.ID] for r in out] == [r[F.ID] for r in records]
    with_logs = {r[F.ID] for r in out if CONSOLE_LINES_KEY in r}
    assert with_logs == {f"inv-{n}" for n in range(0, 60, 3)}
    assert all(r[HTTP_ENTRIES_KEY] == [{"fetchId": 1}] for r in out if r[F.ID] in with_logs)


def test_large_messages_are_fetched_and_zero_counts_skip_the_call():
    records = [invocation(1, ident="inv-big"), invocation(2, console=0, http=0, ident="inv-quiet")]
    hook = StubHook(records)

    big, quiet = lines(export(hook, include_logs="all")[0])

    assert big[CONSOLE_LINES_KEY][1][FULL_MESSAGE_KEY] == "L" * 1000
    assert CONSOLE_LINES_KEY not in quiet and HTTP_ENTRIES_KEY not in quiet
    assert not any("inv-quiet" in call for call in hook.log_calls)


def test_logs_not_stored_are_flagged_not_fatal():
    data, result = export(StubHook([invocation(1, "TIMED_OUT", ident="inv-gone")]), include_logs="failed")

    assert lines(data)[0][LOGS_NOT_STORED_KEY] is True and result.logs_not_stored == 1


def test_filters_reach_the_hook():
    hook = StubHook([])
    export(hook, execution_statuses=("FINISHED",), trigger_types=("MANUAL",), page_size=10)
    assert hook.query["execution_statuses"] == ("FINISHED",) and hook.query["page_size"] == 10


def test_a_window_wholly_past_retention_reads_nothing():
    window = LogWindow(WINDOW.start, WINDOW.end, served_from=WINDOW.end)
    out = io.BytesIO()
    result = write_window(StubHook([invocation(1)]), window, ExportRequest(), out)  # type: ignore[arg-type]
    assert result.records == 0 and gzip.decompress(out.getvalue()) == b""


@pytest.mark.parametrize(
    ("kwargs", "param"),
    [
        ({"log_type": "console"}, "log_type"),
        ({"include_logs": "some"}, "include_logs"),
        ({"log_type": "audit", "include_logs": "all"}, "log_type"),
        ({"log_type": "audit", "execution_statuses": ("FINISHED",)}, "log_type"),
        ({"log_workers": 0}, "log_workers"),
    ],
)
def test_bad_requests_name_the_parameter(kwargs, param):
    with pytest.raises(SRConnectParamError) as err:
        ExportRequest(**kwargs)
    assert err.value.param == param


def test_keys_follow_the_documented_layout():
    keys = archive_keys("/archive/src/", "invocations", WINDOW)

    assert keys.data == "archive/src/invocations/dt=2026-11-01/20261101T000000Z_20261102T000000Z.jsonl.gz"
    label = "dt=2026-11-01/20261101T000000Z_20261102T000000Z"
    assert keys.manifest == f"archive/src/_manifests/invocations/{label}.manifest.json"
    assert keys.staging == "archive/src/_staging/invocations/20261101T000000Z_20261102T000000Z/"
    bare = archive_keys("", "audit", WINDOW)
    assert bare.data.startswith("audit/dt=2026-11-01/") and bare.staging.startswith("_staging/audit/")
    assert bare.manifest.startswith("_manifests/audit/dt=2026-11-01/")


@pytest.mark.parametrize("prefix", ["a/../b", "..", "a//b", "a b", "a\\b"])
def test_unsafe_prefixes_are_refused(prefix):
    with pytest.raises(SRConnectParamError, match="prefix"):
        archive_keys(prefix, "invocations", WINDOW)


def test_manifest_describes_the_object():
    data, result = export(StubHook([invocation(1)]), execution_statuses=("FINISHED",))
    started = pendulum.datetime(2026, 11, 2, 1, tz="UTC")

    body = json.loads(
        manifest(
            WINDOW,
            ExportRequest(execution_statuses=("FINISHED",)),
            Archived((("s3://b/k", result),)),
            started=started,
            finished=started.add(seconds=3),
        )
    )

    assert body["sha256"] == hashlib.sha256(data).hexdigest() and body["records"] == 1
    assert body["bytes"] == len(data) and body["dataObject"] == "s3://b/k"
    assert body["filters"] == {"executionStatuses": ["FINISHED"]}
    assert body["window"]["start"] == "2026-11-01T00:00:00+00:00" and body["retention"] is None
    assert body["contractVersion"] == contract.CONTRACT_VERSION
