"""OpenLineage for an export: the SRC team's log stream in, the objects written out.

- input: namespace ``srconnect://{region}/{team_id}``, name the log type (``invocations``, ``audit``);
- outputs: the data objects (one, unless a Parquet window needed several files), named as the
  OpenLineage provider names storage objects: namespace ``s3://{bucket}`` or ``gs://{bucket}`` and the
  key as name (a local file: namespace ``file``, its path), each with an ``outputStatistics`` facet
  (record count and byte size).

Everything here is a no-op when the OpenLineage provider is not installed: ``export_lineage`` returns
None and imports nothing from it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from collections.abc import Sequence

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
    *, region: str, team_id: str, log_type: str, outputs: Sequence[tuple[str, int, int]]
) -> OperatorLineage[Any, Any] | None:
    """The lineage of one export (``outputs``: URI, records, bytes of each data object), or None without OpenLineage."""
    try:
        from airflow.providers.common.compat.openlineage.facet import (
            InputDataset,
            OutputDataset,
            OutputStatisticsOutputDatasetFacet,
        )
        from airflow.providers.openlineage.extractors import OperatorLineage
    except ImportError:
        return None

    datasets = []
    for uri, records, size in outputs:
        namespace, name = output_name(uri)
        statistics = OutputStatisticsOutputDatasetFacet(rowCount=records, size=size)
        datasets.append(OutputDataset(namespace=namespace, name=name, outputFacets={"outputStatistics": statistics}))
    return OperatorLineage(
        inputs=[InputDataset(namespace=input_namespace(region, team_id), name=log_type)], outputs=datasets
    )
