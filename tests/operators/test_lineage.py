"""OpenLineage: the team's log stream in, the object written out with its row count and size; a no-op without it."""

from __future__ import annotations

import json
import sys
from typing import Any

import boto3
import pendulum
import pytest
from moto import mock_aws

from airflow_provider_srconnect import contract, lineage
from airflow_provider_srconnect.operators.srconnect import SRConnectFetchLogsOperator
from airflow_provider_srconnect.transfers.srconnect_to_s3 import SRConnectToS3Operator

START = pendulum.datetime(2026, 11, 1, tz="UTC")
CONTEXT = {"data_interval_start": START, "data_interval_end": START.add(days=1)}
LIST_URL = "https://src.test/v1/team/team-1/invocationLogs"
DATA_KEY = "src/invocations/dt=2026-11-01/20261101T000000Z_20261102T000000Z.jsonl.gz"


@pytest.fixture
def src(make_hook, requests_mock):
    """The srconnect_unit connection in the US region, serving 3 invocations."""
    make_hook(region="us")
    items = [
        {
            contract.InvocationField.ID: f"inv-{i}",
            contract.InvocationField.START_TIME: contract.format_time(START.add(minutes=i)),
        }
        for i in range(3)
    ]
    requests_mock.get(LIST_URL, json={contract.DEFAULT.listing.wrapper: items, "nextToken": None})


@pytest.fixture
def s3_transfer(src, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_AWS_UNIT", json.dumps({"conn_type": "aws", "extra": {"region_name": "us-east-1"}}))
    with mock_aws():
        boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="archive")
        yield SRConnectToS3Operator(
            task_id="s3", srconnect_conn_id="srconnect_unit", aws_conn_id="aws_unit", s3_bucket="archive", prefix="src"
        )


def as_dicts(datasets: list[Any]) -> list[dict[str, Any]]:
    from openlineage.client.serde import Serde

    return [Serde.to_dict(dataset) for dataset in datasets]


def test_the_s3_transfer_reports_the_team_stream_in_and_the_object_out_with_statistics(s3_transfer):
    xcom = s3_transfer.execute(CONTEXT)

    facets = s3_transfer.get_openlineage_facets_on_complete(task_instance=None)

    assert [(d["namespace"], d["name"]) for d in as_dicts(facets.inputs)] == [("srconnect://us/team-1", "invocations")]
    [output] = as_dicts(facets.outputs)
    assert (output["namespace"], output["name"]) == ("s3://archive", DATA_KEY)
    statistics = output["outputFacets"]["outputStatistics"]
    assert (statistics["rowCount"], statistics["size"]) == (3, xcom["bytes"])


def test_the_openlineage_providers_default_extractor_picks_the_lineage_up(s3_transfer):
    from airflow.providers.openlineage.extractors.base import DefaultExtractor

    s3_transfer.execute(CONTEXT)

    extracted = DefaultExtractor(s3_transfer).extract_on_complete(task_instance=None)

    assert extracted is not None
    assert [(d.namespace, d.name) for d in extracted.outputs] == [("s3://archive", DATA_KEY)]


def test_a_local_file_is_named_as_a_file(src, tmp_path):
    target = tmp_path / "src.jsonl.gz"
    op = SRConnectFetchLogsOperator(task_id="fetch", srconnect_conn_id="srconnect_unit", path=str(target))
    op.execute(CONTEXT)

    facets = op.get_openlineage_facets_on_complete(task_instance=None)

    assert [(d.namespace, d.name) for d in facets.outputs] == [("file", str(target))]


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("s3://bucket/a/b.jsonl.gz", ("s3://bucket", "a/b.jsonl.gz")),
        ("gs://bucket/a/b.jsonl.gz", ("gs://bucket", "a/b.jsonl.gz")),
        ("file:///tmp/a.jsonl.gz", ("file", "/tmp/a.jsonl.gz")),
        ("/tmp/a.jsonl.gz", ("file", "/tmp/a.jsonl.gz")),
    ],
)
def test_objects_are_named_as_the_openlineage_provider_names_them(uri, expected):
    assert lineage.output_name(uri) == expected


def test_each_data_object_of_a_window_is_an_output_with_its_statistics():
    uris = ["s3://b/p/dt=2026-11-10/w.parquet", "s3://b/p/dt=2026-11-10/w-0001.parquet"]
    facets = lineage.export_lineage(
        region="eu", team_id="t", log_type="invocations", outputs=[(uris[0], 5, 50), (uris[1], 2, 20)]
    )

    assert facets is not None
    outputs = as_dicts(facets.outputs)
    assert [(o["namespace"], o["name"]) for o in outputs] == [("s3://b", uri.removeprefix("s3://b/")) for uri in uris]
    statistics = [o["outputFacets"]["outputStatistics"] for o in outputs]
    assert [(one["rowCount"], one["size"]) for one in statistics] == [(5, 50), (2, 20)]


def test_nothing_is_reported_before_the_task_has_written_anything():
    op = SRConnectToS3Operator(task_id="s3", s3_bucket="archive")

    assert op.get_openlineage_facets_on_complete(task_instance=None) is None


def test_without_the_openlineage_provider_it_is_a_no_op(s3_transfer, monkeypatch):
    s3_transfer.execute(CONTEXT)
    # As if the provider were not installed: importing it fails.
    monkeypatch.setitem(sys.modules, "airflow.providers.openlineage", None)
    monkeypatch.setitem(sys.modules, "airflow.providers.openlineage.extractors", None)

    assert s3_transfer.get_openlineage_facets_on_complete(task_instance=None) is None
    assert lineage.export_lineage(region="eu", team_id="t", log_type="audit", outputs=[("gs://b/k", 1, 2)]) is None
