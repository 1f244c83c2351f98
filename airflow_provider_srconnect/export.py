"""The export core: one window of SRC logs streamed into gzip NDJSON, with its keys and manifest.

Destination-agnostic: it writes into any binary file object and leaves publishing to the
``publish`` module. Memory stays flat (one page, plus one batch of log fetches, at a time) and
the output is deterministic: the same records give byte-identical data. ``write_window`` writes
one gzip member; a window exported in sub-windows is their members concatenated (valid gzip).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import itertools
import json
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any, Literal

from airflow_provider_srconnect import __version__, contract
from airflow_provider_srconnect.exceptions import SRConnectLogsNotStoredError, SRConnectParamError

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    import pendulum

    from airflow_provider_srconnect.hooks.srconnect import SRConnectHook
    from airflow_provider_srconnect.windows import LogWindow

LogType = Literal["invocations", "audit"]
IncludeLogs = Literal["none", "failed", "all"]
LOG_TYPES: tuple[LogType, ...] = ("invocations", "audit")
INCLUDE_LOGS: tuple[IncludeLogs, ...] = ("none", "failed", "all")
DATA_SUFFIX = ".jsonl.gz"
MANIFEST_SUFFIX = ".manifest.json"
#: The folder of staging objects under the prefix.
STAGING_DIR = "_staging"
#: Keys the export adds to an invocation record when it attaches its logs.
CONSOLE_LINES_KEY = "_consoleLogLines"
HTTP_ENTRIES_KEY = "_httpLogEntries"
FULL_MESSAGE_KEY = "_fullMessage"
LOGS_NOT_STORED_KEY = "_logsNotStored"
#: Invocations whose logs are fetched one batch at a time, concurrently within the hook's budget.
LOG_BATCH = 32
_PREFIX = re.compile(r"^[A-Za-z0-9!_.*'()/{}=-]*$")


@dataclass(frozen=True)
class ExportRequest:
    """What to export from a window; checked on creation, before any request."""

    log_type: LogType = "invocations"
    include_logs: IncludeLogs = "none"
    execution_statuses: tuple[str, ...] | None = None
    trigger_types: tuple[str, ...] | None = None
    team_id: str | None = None
    page_size: int = contract.PAGE_SIZE_DEFAULT
    log_workers: int = 4

    def __post_init__(self) -> None:
        if self.log_type not in LOG_TYPES:
            raise SRConnectParamError("log_type", f"unknown value {self.log_type!r}", "Use 'invocations' or 'audit'.")
        if self.include_logs not in INCLUDE_LOGS:
            raise SRConnectParamError(
                "include_logs", f"unknown value {self.include_logs!r}", "Use 'none', 'failed' or 'all'."
            )
        if self.log_type == "audit" and (self.execution_statuses or self.trigger_types or self.include_logs != "none"):
            raise SRConnectParamError(
                "log_type",
                "audit logs take no status/trigger filters and have no console or HTTP logs",
                "Drop those arguments, or use log_type='invocations'.",
            )
        if isinstance(self.log_workers, bool) or not isinstance(self.log_workers, int) or self.log_workers < 1:
            raise SRConnectParamError(
                "log_workers",
                f"expected a whole number of at least 1, got {self.log_workers!r}",
                "Use e.g. 4; the rate budget, not this number, bounds the request rate.",
            )

    def filters(self) -> dict[str, list[str]]:
        """The filters as the manifest records them: by their API names."""
        chosen = {
            contract.PARAM_EXECUTION_STATUSES: self.execution_statuses,
            contract.PARAM_TRIGGER_TYPES: self.trigger_types,
        }
        return {name: sorted(values) for name, values in chosen.items() if values}


@dataclass(frozen=True)
class ExportResult:
    """What an export wrote: counts and the digest of the data object."""

    records: int
    bytes: int
    sha256: str
    logs_not_stored: int


@dataclass(frozen=True)
class ArchiveKeys:
    """Where a window's data object and manifest go, relative to the bucket or folder.

    ``staging`` is the key prefix (ending in ``/``) of the temporary objects of a resumable export,
    outside the archive's own listing.
    """

    data: str
    manifest: str
    staging: str


def archive_keys(prefix: str, log_type: str, window: LogWindow) -> ArchiveKeys:
    """Deterministic keys: ``{prefix}/{log_type}/dt=YYYY-MM-DD/{start}_{end}.jsonl.gz`` and its manifest.

    The date partition is the window's start day (UTC), so a rerun of a window writes the same keys.
    Staging objects go under ``{prefix}/_staging/{log_type}/{start}_{end}/``: one prefix for a
    lifecycle rule, and a leading ``_`` that Hive-style readers skip.
    """
    clean = prefix.strip("/")
    if not _PREFIX.match(clean) or ".." in clean.split("/") or "//" in clean:
        raise SRConnectParamError(
            "prefix",
            f"{prefix!r} is not a safe key prefix",
            "Use letters, digits and '/', '-', '_', '.', '=' without '..' or '//'.",
        )
    stem = "/".join(
        part for part in (clean, log_type, f"dt={window.start.format('YYYY-MM-DD')}", window.label()) if part
    )
    staging = "/".join(part for part in (clean, STAGING_DIR, log_type, window.label()) if part)
    return ArchiveKeys(stem + DATA_SUFFIX, stem + MANIFEST_SUFFIX, staging + "/")


class DigestWriter(io.RawIOBase):
    """Passes bytes through to ``target`` while counting and hashing them."""

    def __init__(self, target: IO[bytes]) -> None:
        self._target = target
        self.sha256 = hashlib.sha256()
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        view = memoryview(data)
        self._target.write(view)
        self.sha256.update(view)
        self.size += view.nbytes
        return view.nbytes


def _records(hook: SRConnectHook, window: LogWindow, request: ExportRequest) -> Iterator[dict[str, Any]]:
    if window.fetch_start >= window.end:
        return iter(())
    if request.log_type == "audit":
        return hook.iter_audit_logs(
            window.fetch_start, window.end, team_id=request.team_id, page_size=request.page_size
        )
    return hook.iter_invocation_logs(
        window.fetch_start,
        window.end,
        team_id=request.team_id,
        execution_statuses=request.execution_statuses,
        trigger_types=request.trigger_types,
        page_size=request.page_size,
    )


def _wants_logs(record: dict[str, Any], include_logs: IncludeLogs) -> bool:
    if include_logs == "none":
        return False
    return include_logs == "all" or record.get(contract.InvocationField.EXECUTION_STATUS) in contract.FAILED_STATUSES


def _with_logs(hook: SRConnectHook, record: dict[str, Any]) -> dict[str, Any]:
    """The record with its console lines (large messages in full) and HTTP entries attached."""
    invocation = str(record[contract.InvocationField.ID])
    extra: dict[str, Any] = {}
    try:
        if record.get(contract.InvocationField.CONSOLE_LOGS) != 0:
            lines = hook.get_console_logs(invocation)
            for line in lines:
                if line.get(contract.LARGE_MESSAGE_ID_FIELD):
                    line[FULL_MESSAGE_KEY] = hook.get_large_log_message(
                        invocation, line[contract.LARGE_MESSAGE_ID_FIELD]
                    )
            extra[CONSOLE_LINES_KEY] = lines
        if record.get(contract.InvocationField.HTTP_LOGS) != 0:
            extra[HTTP_ENTRIES_KEY] = hook.get_http_logs(invocation)
    except SRConnectLogsNotStoredError:
        extra = {LOGS_NOT_STORED_KEY: True}
    return {**record, **extra}


def _attach_logs(
    hook: SRConnectHook, records: Iterable[dict[str, Any]], request: ExportRequest
) -> Iterator[dict[str, Any]]:
    """Records in their order, with logs fetched concurrently one batch at a time."""
    if request.include_logs == "none":
        yield from records
        return

    def one(record: dict[str, Any]) -> dict[str, Any]:
        return _with_logs(hook, record) if _wants_logs(record, request.include_logs) else record

    iterator = iter(records)
    with ThreadPoolExecutor(request.log_workers, thread_name_prefix="srconnect-logs") as pool:
        while batch := list(itertools.islice(iterator, LOG_BATCH)):
            yield from pool.map(one, batch)


#: The one encoder of every record (``json.dumps`` with options builds a new encoder per call).
_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)
#: Encoded lines go to gzip in blocks of about this many characters, not one ``write`` per record
#: (``GzipFile`` buffers nothing before Python 3.12). zlib's output does not depend on how its
#: input is split, so the bytes are the same.
WRITE_BLOCK = 1 << 16


def encode_record(record: dict[str, Any]) -> bytes:
    """One NDJSON line: keys sorted, compact, UTF-8; the same record always gives the same bytes."""
    return (_ENCODER.encode(record) + "\n").encode()


def _block(lines: list[str]) -> bytes:
    """Lines from ``_ENCODER`` as NDJSON bytes: the same as their ``encode_record`` joined."""
    lines.append("")
    return "\n".join(lines).encode()


def write_window(hook: SRConnectHook, window: LogWindow, request: ExportRequest, out: IO[bytes]) -> ExportResult:
    """Stream the window's records into ``out`` as gzip NDJSON; return counts and the sha256."""
    digest = DigestWriter(out)
    records = not_stored = pending = 0
    lines: list[str] = []
    encode = _ENCODER.encode
    # mtime=0 and no file name keep the gzip header, and so the whole object, deterministic.
    with gzip.GzipFile(filename="", mode="wb", fileobj=digest, mtime=0) as archive:
        for record in _attach_logs(hook, _records(hook, window, request), request):
            line = encode(record)
            lines.append(line)
            pending += len(line)
            records += 1
            not_stored += bool(record.get(LOGS_NOT_STORED_KEY))
            if pending >= WRITE_BLOCK:
                archive.write(_block(lines))
                lines, pending = [], 0
        if lines:
            archive.write(_block(lines))
    return ExportResult(records, digest.size, digest.sha256.hexdigest(), not_stored)


def manifest(
    window: LogWindow,
    request: ExportRequest,
    result: ExportResult,
    *,
    data_uri: str,
    started: pendulum.DateTime,
    finished: pendulum.DateTime,
) -> bytes:
    """The manifest object, written after the data object it describes."""
    body = {
        "dataObject": data_uri,
        "window": {
            "start": window.start.isoformat(),
            "end": window.end.isoformat(),
            "servedFrom": window.fetch_start.isoformat(),
        },
        "logType": request.log_type,
        "filters": request.filters(),
        "includeLogs": request.include_logs,
        "records": result.records,
        "logsNotStored": result.logs_not_stored,
        "bytes": result.bytes,
        "sha256": result.sha256,
        "format": "jsonl.gz",
        "providerVersion": __version__,
        "contractVersion": contract.CONTRACT_VERSION,
        "startedAt": started.isoformat(),
        "finishedAt": finished.isoformat(),
        "retention": window.retention_note,
    }
    return json.dumps(body, indent=2, sort_keys=True).encode() + b"\n"
