"""The archive as an Airflow Asset (a Dataset on Airflow 2.11): what a transfer declares, and the event it records.

A transfer whose bucket and prefix are plain text declares its archive folder,
``Asset("s3://{bucket}/{prefix}/{log_type}")`` (``gs://`` for GCS), in its ``outlets``, so a DAG can be
scheduled on it. Airflow reads outlets when it parses the DAG, before templates are rendered, so a
transfer whose bucket or prefix is templated (the example DAGs read them from Variables at run time)
declares the alias ``srconnect_{log_type}_archive`` instead; at run time it records the event of the
rendered asset through the alias, and a DAG scheduled on the alias runs on it.

Every event carries ``event_extra``: the window, the log type, the record count and byte size, and
the URIs of the data object and its manifest.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import Asset, AssetAlias

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from airflow_provider_srconnect.windows import LogWindow

#: The alias a transfer with a templated bucket or prefix records its archive through.
ALIAS_NAME = "srconnect_{log_type}_archive"
_JINJA_MARKS = ("{{", "{%")


def alias_name(log_type: str) -> str:
    """The name of the alias of a log type's archives, e.g. ``srconnect_invocations_archive``."""
    return ALIAS_NAME.format(log_type=log_type)


def archive_uri(scheme: str, bucket: str, prefix: str, log_type: str) -> str:
    """The URI of the archive folder of a log type: ``{scheme}://{bucket}/{prefix}/{log_type}``."""
    folder = "/".join(part for part in (prefix.strip("/"), log_type) if part)
    return f"{scheme}://{bucket}/{folder}"


def is_templated(value: object) -> bool:
    """Whether ``value`` is a Jinja template (known only once Airflow renders it)."""
    return isinstance(value, str) and any(mark in value for mark in _JINJA_MARKS)


def default_outlets(scheme: str, bucket: str, prefix: str, log_type: str) -> list[Any]:
    """What a transfer declares when it is given no ``outlets``: the archive's asset, or its log type's alias.

    An empty bucket declares nothing (the task fails on it before any request).
    """
    if is_templated(bucket) or is_templated(prefix):
        return [AssetAlias(alias_name(log_type))]
    if not bucket:
        return []
    return [Asset(archive_uri(scheme, bucket, prefix, log_type))]


def event_extra(window: LogWindow, log_type: str, summary: Mapping[str, Any]) -> dict[str, Any]:
    """The extra of the archive's asset event: plain JSON values (Airflow 2.11 hashes it, so no list), never data."""
    return {
        "window_start": window.start.isoformat(),
        "window_end": window.end.isoformat(),
        "log_type": log_type,
        "records": summary["records"],
        "bytes": summary["bytes"],
        "data_uri": summary["data_uri"],
        "manifest_uri": summary["manifest_uri"],
    }


def record_event(outlets: Iterable[Any], outlet_events: Any, uri: str | None, extra: dict[str, Any]) -> None:
    """Attach ``extra`` to the events of the task's outlets.

    An asset outlet gets ``extra`` on the event Airflow records for it when the task succeeds; an alias
    outlet records an event of the archive's asset (``uri``, rendered) through it.
    """
    for outlet in outlets:
        if isinstance(outlet, AssetAlias):
            if uri is not None:
                outlet_events[outlet].add(Asset(uri), extra=dict(extra))
        elif isinstance(outlet, Asset):
            outlet_events[outlet].extra.update(extra)
