"""Operators that export one window of SRC logs.

``SRConnectExportOperator`` does the work for every destination: resolve the window, then hand it
to ``publish`` (sub-windows, atomic upload, manifest last, resume on Airflow 3.3+). Subclasses only
say where to (``destination()``). ``SRConnectFetchLogsOperator`` writes to a local path, for
handing on to an existing transfer task.

Before the first request to SRC the task checks what a user may get wrong: the connections are defined,
the parameters are valid, the bucket exists (or the folder can be written). Each mistake fails the task at
once, without Airflow's retries, with the typed error naming the fix as the cause (``_task.py``).
"""

from __future__ import annotations

import functools
from pathlib import PurePath
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import AirflowSkipException, BaseOperator

from airflow_provider_srconnect import assets, contract, lineage
from airflow_provider_srconnect._task import connection_defined, permanent_errors_fail_the_task
from airflow_provider_srconnect.destinations.local import LocalDestination
from airflow_provider_srconnect.exceptions import SRConnectParamError
from airflow_provider_srconnect.export import (
    FORMATS,
    MANIFEST_SUFFIX,
    ArchiveKeys,
    ExportRequest,
    IncludeLogs,
    LogType,
    OutputFormat,
    archive_keys,
    check_listing,
)
from airflow_provider_srconnect.hooks.srconnect import SRConnectHook
from airflow_provider_srconnect.links import SRConnectReportingLink
from airflow_provider_srconnect.publish import Job, StateStore, publish
from airflow_provider_srconnect.windows import OnExpired, check_on_expired, check_step, resolve_window

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Sequence

    from airflow.providers.openlineage.extractors import OperatorLineage

    from airflow_provider_srconnect.destinations import Destination
    from airflow_provider_srconnect.export import Archived
    from airflow_provider_srconnect.windows import LogWindow


class SRConnectExportOperator(BaseOperator):
    """Archive one window of SRC logs (by default the run's data interval) as gzip NDJSON or Parquet, plus a manifest.

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
    :param page_size: records per API page (default: the contract's, 100 for the default contract).
    :param log_workers: threads fetching logs; the connection's rate budget bounds the request rate.
    :param list_workers: threads listing time slices of a window at once, so that a window of many pages
        reaches the rate budget instead of one page per round trip; 1 lists one page after another.
    :param step: read the window in sub-windows of at most this long, one after another (for dense
        teams); None reads it at once. The records, their order and the decompressed bytes are the
        same whatever the step; each sub-window is one gzip member of the data object.
    :param durable: with a ``step`` that splits the window, on Airflow 3.3+: stage each finished
        sub-window under the staging prefix and checkpoint it in the task state store, so that a
        retry resumes after it. Elsewhere (or False) a retry reads the whole window again.
    :param output_format: ``"jsonl.gz"`` (gzip NDJSON, the default) or ``"parquet"`` (typed columns, see
        ``docs/schema.md``; needs the ``parquet`` extra). With a ``step``, each sub-window ends a row group.
        A Parquet file holds at most 32 row groups (262,144 records); a larger window goes on in
        ``{name}-0001.parquet`` and on, all listed in the manifest's ``objects`` and the result's
        ``data_uris``. A Parquet export is never staged, so ``durable`` does not apply to it. (templated)
    """

    template_fields: Sequence[str] = (
        "srconnect_conn_id",
        "team_id",
        "window_start",
        "window_end",
        "prefix",
        "output_format",
    )
    ui_color = "#e8f1fb"
    operator_extra_links = (SRConnectReportingLink(),)
    #: What the last ``execute`` wrote, for OpenLineage (read on the same object once the task has run).
    _lineage: dict[str, Any] | None = None

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
        page_size: int | None = None,
        log_workers: int = 8,
        list_workers: int = 8,
        step: dt.timedelta | None = None,
        durable: bool = True,
        output_format: OutputFormat = "jsonl.gz",
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
        self.list_workers = list_workers
        self.step = step
        self.durable = durable
        self.output_format = output_format
        # Checked when the DAG is parsed, long before any request (a templated format once rendered).
        self._request(parsing=True)
        check_on_expired(on_expired)
        check_step(step)

    @functools.cached_property
    def hook(self) -> SRConnectHook:
        return SRConnectHook(srconnect_conn_id=self.srconnect_conn_id)

    def _request(self, *, parsing: bool = False) -> ExportRequest:
        templated = parsing and isinstance(self.output_format, str) and "{" in self.output_format
        return ExportRequest(
            log_type=self.log_type,
            include_logs=self.include_logs,
            execution_statuses=self.execution_statuses,
            trigger_types=self.trigger_types,
            team_id=self.team_id or None,
            page_size=self.page_size,
            log_workers=self.log_workers,
            list_workers=self.list_workers,
            output_format="jsonl.gz" if templated else self.output_format,
        )

    def destination(self) -> Destination:
        """Where the archive goes; subclasses name their storage."""
        raise NotImplementedError

    def keys(self, window: LogWindow) -> ArchiveKeys:
        """The data and manifest keys of a window."""
        return archive_keys(self.prefix, self.log_type, window, self.output_format)

    def execute(self, context: Any) -> dict[str, Any]:
        with permanent_errors_fail_the_task():
            return self._export(context)

    def _export(self, context: Any) -> dict[str, Any]:
        self._persist_link(context)
        window = resolve_window(context, self.window_start, self.window_end, on_expired=self.on_expired)
        if window is None:
            raise AirflowSkipException("the window is older than SRC's retention and on_expired='skip'")
        job = Job(window, self._request(), self.keys(window), self.step)
        destination = self._checked_destination(job)
        archived = publish(self.hook, job, destination, self._state_store(context), self.log)
        data_uris = [uri for uri, _ in archived.objects]
        first_uri, first = archived.objects[0]
        self.log.info(
            "Archived %d %s records of [%s, %s) to %s (sha256 %s)%s",
            archived.records,
            job.request.log_type,
            window.start,
            window.end,
            first_uri,
            first.sha256,
            f" and {len(data_uris) - 1} more files beside it" if len(data_uris) > 1 else "",
        )
        summary = {
            "data_uri": first_uri,
            "data_uris": data_uris,
            "manifest_uri": destination.uri(job.keys.manifest),
            "records": archived.records,
            "bytes": archived.bytes,
            "sha256": first.sha256,
        }
        self._report(context, window, summary, archived)
        return summary

    def archive_asset_uri(self) -> str | None:
        """The URI of the archive folder as an Airflow asset (rendered); None where there is none."""
        return None

    def _checked_destination(self, job: Job) -> Destination:
        """The destination, once everything a user may get wrong is checked, before any request to SRC.

        The connection (defined, its fields, the team), the listing's parameters (as the hook checks them,
        without sending), then the destination: a missing connection, a bad field or parameter, a bucket that
        does not exist or a folder that cannot be written raise ``SRConnectParamError``, which fails the task
        without retries.
        """
        with connection_defined("srconnect_conn_id", self.srconnect_conn_id, SRConnectHook.conn_type):
            self.hook.team(self.team_id or None)
        check_listing(self.hook, job.window, job.request)
        destination = self.destination()
        warning = destination.check()
        if warning:
            self.log.warning("%s", warning)
        return destination

    def _persist_link(self, context: Any) -> None:
        """Store what the "SRC Reporting" link needs, first: however the task ends, the link finds its XCom.

        (Airflow 3 resolves the link at the end of every try, and logs a missing XCom as an error.) The value
        is empty where there is no link: behind another host than SRC's own regional APIs (a private instance,
        the sandbox) the web app's address is unknown. A link never fails the task.
        """
        region = team_id = ""
        try:
            settings = self.hook.settings
            if settings.base_url == contract.BASE_URLS.get(settings.region):
                region, team_id = settings.region, self.hook.team(self.team_id or None)
        except Exception as error:  # the export reports a bad connection or team itself, before any request
            self.log.info("No SRC Reporting link for this task: %s", error)
        try:
            SRConnectReportingLink.persist(context, self, region=region, team_id=team_id, log_type=self.log_type)
        except Exception as error:
            self.log.warning("Could not store the SRC Reporting link: %s: %s", type(error).__name__, error)

    def _report(self, context: Any, window: LogWindow, summary: dict[str, Any], archived: Archived) -> None:
        """Tell Airflow what was written: the extra of the outlets' asset events, and the lineage."""
        outlet_events = context.get("outlet_events") if hasattr(context, "get") else None
        if outlet_events is not None and self.outlets:
            extra = assets.event_extra(window, self.log_type, summary)
            assets.record_event(self.outlets, outlet_events, self.archive_asset_uri(), extra)
        self._lineage = {
            "region": self.hook.settings.region,
            "team_id": self.hook.team(self.team_id or None),
            "log_type": self.log_type,
            "outputs": [(uri, one.records, one.bytes) for uri, one in archived.objects],
        }

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> OperatorLineage[Any, Any] | None:
        """OpenLineage, when its provider is installed: the team's log stream in, the data objects out."""
        return lineage.export_lineage(**self._lineage) if self._lineage else None

    def _state_store(self, context: Any) -> StateStore | None:
        """Airflow 3.3+'s task state store, when ``durable``; None elsewhere (a retry then restarts)."""
        if not self.durable:
            return None
        store = context.get("task_state_store") if hasattr(context, "get") else None
        if store is None and self.step is not None:
            self.log.info("No task state store (Airflow < 3.3 or not in a task): a retry restarts the window")
        return store


class SRConnectFetchLogsOperator(SRConnectExportOperator):
    """Write one window of SRC logs to a local gzip NDJSON or Parquet file (manifest beside it); return its path.

    For handing on to an existing transfer such as ``LocalFilesystemToS3Operator``.

    :param path: the file to write; its manifest goes beside it, ``.jsonl.gz`` (or ``.parquet``) replaced by
        ``.manifest.json``. A name ending in the other format's suffix is an error. A Parquet window of more
        than 32 row groups goes on in ``{name}-0001.parquet`` and on beside it (the manifest lists them);
        the task returns the first file's path. (templated)
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
        suffix = FORMATS[self.output_format].suffix
        for other, spec in FORMATS.items():
            if other != self.output_format and name.endswith(spec.suffix):
                raise SRConnectParamError(
                    "path",
                    f"{name!r} ends in {spec.suffix!r} but output_format is {self.output_format!r}",
                    f"End the file's name in {suffix!r}, or set output_format={other!r}.",
                )
        return ArchiveKeys(name, name.removesuffix(suffix) + MANIFEST_SUFFIX, f".{name}.staging/")

    def execute(self, context: Any) -> str:  # type: ignore[override]
        return str(super().execute(context)["data_uri"])
