"""OpenLineage for an export: the SRC team's log stream in, the object written out.

- input: namespace ``srconnect://{region}/{team_id}``, name the log type (``invocations``, ``audit``);
- output: the data object, named as the OpenLineage provider names storage objects: namespace
  ``s3://{bucket}`` or ``gs://{bucket}`` and the key as name (a local file: namespace ``file``, its
  path), with an ``outputStatistics`` facet (record count and byte size).

Everything here is a no-op when the OpenLineage provider is not installed: ``export_lineage`` returns
None and imports nothing from it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from airflow.providers.openlineage.extractors import OperatorLineage

NAMESPACE_SCHEME = "srconnect"
#: Object stores whose URIs map to an OpenLineage namespace ``{scheme}://{bucket}`` and a key.
_BUCKET_SCHEMES = ("s3", "gs")


def input_namespace(region: str, team_id: str) -> str:
    """The namespace of a team's log streams: ``srconnect://{region}/{team_id}``."""
    return f"{NAMESPACE_SCHEME}://{region}/{team_id}"


def output_name(data_uri: str) -> tuple[str, str]:
    """(namespace, name) of a written object: ``s3://bucket`` + key, ``gs://bucket`` + key, ``file`` + path."""
    parts = urlsplit(data_uri)
    if parts.scheme in _BUCKET_SCHEMES:
        return f"{parts.scheme}://{parts.netloc}", parts.path.lstrip("/")
    if parts.scheme == "file":
        return "file", parts.path
    return "file", data_uri


def export_lineage(
    *, region: str, team_id: str, log_type: str, data_uri: str, records: int, size: int
) -> OperatorLineage[Any, Any] | None:
    """The lineage of one export, or None when the OpenLineage provider is not installed."""
    try:
        from airflow.providers.common.compat.openlineage.facet import (
            InputDataset,
            OutputDataset,
            OutputStatisticsOutputDatasetFacet,
        )
        from airflow.providers.openlineage.extractors import OperatorLineage
    except ImportError:
        return None

    namespace, name = output_name(data_uri)
    return OperatorLineage(
        inputs=[InputDataset(namespace=input_namespace(region, team_id), name=log_type)],
        outputs=[
            OutputDataset(
                namespace=namespace,
                name=name,
                outputFacets={"outputStatistics": OutputStatisticsOutputDatasetFacet(rowCount=records, size=size)},
            )
        ],
    )
