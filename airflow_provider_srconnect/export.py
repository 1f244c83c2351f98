"""The export core: one window of SRC logs streamed into gzip NDJSON or Parquet, with its keys and manifest.

Destination-agnostic: it writes into any binary file object and leaves publishing to the
``publish`` module. Memory stays flat (one page, plus a bounded window of log fetches, at a time) and
the output is deterministic: the same records give byte-identical data. ``write_window`` writes
one gzip member; a window exported in sub-windows is their members concatenated (valid gzip).
``write_parquet`` writes Parquet files, a new one every ``_parquet.FILE_ROW_GROUPS`` row groups.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import re
import threading
from collections import deque
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import ExitStack
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any, Literal

from airflow_provider_srconnect import __version__, _parquet, contract
from airflow_provider_srconnect._json import ENCODER as _ENCODER
from airflow_provider_srconnect._json import has_lone_surrogate
from airflow_provider_srconnect._json import utf8 as _utf8
from airflow_provider_srconnect._parquet import COMPRESSION as PARQUET_COMPRESSION
from airflow_provider_srconnect._parquet import ParquetRecordWriter, require_pyarrow, writer_version
from airflow_provider_srconnect._retry import stop_on
from airflow_provider_srconnect.exceptions import (
    SRConnectContractError,
    SRConnectLogsNotStoredError,
    SRConnectParamError,
)
from airflow_provider_srconnect.listing import Listing

# The keys the export adds to an invocation record when it attaches its logs (declared with the schema).
from airflow_provider_srconnect.schema import CONSOLE_LINES_KEY as CONSOLE_LINES_KEY
from airflow_provider_srconnect.schema import FULL_MESSAGE_KEY as FULL_MESSAGE_KEY
from airflow_provider_srconnect.schema import HTTP_ENTRIES_KEY as HTTP_ENTRIES_KEY
from airflow_provider_srconnect.schema import LOGS_NOT_STORED_KEY as LOGS_NOT_STORED_KEY
from airflow_provider_srconnect.schema import SCHEMA_VERSION

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Sequence

    import pendulum

    from airflow_provider_srconnect.hooks.srconnect import SRConnectHook
    from airflow_provider_srconnect.windows import LogWindow

LogType = Literal["invocations", "audit"]
IncludeLogs = Literal["none", "failed", "all"]
LOG_TYPES: tuple[LogType, ...] = ("invocations", "audit")
INCLUDE_LOGS: tuple[IncludeLogs, ...] = ("none", "failed", "all")
OutputFormat = Literal["jsonl.gz", "parquet"]
OUTPUT_FORMATS: tuple[OutputFormat, ...] = ("jsonl.gz", "parquet")
#: The suffix of a gzip NDJSON data object (the default format).
DATA_SUFFIX = ".jsonl.gz"
PARQUET_SUFFIX = ".parquet"
MANIFEST_SUFFIX = ".manifest.json"
#: The folders of staging objects and of manifests under the prefix, beside the log types' tables.
STAGING_DIR = "_staging"
MANIFESTS_DIR = "_manifests"
#: The most invocations held while their logs are fetched (at least twice ``log_workers``).
LOG_WINDOW = 32
_PREFIX = re.compile(r"^[A-Za-z0-9!_.*'()/{}=-]*$")


@dataclass(frozen=True)
class Format:
    """How the data object of an output format is named, typed and put together from sub-windows."""

    suffix: str
    content_type: str
    #: Whether the objects of sub-windows, concatenated, are the window's object (gzip members are):
    #: only then can finished sub-windows be staged, and a retry resume after them.
    concatenates: bool


FORMATS: dict[str, Format] = {
    "jsonl.gz": Format(DATA_SUFFIX, "application/gzip", concatenates=True),
    "parquet": Format(PARQUET_SUFFIX, "application/vnd.apache.parquet", concatenates=False),
}


@dataclass(frozen=True)
class ExportRequest:
    """What to export from a window; checked on creation, before any request."""

    log_type: LogType = "invocations"
    include_logs: IncludeLogs = "none"
    execution_statuses: tuple[str, ...] | None = None
    trigger_types: tuple[str, ...] | None = None
    team_id: str | None = None
    #: Records per API page; None: the connection's contract default.
    page_size: int | None = None
    log_workers: int = 8
    #: Threads listing time slices of the window at once (``listing``); the budget bounds the rate.
    list_workers: int = 8
    output_format: OutputFormat = "jsonl.gz"

    def __post_init__(self) -> None:
        if not isinstance(self.output_format, str) or self.output_format not in FORMATS:
            raise SRConnectParamError(
                "output_format", f"unknown value {self.output_format!r}", "Use 'jsonl.gz' or 'parquet'."
            )
        if self.output_format == "parquet":
            require_pyarrow()
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
        for name in ("log_workers", "list_workers"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise SRConnectParamError(
                    name,
                    f"expected a whole number of at least 1, got {value!r}",
                    "Use e.g. 4; the rate budget, not this number, bounds the request rate.",
                )

    def filters(self) -> dict[str, list[str]]:
        """The filters as the manifest records them: the provider's names, keyed by the provider's
        parameter names (the default contract's), whatever the connection's contract sends."""
        names = contract.DEFAULT.filters
        chosen = {
            names.execution_statuses_param: self.execution_statuses,
            names.trigger_types_param: self.trigger_types,
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
class Archived:
    """A window's published data objects, in order, by URI: one, unless a Parquet window needed several files."""

    objects: tuple[tuple[str, ExportResult], ...]

    @property
    def records(self) -> int:
        return sum(one.records for _, one in self.objects)

    @property
    def bytes(self) -> int:
        return sum(one.bytes for _, one in self.objects)

    @property
    def logs_not_stored(self) -> int:
        return sum(one.logs_not_stored for _, one in self.objects)


@dataclass(frozen=True)
class ArchiveKeys:
    """Where a window's data object and manifest go, relative to the bucket or folder.

    ``staging`` is the key prefix (ending in ``/``) of the temporary objects of a resumable export,
    outside the archive's own listing.
    """

    data: str
    manifest: str
    staging: str

    def data_file(self, index: int) -> str:
        """The key of the window's ``index``-th data object: ``data``, then ``{name}-0001{suffix}`` and on.

        Only a Parquet export of more than ``_parquet.FILE_ROW_GROUPS`` row groups writes more than one.
        """
        if index == 0:
            return self.data
        suffix = next((spec.suffix for spec in FORMATS.values() if self.data.endswith(spec.suffix)), "")
        return f"{self.data.removesuffix(suffix)}-{index:04d}{suffix}"


def archive_keys(prefix: str, log_type: str, window: LogWindow, output_format: str = "jsonl.gz") -> ArchiveKeys:
    """Deterministic keys: ``{prefix}/{log_type}/dt=YYYY-MM-DD/{start}_{end}.jsonl.gz`` and its manifest.

    The suffix is the output format's (``.jsonl.gz`` or ``.parquet``). The date partition (Hive-style,
    so the folder of a log type is a table partitioned by ``dt``) is the window's start day (UTC), so a
    rerun of a window writes the same keys. The table folder holds data objects only (Athena reads
    every object under a table's location): the manifest goes to the same relative path under
    ``{prefix}/_manifests/``, staging objects under ``{prefix}/_staging/{log_type}/{start}_{end}/``.
    """
    clean = prefix.strip("/")
    if not _PREFIX.match(clean) or ".." in clean.split("/") or "//" in clean:
        raise SRConnectParamError(
            "prefix",
            f"{prefix!r} is not a safe key prefix",
            "Use letters, digits and '/', '-', '_', '.', '=' without '..' or '//'.",
        )

    def key(*parts: str) -> str:
        return "/".join(part for part in (clean, *parts) if part)

    relative = f"{log_type}/dt={window.start.format('YYYY-MM-DD')}/{window.label()}"
    return ArchiveKeys(
        key(relative + FORMATS[output_format].suffix),
        key(MANIFESTS_DIR, relative + MANIFEST_SUFFIX),
        key(STAGING_DIR, log_type, window.label()) + "/",
    )


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


def check_listing(hook: SRConnectHook, window: LogWindow, request: ExportRequest) -> None:
    """Build the window's listing query, so that a bad parameter fails before any request is sent."""
    if window.fetch_start >= window.end:
        return
    if request.log_type == "audit":
        hook.audit_walk(window.fetch_start, window.end, team_id=request.team_id, page_size=request.page_size)
    else:
        hook.invocation_walk(
            window.fetch_start,
            window.end,
            team_id=request.team_id,
            execution_statuses=request.execution_statuses,
            trigger_types=request.trigger_types,
            page_size=request.page_size,
        )


def _failed_spellings(wire: contract.Contract) -> frozenset[str]:
    """The wire spellings of ``contract.FAILED_STATUSES`` in ``wire``."""
    return frozenset(wire.enums.statuses[name] for name in contract.FAILED_STATUSES)


def _status(record: dict[str, Any], wire: contract.Contract) -> str | None:
    """The record's status as ``wire`` spells it; None when it is not text (a server value, anything)."""
    status = record.get(wire.records.invocation.execution_status)
    return status if isinstance(status, str) else None


def _running(record: dict[str, Any], wire: contract.Contract) -> bool:
    """Whether the record is of an invocation that had not ended: the only status that is not final."""
    return _status(record, wire) == wire.enums.statuses[contract.STATUS_RUNNING]


def _wants_logs(record: dict[str, Any], include_logs: IncludeLogs, wire: contract.Contract) -> bool:
    """Whether the record's logs are archived: all, or those of failed runs (its status as ``wire`` spells it).

    With ``failed``, a run not ended (RUNNING) is wanted too: it may yet fail, and its record is flagged.
    """
    if include_logs == "none":
        return False
    status = _status(record, wire)
    return include_logs == "all" or status in _failed_spellings(wire) or _running(record, wire)


def _with_logs(hook: SRConnectHook, record: dict[str, Any]) -> dict[str, Any]:
    """The record with its console lines (large messages in full) and HTTP entries attached.

    The record and its lines are read under the hook's contract; the ids go back to SRC as they came.
    A record whose logs are not stored gets ``LOGS_NOT_STORED_KEY`` instead, whatever its log counts say:
    a run not ended (RUNNING, asked nothing: SRC stores logs when a run ends), or one SRC answers 404 for.
    An id no request can carry (none, not text, a lone surrogate) is ``SRConnectContractError``.
    """
    wire = hook.contract
    if _running(record, wire):
        return {**record, LOGS_NOT_STORED_KEY: True}
    fields = wire.records.invocation
    large = wire.log_files.console.large_message_id
    invocation = _id_text(record.get(fields.id))
    if invocation is None:
        raise _unusable_id(record, wire, f"its '{fields.id}' (the contract's records.invocation.id)")
    extra: dict[str, Any] = {}
    try:
        if record.get(fields.console_logs) != 0:
            lines = hook.get_console_logs(invocation)
            for number, line in enumerate(lines, 1):
                if isinstance(line, dict) and line.get(large):
                    message = _id_text(line[large])
                    if message is None:
                        raise _unusable_id(record, wire, f"the '{large}' of its console line {number}")
                    line[FULL_MESSAGE_KEY] = hook.get_large_log_message(invocation, message)
            extra[CONSOLE_LINES_KEY] = lines
        if record.get(fields.http_logs) != 0:
            extra[HTTP_ENTRIES_KEY] = hook.get_http_logs(invocation)
    except SRConnectLogsNotStoredError:
        extra = {LOGS_NOT_STORED_KEY: True}
    return {**record, **extra}


def _id_text(value: Any) -> str | None:
    """An id from SRC as the text of its request (a number as its digits), or None if no URL can carry it."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str) or not value or has_lone_surrogate(value):
        return None
    return value


def _unusable_id(record: dict[str, Any], wire: contract.Contract, what: str) -> SRConnectContractError:
    """The error of a record whose logs cannot be asked for: it names the record by its id and start time."""
    fields = wire.records.invocation
    named = f"{fields.id}={record.get(fields.id)!r}"[:120] + f", {fields.start_time}={record.get(fields.start_time)!r}"
    return SRConnectContractError(
        f"the invocation record ({named[:200]}) cannot have its logs fetched: {what} is not a non-empty text "
        "that a URL can carry (a lone surrogate cannot be). Archive this window with include_logs='none' "
        "(records are kept whole), or, if SRC names it under another field, set the connection extra "
        "'contract' to that field (the doctor proposes it)."
    )


#: A record in the window of ``_attach_logs``: as it came (no logs wanted) or its log fetch.
_Slot = Future[dict[str, Any]] | dict[str, Any]


def _attach_logs(
    hook: SRConnectHook, records: Iterable[dict[str, Any]], request: ExportRequest
) -> Iterator[dict[str, Any]]:
    """Records in their order, with logs fetched concurrently in a rolling window.

    At most ``max(LOG_WINDOW, 2 * log_workers)`` records are held (fetched, being fetched, or
    queued behind the oldest); each record yielded lets the next one in, so no worker waits for a
    batch to finish. The first fetch that fails for good (after the hook's retries) cancels the
    fetches not yet started and raises at once, wherever it is in the window; it also sets the stop
    flag of the fetches (``_retry.stop_on``), so the running ones send no further request and leave
    their retry waits. So does any other end of the iteration (an error, a consumer that stops).
    """
    if request.include_logs == "none":
        yield from records
        return
    wire = hook.contract
    limit = max(LOG_WINDOW, 2 * request.log_workers)
    window: deque[_Slot] = deque()
    failed: list[Future[dict[str, Any]]] = []
    stop = threading.Event()

    def fetch(record: dict[str, Any]) -> dict[str, Any]:
        with stop_on(stop):
            return _with_logs(hook, record)

    def note(future: Future[dict[str, Any]]) -> None:
        if _failed(future):
            failed.append(future)
            stop.set()

    pool = ThreadPoolExecutor(request.log_workers, thread_name_prefix="srconnect-logs")
    try:
        for record in records:
            if _wants_logs(record, request.include_logs, wire):
                future = pool.submit(fetch, record)
                future.add_done_callback(note)
                window.append(future)
            else:
                window.append(record)
            while window and (len(window) >= limit or failed or _done(window[0])):
                yield _oldest(window, failed)
        while window:
            yield _oldest(window, failed)
    finally:
        # Fetches not started are dropped; running ones end at their next request or retry wait, unwaited.
        stop.set()
        pool.shutdown(wait=False, cancel_futures=True)


def _failed(future: Future[dict[str, Any]]) -> bool:
    return future.done() and not future.cancelled() and future.exception() is not None


def _done(slot: _Slot) -> bool:
    return not isinstance(slot, Future) or slot.done()


def _oldest(window: deque[_Slot], failed: list[Future[dict[str, Any]]]) -> dict[str, Any]:
    """Pop the oldest record once its logs are in; raise the first failure anywhere in the window.

    The first: fetches stopped by it (``SRConnectCancelledError``) fail after it, and it is in ``failed``
    before any of them is.
    """
    head = window[0]
    while not _done(head) and not failed:
        running = [slot for slot in window if isinstance(slot, Future) and not slot.done()]
        done, _ = wait(running, return_when=FIRST_COMPLETED)
        for future in done:
            if _failed(future):  # its callback may not have run yet
                (failed[0] if failed else future).result()
    if failed:
        failed[0].result()
    window.popleft()
    return head.result() if isinstance(head, Future) else head


#: Encoded lines go to gzip in blocks of about this many characters, not one ``write`` per record
#: (``GzipFile`` buffers nothing before Python 3.12). zlib's output does not depend on how its
#: input is split, so the bytes are the same.
WRITE_BLOCK = 1 << 16


def encode_record(record: dict[str, Any]) -> bytes:
    """One NDJSON line: keys sorted, compact, UTF-8; the same record always gives the same bytes.

    A lone surrogate (``"\\ud800"``, which no UTF-8 text holds) is written as that JSON escape (``_json.utf8``).
    """
    return _utf8(_ENCODER.encode(record) + "\n")


def _block(lines: list[str]) -> bytes:
    """Lines from ``_ENCODER`` as NDJSON bytes: the same as their ``encode_record`` joined."""
    lines.append("")
    return _utf8("\n".join(lines))


def write_window(
    hook: SRConnectHook,
    window: LogWindow,
    request: ExportRequest,
    out: IO[bytes],
    listed: Iterable[dict[str, Any]] | None = None,
) -> ExportResult:
    """Stream the window's records into ``out`` as one gzip NDJSON member; return counts and the sha256.

    :param listed: the window's records as listed (by a ``Listing`` of several windows); None: list them here.
    """
    digest = DigestWriter(out)
    records = not_stored = pending = 0
    lines: list[str] = []
    encode = _ENCODER.encode
    # mtime=0 and no file name keep the gzip header, and so the whole object, deterministic.
    with ExitStack() as stack, gzip.GzipFile(filename="", mode="wb", fileobj=digest, mtime=0) as archive:
        if listed is None:
            listed = stack.enter_context(Listing(hook, [window], request)).records(0)
        for record in _attach_logs(hook, listed, request):
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


class _ParquetFile:
    """One Parquet data object being written, with its counts and digest."""

    def __init__(self, out: IO[bytes], log_type: str) -> None:
        self.digest = DigestWriter(out)
        self.writer = ParquetRecordWriter(self.digest, log_type)
        self.records = self.not_stored = 0

    def write(self, record: dict[str, Any]) -> None:
        self.writer.write(record)
        self.records += 1
        self.not_stored += bool(record.get(LOGS_NOT_STORED_KEY))

    def close(self) -> ExportResult:
        self.writer.close()
        return ExportResult(self.records, self.digest.size, self.digest.sha256.hexdigest(), self.not_stored)


def write_parquet(
    hook: SRConnectHook, parts: Sequence[LogWindow], request: ExportRequest, open_file: Callable[[], IO[bytes]]
) -> list[ExportResult]:
    """Stream sub-windows, one after another, into Parquet files taken from ``open_file``; return each one's result.

    A row group ends at each sub-window's end (and wherever ``_parquet`` bounds its size). A file ends after
    ``_parquet.FILE_ROW_GROUPS`` row groups, when more records follow: so there is always one file, none is
    empty unless the window is, and the bytes depend on the records and the step, as gzip members do.
    """
    file = _ParquetFile(open_file(), request.log_type)
    results: list[ExportResult] = []
    try:
        with Listing(hook, parts, request) as listing:
            for index in range(len(parts)):
                for record in _attach_logs(hook, listing.records(index), request):
                    if file.writer.row_groups >= _parquet.FILE_ROW_GROUPS:
                        results.append(file.close())
                        file = _ParquetFile(open_file(), request.log_type)
                    file.write(record)
                file.writer.end_row_group()
    except BaseException:
        file.writer.abandon()
        raise
    results.append(file.close())
    return results


def manifest(
    window: LogWindow,
    request: ExportRequest,
    archived: Archived,
    *,
    started: pendulum.DateTime,
    finished: pendulum.DateTime,
) -> bytes:
    """The manifest object, written after the data objects it describes.

    ``objects`` lists every data object; ``dataObject`` and ``sha256`` are the first one's, ``records``,
    ``logsNotStored`` and ``bytes`` the totals (with one object, as in every gzip NDJSON export, the same).
    """
    first_uri, first = archived.objects[0]
    body = {
        "dataObject": first_uri,
        "objects": [
            {"uri": uri, "records": one.records, "bytes": one.bytes, "sha256": one.sha256}
            for uri, one in archived.objects
        ],
        "window": {
            "start": window.start.isoformat(),
            "end": window.end.isoformat(),
            "servedFrom": window.fetch_start.isoformat(),
        },
        "logType": request.log_type,
        "filters": request.filters(),
        "includeLogs": request.include_logs,
        "records": archived.records,
        "logsNotStored": archived.logs_not_stored,
        "bytes": archived.bytes,
        "sha256": first.sha256,
        "format": request.output_format,
        "schemaVersion": SCHEMA_VERSION,
        "providerVersion": __version__,
        "contractVersion": contract.CONTRACT_VERSION,
        "startedAt": started.isoformat(),
        "finishedAt": finished.isoformat(),
        "retention": window.retention_note,
    }
    if request.output_format == "parquet":
        # The bytes of a Parquet file depend on its writer's version (the file names it too).
        body["parquet"] = {"writer": writer_version(), "compression": PARQUET_COMPRESSION}
    return json.dumps(body, indent=2, sort_keys=True).encode() + b"\n"
