"""Publishing one window: sub-windows → gzip members → one data object (or Parquet files), then its manifest.

The data object is the gzip members of the window's sub-windows (``step``), concatenated in time
order, which is valid gzip. Its decompressed content (records, order, bytes) does not depend on
the step; its compressed bytes depend only on the records and the step. The destination makes the
object appear whole or not at all. The manifest is the commit marker: a rewrite deletes the old
manifest first, and the new one is written only after the data object.

Parquet: the sub-windows go into one file, a row group (or more) each, so its bytes too depend only
on the records and the step (and the pyarrow version); past ``_parquet.FILE_ROW_GROUPS`` row groups
the export goes on in a new file (``{start}_{end}-0001.parquet``, and on). The files wait on local disk
until the whole window is read, then are uploaded in order, so a failed export changes nothing. A rerun
that writes fewer files than the old manifest lists deletes the rest with that manifest (the files
first: a rerun after a failure in between finds the manifest and deletes them again). Parquet files do
not concatenate, so a Parquet export is not staged and a retry reads the whole window again.

Resume (gzip NDJSON): with a task state store (``context["task_state_store"]``, Airflow 3.3+) and more
than one sub-window, each finished member is uploaded to a staging key and checkpointed. A retry downloads
the checkpointed members (checking size and sha256) and exports only the sub-windows after them;
on success the checkpoint and the staging objects are deleted. Without a store, a retry exports
the whole window again. Either way the data object is byte-identical to an uninterrupted run's.
"""

from __future__ import annotations

import hashlib
import io
import json
import secrets
import shutil
import tempfile
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from typing import IO, TYPE_CHECKING, Any, Protocol

import pendulum

from airflow_provider_srconnect import __version__
from airflow_provider_srconnect.exceptions import SRConnectParamError
from airflow_provider_srconnect.export import (
    FORMATS,
    Archived,
    DigestWriter,
    ExportResult,
    manifest,
    write_parquet,
    write_window,
)
from airflow_provider_srconnect.listing import Listing

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Callable, Iterator

    from airflow_provider_srconnect.destinations import Destination
    from airflow_provider_srconnect.export import ArchiveKeys, ExportRequest
    from airflow_provider_srconnect.hooks.srconnect import SRConnectHook
    from airflow_provider_srconnect.windows import LogWindow

#: The task state store key of an export's checkpoint (one per task instance).
CHECKPOINT_KEY = "srconnect_export"
#: Bumped when the checkpoint or the member format changes: an older checkpoint is then ignored.
CHECKPOINT_FORMAT = 1
#: The content type of a gzip NDJSON object (staged members included); ``export.FORMATS`` has each format's.
DATA_CONTENT_TYPE = FORMATS["jsonl.gz"].content_type
MANIFEST_CONTENT_TYPE = "application/json"
#: A spool spills from memory to disk past this size (a window's spool and its sub-window's, at once).
SPOOL_BYTES = 4 << 20
#: A guard against a step far too small for the window (each sub-window costs at least one request).
MAX_SUB_WINDOWS = 10_000
_BLOCK = 1 << 20


class Log(Protocol):
    """What the export uses of a logger (the operator's, stdlib or structlog)."""

    def info(self, msg: str, /, *args: Any) -> Any: ...

    def warning(self, msg: str, /, *args: Any) -> Any: ...


class StateStore(Protocol):
    """What the export uses of Airflow's task state store (``TaskStateStoreAccessor``, 3.3+)."""

    def get(self, key: str, default: Any = None) -> Any: ...

    def set(self, key: str, value: Any) -> None: ...

    def delete(self, key: str) -> None: ...


@dataclass(frozen=True)
class Job:
    """One window to publish: what, in which sub-windows, and under which keys."""

    window: LogWindow
    request: ExportRequest
    keys: ArchiveKeys
    step: dt.timedelta | None = None

    def parts(self) -> list[LogWindow]:
        """The sub-windows, in time order; checked against ``MAX_SUB_WINDOWS``."""
        parts = []
        for part in self.window.split(self.step):
            parts.append(part)
            if len(parts) > MAX_SUB_WINDOWS:
                raise SRConnectParamError(
                    "step",
                    f"{self.step} splits [{self.window.start}, {self.window.end}) into more than "
                    f"{MAX_SUB_WINDOWS} sub-windows",
                    "Use a longer step.",
                )
        return parts

    def fingerprint(self, data_uri: str) -> str:
        """What a checkpoint must match to be resumed: everything that shapes the data object's bytes."""
        shape = {
            "format": CHECKPOINT_FORMAT,
            "provider": __version__,
            "data": data_uri,
            "window": [str(self.window.start), str(self.window.end), str(self.window.served_from)],
            # The worker counts change how fast, not what is written.
            "request": {k: v for k, v in asdict(self.request).items() if k not in ("log_workers", "list_workers")},
            "step": None if self.step is None else self.step.total_seconds(),
        }
        return hashlib.sha256(json.dumps(shape, sort_keys=True, default=str).encode()).hexdigest()


@dataclass
class Checkpoint:
    """The sub-windows finished so far: their members wait under ``staging`` (``{index:05d}.gz.part``)."""

    fingerprint: str
    staging: str
    members: list[ExportResult] = field(default_factory=list)

    def member_key(self, index: int) -> str:
        return f"{self.staging}{index:05d}.gz.part"

    def member_keys(self) -> list[str]:
        return [self.member_key(index) for index in range(len(self.members))]

    def to_json(self) -> dict[str, Any]:
        rows = [[m.records, m.bytes, m.sha256, m.logs_not_stored] for m in self.members]
        return {"format": CHECKPOINT_FORMAT, "fingerprint": self.fingerprint, "staging": self.staging, "members": rows}

    @classmethod
    def from_json(cls, value: Any) -> Checkpoint | None:
        """The checkpoint stored as ``value``, or None if it is not one of this format."""
        try:
            if value["format"] != CHECKPOINT_FORMAT:
                return None
            members = [ExportResult(int(r), int(b), str(s), int(n)) for r, b, s, n in value["members"]]
            return cls(str(value["fingerprint"]), str(value["staging"]), members)
        except (KeyError, TypeError, ValueError):
            return None


class Checkpoints:
    """The checkpoint in the task state store; with no store (or a failing one), a no-op.

    A failing store only costs the ability to resume, so its errors are logged, not raised.
    """

    def __init__(self, store: StateStore | None, log: Log) -> None:
        self.store = store
        self.log = log

    def _call(self, what: str, call: Callable[[StateStore], Any]) -> Any:
        if self.store is None:
            return None
        try:
            return call(self.store)
        except Exception as error:  # whatever the store raises: degrade to "a retry restarts the window"
            self.log.warning(
                "The task state store failed to %s (%s: %s); a retry will restart the window",
                what,
                type(error).__name__,
                error,
            )
            self.store = None
            return None

    def load(self) -> Checkpoint | None:
        return Checkpoint.from_json(self._call("read", lambda store: store.get(CHECKPOINT_KEY)))

    def save(self, checkpoint: Checkpoint) -> None:
        self._call("write", lambda store: store.set(CHECKPOINT_KEY, checkpoint.to_json()))

    def drop(self) -> None:
        self._call("delete", lambda store: store.delete(CHECKPOINT_KEY))


def publish(
    hook: SRConnectHook,
    job: Job,
    destination: Destination,
    store: StateStore | None,
    log: Log,
) -> Archived:
    """Export ``job``'s window, publish its data objects and then its manifest; return what was written.

    :param store: the task state store to checkpoint in, or None to restart the window on a retry.
    """
    started = pendulum.now("UTC")
    parts = job.parts()
    output = FORMATS[job.request.output_format]
    checkpoint = None
    if not output.concatenates:
        if store is not None and len(parts) > 1:
            log.info("A %s export is not resumable: a retry reads the whole window again", job.request.output_format)
        archived = _publish_files(hook, job, parts, destination, log)
    else:
        checkpoints = Checkpoints(store if len(parts) > 1 else None, log)
        checkpoint = _resume_point(checkpoints, job, destination.uri(job.keys.data), destination, log)
        with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as spool:
            result = _publish_members(hook, job, parts, destination, checkpoints, checkpoint, spool, log)
        archived = Archived(((destination.uri(job.keys.data), result),))
    body = manifest(job.window, job.request, archived, started=started, finished=pendulum.now("UTC"))
    destination.upload_bytes(job.keys.manifest, body, MANIFEST_CONTENT_TYPE)
    if checkpoint is not None:
        checkpoints.drop()
        _delete_quietly(destination, checkpoint.member_keys(), log)
    return archived


def _publish_files(
    hook: SRConnectHook, job: Job, parts: list[LogWindow], destination: Destination, log: Log
) -> Archived:
    """Write the window's Parquet files (each spooled, then left on disk), then upload them in order."""
    content_type = FORMATS[job.request.output_format].content_type
    with ExitStack() as stack:
        spools: list[tempfile.SpooledTemporaryFile[bytes]] = []

        def open_file() -> IO[bytes]:
            if spools:
                spools[-1].rollover()  # a finished file waits on disk, not in memory
            spools.append(stack.enter_context(tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)))
            return spools[-1]

        results = write_parquet(hook, parts, job.request, open_file)
        earlier = _files_listed(destination, job, log)
        destination.delete([*(job.keys.data_file(i) for i in range(len(results), earlier)), job.keys.manifest])
        objects = []
        for index, (spool, result) in enumerate(zip(spools, results, strict=True)):
            key = job.keys.data_file(index)
            spool.seek(0)
            destination.upload_file(key, spool, content_type)
            objects.append((destination.uri(key), result))
    return Archived(tuple(objects))


def _files_listed(destination: Destination, job: Job, log: Log) -> int:
    """How many data objects of this format the window's current manifest lists (0 if there is none)."""
    body = io.BytesIO()
    if not destination.download(job.keys.manifest, body):
        return 0
    try:
        listed = json.loads(body.getvalue())
        return len(listed["objects"]) if listed["format"] == job.request.output_format else 0
    except (ValueError, KeyError, TypeError):  # an older manifest (no "objects": one file) or not one at all
        log.info("The manifest at %s lists no data objects; replacing it", destination.uri(job.keys.manifest))
        return 0


def _publish_members(
    hook: SRConnectHook,
    job: Job,
    parts: list[LogWindow],
    destination: Destination,
    checkpoints: Checkpoints,
    checkpoint: Checkpoint | None,
    spool: IO[bytes],
    log: Log,
) -> ExportResult:
    """Export the sub-windows as gzip members (staged and checkpointed given a checkpoint) and publish them."""
    members = _restore(checkpoints, checkpoint, destination, spool, log) if checkpoint is not None else []
    if checkpoint is not None:
        log.info("Checkpointing %d sub-windows under %s; %d already done", len(parts), checkpoint.staging, len(members))
    done = len(members)
    with Listing(hook, parts[done:], job.request) as listing:
        for index in range(done, len(parts)):
            staging = checkpoint if checkpoints.store is not None else None  # none once the store has failed
            listed = listing.records(index - done)
            members.append(_export_part(hook, job.request, parts[index], listed, spool, destination, staging, index))
            if staging is not None:
                staging.members = list(members)
                checkpoints.save(staging)
    return _publish_data(destination, job.keys, spool, members)


def _resume_point(
    checkpoints: Checkpoints, job: Job, data_uri: str, destination: Destination, log: Log
) -> Checkpoint | None:
    """The stored checkpoint if it matches this job; else a fresh one (None without a store)."""
    if checkpoints.store is None:
        return None
    fingerprint = job.fingerprint(data_uri)
    stored = checkpoints.load()
    if stored is not None and stored.fingerprint == fingerprint:
        return stored
    if stored is not None:
        log.info("The checkpoint is of other parameters or data; starting the window afresh")
        _delete_quietly(destination, stored.member_keys(), log)
    if checkpoints.store is None:  # the read failed
        return None
    return Checkpoint(fingerprint, f"{job.keys.staging}{secrets.token_hex(8)}/")


def _restore(
    checkpoints: Checkpoints, checkpoint: Checkpoint, destination: Destination, spool: IO[bytes], log: Log
) -> list[ExportResult]:
    """Download the checkpointed members into ``spool``, in order, up to the first missing or damaged one."""
    restored: list[ExportResult] = []
    for index, member in enumerate(checkpoint.members):
        mark = spool.tell()
        digest = DigestWriter(spool)
        found = destination.download(checkpoint.member_key(index), digest)
        if found and (digest.size, digest.sha256.hexdigest()) == (member.bytes, member.sha256):
            restored.append(member)
            continue
        log.warning("Staged sub-window %d is %s; exporting from there again", index, "damaged" if found else "gone")
        spool.seek(mark)
        spool.truncate()
        break
    if len(restored) < len(checkpoint.members):
        checkpoint.members = list(restored)
        checkpoints.save(checkpoint)
    return restored


def _export_part(
    hook: SRConnectHook,
    request: ExportRequest,
    part: LogWindow,
    listed: Iterator[dict[str, Any]],
    spool: IO[bytes],
    destination: Destination,
    staging: Checkpoint | None,
    index: int,
) -> ExportResult:
    """Export one sub-window (its records ``listed``) as one gzip member, stage it (given a checkpoint) and
    append it to ``spool``."""
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as member:
        result = write_window(hook, part, request, member, listed)
        if staging is not None:
            member.seek(0)
            destination.upload_file(staging.member_key(index), member, DATA_CONTENT_TYPE)
        member.seek(0)
        shutil.copyfileobj(member, spool, _BLOCK)
    return result


def _publish_data(
    destination: Destination, keys: ArchiveKeys, spool: IO[bytes], members: list[ExportResult]
) -> ExportResult:
    """Upload the assembled gzip object; the old manifest goes first, so none describes other data."""
    spool.seek(0)
    sha256 = hashlib.sha256()
    size = 0
    while block := spool.read(_BLOCK):
        sha256.update(block)
        size += len(block)
    spool.seek(0)
    destination.delete([keys.manifest])
    destination.upload_file(keys.data, spool, DATA_CONTENT_TYPE)
    return ExportResult(
        records=sum(m.records for m in members),
        bytes=size,
        sha256=sha256.hexdigest(),
        logs_not_stored=sum(m.logs_not_stored for m in members),
    )


def _delete_quietly(destination: Destination, keys: list[str], log: Log) -> None:
    """Delete staging objects; a failure leaves them for the bucket's lifecycle rule, not a failed task."""
    try:
        destination.delete(keys)
    except Exception as error:  # the archive is already published (or not yet started): never fail for this
        log.warning("Could not delete %d staging objects (%s: %s)", len(keys), type(error).__name__, error)
