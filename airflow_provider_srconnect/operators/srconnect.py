"""Operators that export one window of SRC logs.

``SRConnectExportOperator`` does the work for every destination: resolve the window, then hand it
to ``publish`` (sub-windows, atomic upload, manifest last, resume on Airflow 3.3+). Subclasses only
say where to (``destination()``). ``SRConnectFetchLogsOperator`` writes to a local path, for
handing on to an existing transfer task.
"""

from __future__ import annotations

import functools
from pathlib import PurePath
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import AirflowSkipException, BaseOperator

from airflow_provider_srconnect import contract
from airflow_provider_srconnect._task import permanent_errors_fail_the_task
from airflow_provider_srconnect.destinations.local import LocalDestination
from airflow_provider_srconnect.export import (
    DATA_SUFFIX,
    MANIFEST_SUFFIX,
    ArchiveKeys,
    ExportRequest,
    IncludeLogs,
    LogType,
    archive_keys,
)
from airflow_provider_srconnect.hooks.srconnect import SRConnectHook
from airflow_provider_srconnect.publish import Job, StateStore, publish
from airflow_provider_srconnect.windows import OnExpired, check_on_expired, check_step, resolve_window

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Sequence

    from airflow_provider_srconnect.destinations import Destination
    from airflow_provider_srconnect.windows import LogWindow


class SRConnectExportOperator(BaseOperator):
    """Archive one window of SRC logs (by default the run's data interval) as gzip NDJSON plus a manifest.

    :param srconnect_conn_id: the ``srconnect`` connection. (templated)
    :param log_type: ``"invocations"`` or ``"audit"``.
    :param include_logs: attach console and HTTP logs: ``"none"``, ``"failed"`` or ``"all"`` invocations.
    :param execution_statuses: only invocations with these statuses.
    :param trigger_types: only invocations with these trigger types.
    :param team_id: the team; default the connection's ``team_id``. (templated)
    :param window_start: start of the window instead of ``data_interval_start``. (templated)
    :param window_end: end of the window instead of ``data_interval_end``. (templated)
    :param on_expired: ``"fail"`` or ``"skip"`` when the window is past SRC's 6-month retention.
    :param prefix: key prefix of the archive. (templated)
    :param page_size: records per API page.
    :param log_workers: threads fetching logs; the connection's rate budget bounds the request rate.
    :param step: read the window in sub-windows of at most this long, one after another (for dense
        teams); None reads it at once. The records, their order and the decompressed bytes are the
        same whatever the step; each sub-window is one gzip member of the data object.
    :param durable: with a ``step`` that splits the window, on Airflow 3.3+: stage each finished
        sub-window under the staging prefix and checkpoint it in the task state store, so that a
        retry resumes after it. Elsewhere (or False) a retry reads the whole window again.
    """

    template_fields: Sequence[str] = ("srconnect_conn_id", "team_id", "window_start", "window_end", "prefix")
    ui_color = "#e8f1fb"

    def __init__(
        self,
        *,
        srconnect_conn_id: str = SRConnectHook.default_conn_name,
        log_type: LogType = "invocations",
        include_logs: IncludeLogs = "none",
        execution_statuses: Sequence[str] | None = None,
        trigger_types: Sequence[str] | None = None,
        team_id: str | None = None,
        window_start: Any = None,
        window_end: Any = None,
        on_expired: OnExpired = "fail",
        prefix: str = "srconnect",
        page_size: int = contract.PAGE_SIZE_DEFAULT,
        log_workers: int = 4,
        step: dt.timedelta | None = None,
        durable: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.srconnect_conn_id = srconnect_conn_id
        self.log_type = log_type
        self.include_logs = include_logs
        self.execution_statuses = tuple(execution_statuses) if execution_statuses else None
        self.trigger_types = tuple(trigger_types) if trigger_types else None
        self.team_id = team_id
        self.window_start = window_start
        self.window_end = window_end
        self.on_expired = on_expired
        self.prefix = prefix
        self.page_size = page_size
        self.log_workers = log_workers
        self.step = step
        self.durable = durable
        # Checked when the DAG is parsed, long before any request.
        self._request()
        check_on_expired(on_expired)
        check_step(step)

    @functools.cached_property
    def hook(self) -> SRConnectHook:
        return SRConnectHook(srconnect_conn_id=self.srconnect_conn_id)

    def _request(self) -> ExportRequest:
        return ExportRequest(
            log_type=self.log_type,
            include_logs=self.include_logs,
            execution_statuses=self.execution_statuses,
            trigger_types=self.trigger_types,
            team_id=self.team_id or None,
            page_size=self.page_size,
            log_workers=self.log_workers,
        )

    def destination(self) -> Destination:
        """Where the archive goes; subclasses name their storage."""
        raise NotImplementedError

    def keys(self, window: LogWindow) -> ArchiveKeys:
        """The data and manifest keys of a window."""
        return archive_keys(self.prefix, self.log_type, window)

    def execute(self, context: Any) -> dict[str, Any]:
        with permanent_errors_fail_the_task():
            return self._export(context)

    def _export(self, context: Any) -> dict[str, Any]:
        window = resolve_window(context, self.window_start, self.window_end, on_expired=self.on_expired)
        if window is None:
            raise AirflowSkipException("the window is older than SRC's retention and on_expired='skip'")
        job = Job(window, self._request(), self.keys(window), self.step)
        destination = self.destination()
        result = publish(self.hook, job, destination, self._state_store(context), self.log)
        data_uri = destination.uri(job.keys.data)
        self.log.info(
            "Archived %d %s records of [%s, %s) to %s (sha256 %s)",
            result.records,
            job.request.log_type,
            window.start,
            window.end,
            data_uri,
            result.sha256,
        )
        return {
            "data_uri": data_uri,
            "manifest_uri": destination.uri(job.keys.manifest),
            "records": result.records,
            "bytes": result.bytes,
            "sha256": result.sha256,
        }

    def _state_store(self, context: Any) -> StateStore | None:
        """Airflow 3.3+'s task state store, when ``durable``; None elsewhere (a retry then restarts)."""
        if not self.durable:
            return None
        store = context.get("task_state_store") if hasattr(context, "get") else None
        if store is None and self.step is not None:
            self.log.info("No task state store (Airflow < 3.3 or not in a task): a retry restarts the window")
        return store


class SRConnectFetchLogsOperator(SRConnectExportOperator):
    """Write one window of SRC logs to a local gzip NDJSON file (manifest beside it) and return its path.

    For handing on to an existing transfer such as ``LocalFilesystemToS3Operator``.

    :param path: the file to write; its manifest goes beside it, ``.jsonl.gz`` replaced by ``.manifest.json``.
        (templated)
    """

    template_fields: Sequence[str] = (*SRConnectExportOperator.template_fields, "path")

    def __init__(self, *, path: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.path = path

    def destination(self) -> Destination:
        return LocalDestination(PurePath(self.path).parent)

    def keys(self, window: LogWindow) -> ArchiveKeys:
        """Keys relative to the file's folder; staging in a hidden folder beside the file."""
        name = PurePath(self.path).name
        return ArchiveKeys(name, name.removesuffix(DATA_SUFFIX) + MANIFEST_SUFFIX, f".{name}.staging/")

    def execute(self, context: Any) -> str:  # type: ignore[override]
        return str(super().execute(context)["data_uri"])
