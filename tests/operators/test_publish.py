"""Publishing a window: sub-windows as gzip members, atomic data object, manifest last, checkpoints and resume."""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import io
import json
import logging
from pathlib import Path
from typing import IO, Any

import pendulum
import pytest

from airflow_provider_srconnect import contract
from airflow_provider_srconnect.destinations.local import LocalDestination
from airflow_provider_srconnect.exceptions import SRConnectParamError
from airflow_provider_srconnect.export import ExportRequest, archive_keys, write_window
from airflow_provider_srconnect.publish import CHECKPOINT_KEY, MAX_SUB_WINDOWS, Job, publish
from airflow_provider_srconnect.windows import LogWindow
from tests.operators.faults import DiesAfter, Injected, Store
from tests.stub_listing import ListsFromIter

F = contract.InvocationField
WINDOW = LogWindow(pendulum.datetime(2026, 11, 1, tz="UTC"), pendulum.datetime(2026, 11, 2, tz="UTC"))
STEP = dt.timedelta(hours=4)
LOG = logging.getLogger("test-publish")


class TimedHook(ListsFromIter):
    """Serves invocations spread over the window, each listing filtered to ``[start, end)``; counts listings."""

    def __init__(self, count: int = 120, tag: str = "") -> None:
        self.records = [
            {F.ID: f"inv-{n}{tag}", F.START_TIME: contract.format_time(WINDOW.start.add(minutes=12 * n)), "n": n}
            for n in range(count)
        ]
        self.listings: list[tuple[pendulum.DateTime, pendulum.DateTime]] = []

    def iter_invocation_logs(self, start: Any, end: Any, **query: Any) -> Any:
        self.listings.append((start, end))
        return iter([dict(r) for r in self.records if start <= pendulum.parse(r[F.START_TIME]) < end])


class FaultyDestination(LocalDestination):
    """A local folder whose ``fail_upload``-th file upload (0-based) dies after 10 bytes of the file."""

    def __init__(self, root: Path, fail_upload: int | None = None) -> None:
        super().__init__(root)
        self.fail_upload = fail_upload
        self.uploads: list[str] = []

    def upload_file(self, key: str, fileobj: IO[bytes], content_type: str) -> None:
        self.uploads.append(key)
        if len(self.uploads) - 1 == self.fail_upload:
            fileobj = DiesAfter(fileobj, 10)
        super().upload_file(key, fileobj, content_type)


KEYS = archive_keys("arch", "invocations", WINDOW)


def run(hook: TimedHook, root: Path, *, step: dt.timedelta | None = STEP, store: Store | None = None, **dest: Any):
    destination = FaultyDestination(root, **dest)
    result = publish(hook, Job(WINDOW, ExportRequest(), KEYS, step), destination, store, LOG)  # type: ignore[arg-type]
    return result, destination


def files(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def data_of(root: Path) -> bytes:
    return (root / KEYS.data).read_bytes()


@pytest.fixture
def reference(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """The data object of an uninterrupted run with ``STEP`` and no store."""
    root = tmp_path_factory.mktemp("reference")
    run(TimedHook(), root)
    return data_of(root)


def test_the_step_changes_members_not_content(tmp_path, reference):
    whole_hook = TimedHook()
    run(whole_hook, tmp_path, step=None)
    whole = data_of(tmp_path)

    # step=None is the single member the export always wrote.
    single = io.BytesIO()
    write_window(TimedHook(), WINDOW, ExportRequest(), single)  # type: ignore[arg-type]
    assert whole == single.getvalue()
    assert whole_hook.listings == [(WINDOW.start, WINDOW.end)]
    # With a step: same decompressed bytes, one member per sub-window.
    assert gzip.decompress(reference) == gzip.decompress(whole)
    assert [json.loads(x)["n"] for x in gzip.decompress(reference).splitlines()] == list(range(120))
    members = []
    for part in WINDOW.split(STEP):
        out = io.BytesIO()
        write_window(TimedHook(), part, ExportRequest(), out)  # type: ignore[arg-type]
        members.append(out.getvalue())
    assert reference == b"".join(members) and len(members) == 6


def test_manifest_describes_the_assembled_object_and_nothing_else_is_left(tmp_path, reference):
    store = Store()
    result, destination = run(TimedHook(), tmp_path, store=store)

    assert data_of(tmp_path) == reference
    body = json.loads((tmp_path / KEYS.manifest).read_text())
    digest = hashlib.sha256(reference).hexdigest()
    assert (body["sha256"], body["bytes"], body["records"]) == (digest, len(reference), 120)
    assert (result.objects[0][1].sha256, result.records) == (body["sha256"], 120)
    assert body["objects"] == [{"uri": body["dataObject"], "records": 120, "bytes": len(reference), "sha256": digest}]
    # Six staged members were written, then removed with their folders; the checkpoint is gone.
    assert sum(key.startswith(KEYS.staging) for key in destination.uploads) == 6
    assert files(tmp_path) == sorted([KEYS.data, KEYS.manifest])
    assert store.values == {}


def test_without_a_store_nothing_is_staged(tmp_path, reference):
    _, destination = run(TimedHook(), tmp_path, store=None)

    assert destination.uploads == [KEYS.data]
    assert data_of(tmp_path) == reference


@pytest.mark.parametrize("fail_upload", [0, 3])
def test_a_retry_resumes_after_the_checkpointed_sub_windows(tmp_path, reference, fail_upload):
    store = Store()
    first = TimedHook()
    with pytest.raises(Injected):
        run(first, tmp_path, store=store, fail_upload=fail_upload)

    # Nothing at the final keys, no half-written file: only the checkpointed members.
    checkpoint = store.values.get(CHECKPOINT_KEY, {"members": [], "staging": ""})  # none before the first
    assert len(checkpoint["members"]) == fail_upload
    assert files(tmp_path) == [f"{checkpoint['staging']}{i:05d}.gz.part" for i in range(fail_upload)]

    retry = TimedHook()
    run(retry, tmp_path, store=store)

    parts = list(WINDOW.split(STEP))
    assert retry.listings == [(p.start, p.end) for p in parts[fail_upload:]]
    assert data_of(tmp_path) == reference
    assert files(tmp_path) == sorted([KEYS.data, KEYS.manifest]) and store.values == {}


def test_a_failed_publish_is_retried_without_any_request(tmp_path, reference):
    store = Store()
    with pytest.raises(Injected):
        run(TimedHook(), tmp_path, store=store, fail_upload=6)  # the six members went up; the data object dies

    assert files(tmp_path) == sorted(f"{store.values[CHECKPOINT_KEY]['staging']}{i:05d}.gz.part" for i in range(6))
    retry = TimedHook()
    run(retry, tmp_path, store=store)

    assert retry.listings == []
    assert data_of(tmp_path) == reference


def test_a_damaged_staged_member_is_exported_again(tmp_path, reference):
    store = Store()
    with pytest.raises(Injected):
        run(TimedHook(), tmp_path, store=store, fail_upload=6)
    staging = store.values[CHECKPOINT_KEY]["staging"]
    (tmp_path / f"{staging}00002.gz.part").write_bytes(b"not the member")
    (tmp_path / f"{staging}00004.gz.part").unlink()

    retry = TimedHook()
    run(retry, tmp_path, store=store)

    parts = list(WINDOW.split(STEP))
    assert retry.listings == [(p.start, p.end) for p in parts[2:]]
    assert data_of(tmp_path) == reference
    assert files(tmp_path) == sorted([KEYS.data, KEYS.manifest])


def test_a_checkpoint_of_other_parameters_is_dropped_with_its_staging(tmp_path):
    store = Store()
    with pytest.raises(Injected):
        run(TimedHook(), tmp_path, store=store, fail_upload=3)

    retry = TimedHook()
    run(retry, tmp_path, step=dt.timedelta(hours=6), store=store)

    assert len(retry.listings) == 4
    assert files(tmp_path) == sorted([KEYS.data, KEYS.manifest]) and store.values == {}


@pytest.mark.parametrize(("fail_on", "staged"), [("get", 0), ("set", 1), ("delete", 6)])
def test_a_failing_store_only_costs_the_resume(tmp_path, reference, fail_on, staged, caplog):
    with caplog.at_level(logging.WARNING, logger=LOG.name):
        _, destination = run(TimedHook(), tmp_path, store=Store(fail_on=fail_on))

    assert data_of(tmp_path) == reference
    assert "task state store failed" in caplog.text
    # No staging without a checkpoint to find it by (after a failed write, the member already staged is all).
    assert sum(key.startswith(KEYS.staging) for key in destination.uploads) == staged
    assert files(tmp_path) == sorted([KEYS.data, KEYS.manifest])


def test_a_rewrite_removes_the_old_manifest_before_it_replaces_the_data(tmp_path):
    run(TimedHook(), tmp_path)
    old = data_of(tmp_path)

    with pytest.raises(Injected):
        run(TimedHook(tag="-changed"), tmp_path, fail_upload=0)

    # The old data object is whole, and no manifest claims that it is the new one (or the old one).
    assert data_of(tmp_path) == old and not (tmp_path / KEYS.manifest).exists()
    run(TimedHook(tag="-changed"), tmp_path)
    body = json.loads((tmp_path / KEYS.manifest).read_text())
    assert body["sha256"] == hashlib.sha256(data_of(tmp_path)).hexdigest() != hashlib.sha256(old).hexdigest()


def test_a_step_far_too_small_is_refused_before_any_request(tmp_path):
    hook = TimedHook()
    step = (WINDOW.end - WINDOW.start) / (MAX_SUB_WINDOWS + 1)
    with pytest.raises(SRConnectParamError, match="step"):
        run(hook, tmp_path, step=step)
    assert hook.listings == [] and files(tmp_path) == []
