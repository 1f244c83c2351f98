"""Atomic publish and resume, for real: moto's S3 server, fake-gcs-server, the sandbox over HTTP, ``dag.test()``.

Storage is never mocked: faults are injected into what is uploaded (a file that dies after some bytes)
or, in Airflow, by wrapping a destination's upload so that one chosen upload dies halfway through its file.
Tasks run in-process under ``dag.test()``, so the wrappers and the per-try request counters apply inside them.
Two tries of a task come either from Airflow's own retry (``retries=1``, no delay: ``dag.test()`` runs the
retry in its loop) or, after an error that fails the task at once (a revoked key), from Airflow's clear of
the task instance followed by a run of it in the same DAG run (``clear_and_run_again``).
"""

from __future__ import annotations

import datetime as dt
import gzip
import io
import json
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import pytest

from airflow_provider_srconnect import contract
from airflow_provider_srconnect.destinations.gcs import GCSDestination
from airflow_provider_srconnect.destinations.local import LocalDestination
from airflow_provider_srconnect.destinations.s3 import S3Destination
from airflow_provider_srconnect.export import STAGING_DIR, archive_keys
from airflow_provider_srconnect.operators.srconnect import SRConnectExportOperator
from airflow_provider_srconnect.sandbox import DEFAULT_EMAIL, DEFAULT_TEAM
from airflow_provider_srconnect.windows import LogWindow
from tests.e2e.archive import Run, assert_archive, days_ago, decode, load_dag, run_dag
from tests.e2e.conftest import E2E, GCS_BUCKET, S3_BUCKET
from tests.operators.faults import DiesAfter, Injected

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from airflow_provider_srconnect.destinations import Destination

pytestmark = pytest.mark.e2e

DAILY = "srconnect_invocations_daily"
HOURLY_GCS = "srconnect_audit_hourly_to_gcs"
ARCHIVE_TASK = "archive_invocations"
#: The run's day: no other test archives it.
DAY = days_ago(6)
STEP = dt.timedelta(hours=4)
SUB_WINDOWS = 6


def _has_task_state_store() -> bool:
    try:
        from airflow.sdk.execution_time.context import TaskStateStoreAccessor  # noqa: F401
    except ImportError:
        return False
    return True


#: Resuming needs Airflow 3.3's task state store; elsewhere a retry restarts (the ``durable=False`` test).
needs_state_store = pytest.mark.skipif(not _has_task_state_store(), reason="no task state store before Airflow 3.3")


# --- The destinations alone: an upload that dies midway leaves nothing -------------------------------------


@dataclass
class Bucket:
    """A destination on a real server, and what a reader would list there."""

    kind: str
    destination: Destination
    list_keys: Callable[[str], list[str]]
    pending_uploads: Callable[[str], list[str]] = lambda prefix: []
    #: S3 operations that completed, in order.
    operations: list[str] = field(default_factory=list)


@pytest.fixture(params=["local", "s3", "gcs"])
def bucket(request: pytest.FixtureRequest, e2e: E2E, tmp_path: Path) -> Bucket:
    if request.param == "local":

        def local_keys(prefix: str) -> list[str]:
            return sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file())

        return Bucket("local", LocalDestination(tmp_path), local_keys)
    if request.param == "s3":
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        hook = S3Hook(aws_conn_id="aws_default")
        seen = Bucket(
            "s3",
            S3Destination(hook, S3_BUCKET),
            lambda prefix: s3_keys(e2e, prefix),
            lambda prefix: [
                u["Key"] for u in e2e.s3.list_multipart_uploads(Bucket=S3_BUCKET, Prefix=prefix).get("Uploads", [])
            ],
        )
        hook.get_conn().meta.events.register("after-call.s3", lambda model, **_: seen.operations.append(model.name))
        return seen
    from airflow.providers.google.cloud.hooks.gcs import GCSHook

    gcs = e2e.gcs.bucket(GCS_BUCKET)
    return Bucket(
        "gcs",
        GCSDestination(GCSHook(gcp_conn_id="google_cloud_default"), GCS_BUCKET),
        lambda prefix: sorted(blob.name for blob in gcs.list_blobs(prefix=prefix)),
    )


def s3_keys(e2e: E2E, prefix: str) -> list[str]:
    listed = e2e.s3.list_objects_v2(Bucket=S3_BUCKET, Prefix=prefix)
    return sorted(o["Key"] for o in listed.get("Contents", []))


def fetch(destination: Destination, key: str) -> bytes | None:
    out = io.BytesIO()
    return out.getvalue() if destination.download(key, out) else None


#: A small file (one PUT / one resumable chunk) and one past S3's multipart threshold and GCS's chunk (8 MiB).
SIZES = {"small": 200_000, "large": 12 << 20}


@pytest.mark.parametrize("size", SIZES.values(), ids=SIZES.keys())
def test_an_upload_that_dies_midway_leaves_nothing_and_a_retry_stores_it_whole(bucket: Bucket, size: int) -> None:
    prefix = f"atomic-{size}/"
    key = f"{prefix}data.jsonl.gz"
    data = random.Random(size).randbytes(size)

    with pytest.raises(Injected):
        bucket.destination.upload_file(key, DiesAfter(io.BytesIO(data), size - 100_000), "application/gzip")

    assert bucket.list_keys(prefix) == [] and bucket.pending_uploads(prefix) == []
    # S3: never completed; a multipart upload that was started was aborted (whether one started is timing).
    assert not {"PutObject", "CompleteMultipartUpload"} & set(bucket.operations)
    assert ("CreateMultipartUpload" in bucket.operations) == ("AbortMultipartUpload" in bucket.operations)
    bucket.destination.upload_file(key, io.BytesIO(data), "application/gzip")
    assert bucket.list_keys(prefix) == [key] and fetch(bucket.destination, key) == data
    if bucket.kind == "s3":
        completed = "CompleteMultipartUpload" if size > SIZES["small"] else "PutObject"
        assert completed in bucket.operations


def test_a_replacement_that_dies_keeps_the_old_object_whole(bucket: Bucket) -> None:
    key = "replace/data.jsonl.gz"
    old, new = b"old archive " * 1000, b"new archive " * 2000
    bucket.destination.upload_bytes(key, old, "application/gzip")

    with pytest.raises(Injected):
        bucket.destination.upload_file(key, DiesAfter(io.BytesIO(new), len(new) // 2), "application/gzip")

    assert fetch(bucket.destination, key) == old


def test_download_and_delete_tolerate_missing_objects(bucket: Bucket) -> None:
    keys = [f"tidy/{STAGING_DIR}/run/{n:05d}.gz.part" for n in range(3)]
    for key in keys[:2]:
        bucket.destination.upload_bytes(key, key.encode(), "application/gzip")

    assert fetch(bucket.destination, keys[2]) is None
    assert fetch(bucket.destination, keys[0]) == keys[0].encode()
    bucket.destination.delete(keys)
    bucket.destination.delete(keys)

    assert bucket.list_keys("tidy/") == []


# --- In Airflow: faults in the middle of a window, and the retry -----------------------------------------


@dataclass
class Tries:
    """API requests (all, and those answered 200) of each try of an export task, read from the sandbox."""

    requests: list[int] = field(default_factory=list)
    ok: list[int] = field(default_factory=list)


@pytest.fixture(scope="module")
def counter(e2e: E2E) -> Iterator[Tries]:
    """Counts the sandbox's requests during each ``execute`` of an export operator, for this module."""
    seen = Tries()
    stats = e2e.sandbox.stats
    execute = SRConnectExportOperator.execute

    def counted(self: SRConnectExportOperator, context: Any) -> Any:
        requests, ok = stats.requests_total, stats.by_status.get(200, 0)
        try:
            return execute(self, context)
        finally:
            seen.requests.append(stats.requests_total - requests)
            seen.ok.append(stats.by_status.get(200, 0) - ok)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(SRConnectExportOperator, "execute", counted)
        yield seen


@pytest.fixture
def tries(counter: Tries) -> Tries:
    """The tries of this test only."""
    counter.requests.clear()
    counter.ok.clear()
    return counter


@dataclass
class Fault:
    """The one upload that dies halfway through its file, and what a reader listed right after."""

    dies: Callable[[str], bool]
    fired: bool = False
    seen_after: list[str] = field(default_factory=list)


def inject(
    monkeypatch: pytest.MonkeyPatch, cls: type, dies: Callable[[str], bool], listing: Callable[[], list[str]]
) -> Fault:
    """Make the first upload through ``cls`` whose key ``dies`` fail halfway (a real, partial upload)."""
    fault = Fault(dies)
    upload = cls.upload_file

    def upload_file(self: Any, key: str, fileobj: IO[bytes], content_type: str) -> None:
        if fault.fired or not fault.dies(key):
            return upload(self, key, fileobj, content_type)
        fault.fired = True
        start = fileobj.tell()
        half = (fileobj.seek(0, io.SEEK_END) - start) // 2
        fileobj.seek(start)
        try:
            return upload(self, key, DiesAfter(fileobj, half), content_type)
        except Injected:
            fault.seen_after = listing()
            raise

    monkeypatch.setattr(cls, "upload_file", upload_file)
    return fault


def configure(step: dt.timedelta | None, *, durable: bool = True, retries: int = 1) -> Callable[[Any], None]:
    """Give the DAG's export task a step, ``durable`` and retries without delay (``dag.test()`` runs them)."""

    def apply(dag: Any) -> None:
        for task in dag.tasks:
            if isinstance(task, SRConnectExportOperator):
                task.step, task.durable = step, durable
                task.retries, task.retry_delay = retries, dt.timedelta(0)

    return apply


@dataclass(frozen=True)
class Daily:
    """One run of the daily DAG under ``prefix``, and what it left in S3 under that prefix."""

    run: Run
    prefix: str
    data: bytes
    manifest: dict[str, Any]
    keys_after: list[str]

    def final_keys(self) -> list[str]:
        keys = archive_keys(self.prefix, "invocations", LogWindow(self.run.start, self.run.end))
        return sorted([keys.data, keys.manifest])


def run_daily(e2e: E2E, prefix: str, step: dt.timedelta | None, **options: Any) -> Daily:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AIRFLOW_VAR_SRCONNECT_PREFIX", prefix)
        run = run_dag(DAILY, DAY, configure(step, **options))
    return read_daily(e2e, prefix, run)


def read_daily(e2e: E2E, prefix: str, run: Run) -> Daily:
    keys = archive_keys(prefix, "invocations", LogWindow(run.start, run.end))
    listed = s3_keys(e2e, f"{prefix}/")
    data = e2e.s3.get_object(Bucket=S3_BUCKET, Key=keys.data)["Body"].read() if keys.data in listed else b""
    manifest = {}
    if keys.manifest in listed:
        manifest = json.loads(e2e.s3.get_object(Bucket=S3_BUCKET, Key=keys.manifest)["Body"].read())
    return Daily(run, prefix, data, manifest, listed)


def clear_and_run_again(run: Run, task_id: str, dag: Any) -> Run:
    """What ``airflow tasks clear`` and then a worker do, in the same DAG run.

    A second ``dag.test()`` would delete the DAG run and create a new one, and the task state store
    belongs to the DAG run. So: Airflow's ``clear_task_instances`` (the clear of the CLI and the UI),
    then the cleared task instance runs through ``dag.test()``'s own in-process step (``_run_task``).
    """
    from airflow.models.dagrun import DagRun
    from airflow.models.taskinstance import clear_task_instances
    from airflow.sdk.definitions.dag import _run_task
    from airflow.utils.session import create_session
    from airflow.utils.state import TaskInstanceState

    with create_session() as session:
        dag_run = session.get(DagRun, run.dag_run.id)
        clear_task_instances([dag_run.get_task_instance(task_id, session=session)], session)
    with create_session() as session:
        dag_run = session.get(DagRun, run.dag_run.id)
        ti = dag_run.get_task_instance(task_id, session=session)
        ti.try_number += 1  # as dag.test()'s loop does when it schedules a task instance
        ti.state = TaskInstanceState.SCHEDULED
        session.commit()
        _run_task(ti=ti, task=dag.task_dict[task_id])
        session.expire_all()
        states = {t.task_id: t.state for t in dag_run.get_task_instances(session=session)}
    return Run(run.dag_run, run.start, run.end, states)


def staged(keys: list[str]) -> list[str]:
    return [key for key in keys if f"/{STAGING_DIR}/" in key]


@dataclass(frozen=True)
class Reference:
    """An uninterrupted run with ``STEP``: the bytes every faulted run must reproduce, and what it cost."""

    daily: Daily
    run_requests: int  # sensor and archive
    archive: Tries


@pytest.fixture(scope="module")
def reference(e2e: E2E, counter: Tries) -> Reference:
    counter.requests.clear()
    counter.ok.clear()
    before = e2e.sandbox.stats.requests_total
    daily = run_daily(e2e, "e2e-resume-reference", STEP)
    assert daily.run.states[ARCHIVE_TASK] == "success" and daily.keys_after == daily.final_keys()
    archive = Tries(list(counter.requests), list(counter.ok))
    assert len(archive.requests) == 1 and archive.ok[0] > SUB_WINDOWS
    return Reference(daily, e2e.sandbox.stats.requests_total - before, archive)


def test_the_step_changes_gzip_members_not_records_or_content(reference: Reference, e2e: E2E) -> None:
    stepped = reference.daily
    whole = run_daily(e2e, "e2e-resume-whole", None)

    truth = e2e.sandbox.ground_truth.invocations(DEFAULT_TEAM, stepped.run.start, stepped.run.end)
    assert_archive(stepped.data, stepped.manifest, truth, stepped.run, contract.InvocationField.ID)
    assert decode(stepped.data) == decode(whole.data)
    assert gzip.decompress(stepped.data) == gzip.decompress(whole.data)
    assert stepped.data != whole.data  # six gzip members instead of one (documented)


@needs_state_store
def test_a_fault_after_some_sub_windows_is_resumed_by_airflows_retry(
    reference: Reference, e2e: E2E, tries: Tries, monkeypatch: pytest.MonkeyPatch
) -> None:
    prefix = "e2e-resume-staging-fault"
    fourth_member = inject(
        monkeypatch, S3Destination, lambda key: key.endswith("/00003.gz.part"), lambda: s3_keys(e2e, f"{prefix}/")
    )

    daily = run_daily(e2e, prefix, STEP)

    assert fourth_member.fired and daily.run.states[ARCHIVE_TASK] == "success" and len(tries.requests) == 2
    # Right after the fault: the three checkpointed members in staging, nothing at the final keys.
    assert len(fourth_member.seen_after) == 3 and staged(fourth_member.seen_after) == fourth_member.seen_after
    assert daily.data == reference.daily.data
    assert daily.keys_after == daily.final_keys()  # staging cleaned up
    assert e2e.s3.list_multipart_uploads(Bucket=S3_BUCKET, Prefix=f"{prefix}/").get("Uploads") is None
    # The retry read sub-windows 4-6 only: fewer requests than a full restart; together the two tries
    # read the fourth one twice (its member was lost with the fault).
    full = reference.archive
    assert tries.requests[1] < full.requests[0] and tries.ok[1] < full.ok[0]
    assert tries.ok[0] + tries.ok[1] > full.ok[0]


@needs_state_store
def test_a_fault_while_publishing_is_retried_without_any_request(
    reference: Reference, e2e: E2E, tries: Tries, monkeypatch: pytest.MonkeyPatch
) -> None:
    prefix = "e2e-resume-publish-fault"
    fault = inject(
        monkeypatch, S3Destination, lambda key: key.endswith(".jsonl.gz"), lambda: s3_keys(e2e, f"{prefix}/")
    )

    daily = run_daily(e2e, prefix, STEP)

    assert fault.fired and daily.run.states[ARCHIVE_TASK] == "success"
    assert len(fault.seen_after) == SUB_WINDOWS and staged(fault.seen_after) == fault.seen_after
    assert tries.ok[0] == reference.archive.ok[0] and tries.requests[1] == 0  # all came back from staging
    assert daily.data == reference.daily.data and daily.keys_after == daily.final_keys()


def test_without_a_checkpoint_a_retry_restarts_the_window_cleanly(
    reference: Reference, e2e: E2E, tries: Tries, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``durable=False`` takes the path of Airflow < 3.3 (no task state store): no staging, a full restart."""
    prefix = "e2e-resume-not-durable"
    fault = inject(
        monkeypatch, S3Destination, lambda key: key.endswith(".jsonl.gz"), lambda: s3_keys(e2e, f"{prefix}/")
    )

    daily = run_daily(e2e, prefix, STEP, durable=False)

    assert fault.fired and fault.seen_after == [] and daily.run.states[ARCHIVE_TASK] == "success"
    assert tries.ok == [reference.archive.ok[0]] * 2  # the whole window, twice
    assert daily.data == reference.daily.data and daily.keys_after == daily.final_keys()


@needs_state_store
def test_a_key_revoked_mid_window_fails_the_task_and_clearing_it_resumes(
    reference: Reference, e2e: E2E, tries: Tries
) -> None:
    prefix = "e2e-resume-revoked"
    sensor = reference.run_requests - reference.archive.requests[0]
    e2e.sandbox.faults.revoke(DEFAULT_EMAIL, after=sensor + reference.archive.requests[0] // 2)
    try:
        failed = run_daily(e2e, prefix, STEP)
    finally:
        e2e.sandbox.faults.restore(DEFAULT_EMAIL)

    # A revoked key is an error no retry can fix: the task failed at once, its retry unused, and
    # the sub-windows it had finished wait in staging.
    assert failed.run.states[ARCHIVE_TASK] == "failed" and len(tries.requests) == 1
    assert 0 < len(failed.keys_after) < SUB_WINDOWS and staged(failed.keys_after) == failed.keys_after

    with pytest.MonkeyPatch.context() as mp:  # the key works again; the user clears the task
        mp.setenv("AIRFLOW_VAR_SRCONNECT_PREFIX", prefix)
        cleared = clear_and_run_again(failed.run, ARCHIVE_TASK, load_dag(DAILY, configure(STEP)))
    resumed = read_daily(e2e, prefix, cleared)

    assert cleared.states[ARCHIVE_TASK] == "success" and len(tries.requests) == 2
    assert resumed.data == reference.daily.data and resumed.keys_after == resumed.final_keys()
    assert tries.requests[1] < reference.archive.requests[0]


@needs_state_store
def test_gcs_resumes_too(e2e: E2E, tries: Tries, monkeypatch: pytest.MonkeyPatch) -> None:
    """The hourly audit archive to fake-gcs-server in 15-minute sub-windows, with a fault in the third."""
    bucket = e2e.gcs.bucket(GCS_BUCKET)

    def listing(prefix: str) -> list[str]:
        return sorted(blob.name for blob in bucket.list_blobs(prefix=f"{prefix}/"))

    def run_hourly(prefix: str) -> tuple[Run, bytes, list[str]]:
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("AIRFLOW_VAR_SRCONNECT_PREFIX", prefix)
            run = run_dag(HOURLY_GCS, days_ago(6, hours=11), configure(dt.timedelta(minutes=15)))
        keys = archive_keys(prefix, "audit", LogWindow(run.start, run.end))
        return run, bucket.blob(keys.data).download_as_bytes(raw_download=True), listing(prefix)

    _, expected, _ = run_hourly("e2e-resume-gcs-reference")
    prefix = "e2e-resume-gcs-fault"
    third = inject(monkeypatch, GCSDestination, lambda key: key.endswith("/00002.gz.part"), lambda: listing(prefix))
    run, data, keys = run_hourly(prefix)

    assert third.fired and run.states == {"archive_audit": "success"}
    assert len(third.seen_after) == 2 and staged(third.seen_after) == third.seen_after
    assert data == expected and len(keys) == 2 and not staged(keys)
    assert tries.ok[2] < tries.ok[0]  # the retry read two of the four sub-windows
