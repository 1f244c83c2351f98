"""The transfers declare their archive as an asset (or its alias) and give its event the window and counts."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pendulum
import pytest
from airflow.providers.common.compat.sdk import Asset, AssetAlias
from moto import mock_aws

from airflow_provider_srconnect import assets, contract
from airflow_provider_srconnect.operators.srconnect import SRConnectFetchLogsOperator
from airflow_provider_srconnect.transfers.srconnect_to_gcs import SRConnectToGCSOperator
from airflow_provider_srconnect.transfers.srconnect_to_s3 import SRConnectToS3Operator

START = pendulum.datetime(2026, 11, 1, tz="UTC")
END = pendulum.datetime(2026, 11, 2, tz="UTC")
LIST_URL = "https://src.test/v1/team/team-1/invocationLogs"
DATA_KEY = "src/invocations/dt=2026-11-01/20261101T000000Z_20261102T000000Z.jsonl.gz"
MANIFEST_KEY = "src/_manifests/invocations/dt=2026-11-01/20261101T000000Z_20261102T000000Z.manifest.json"


def outlet_event_accessors() -> Any:
    """Airflow's own ``context["outlet_events"]`` (Airflow 3: task SDK; 2.11: ``airflow.utils.context``)."""
    try:
        from airflow.sdk.execution_time.context import OutletEventAccessors
    except ImportError:  # Airflow 2.11
        from airflow.utils.context import OutletEventAccessors  # type: ignore[no-redef,attr-defined]
    return OutletEventAccessors()


def alias_events(accessors: Any, alias: Any) -> list[tuple[str, dict[str, Any]]]:
    """(asset URI, event extra) of each event recorded through ``alias``."""
    accessor = accessors[alias]
    if hasattr(accessor, "asset_alias_events"):  # Airflow 3
        return [(e.dest_asset_key.uri, e.extra) for e in accessor.asset_alias_events]
    return [(e["dest_dataset_uri"], e["extra"]) for e in accessor.dataset_alias_events]


def test_a_transfer_with_a_literal_bucket_declares_its_archive_folder_as_an_asset():
    s3 = SRConnectToS3Operator(task_id="s3", s3_bucket="archive", prefix="/src/")
    gcs = SRConnectToGCSOperator(task_id="gcs", gcs_bucket="archive", prefix="", log_type="audit")

    assert s3.outlets == [Asset("s3://archive/src/invocations")]
    assert gcs.outlets == [Asset("gs://archive/audit")]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"s3_bucket": "{{ var.value.srconnect_s3_bucket }}"},
        {"s3_bucket": "archive", "prefix": "{{ var.value.get('srconnect_prefix', 'srconnect') }}"},
    ],
)
def test_a_templated_bucket_or_prefix_declares_the_alias_of_the_log_type(kwargs):
    op = SRConnectToS3Operator(task_id="s3", log_type="audit", **kwargs)

    assert op.outlets == [AssetAlias("srconnect_audit_archive")]
    assert assets.alias_name("invocations") == "srconnect_invocations_archive"


def test_outlets_given_by_the_user_replace_the_default_and_an_empty_list_opts_out():
    mine = Asset("s3://elsewhere/logs")

    assert SRConnectToS3Operator(task_id="a", s3_bucket="archive", outlets=[mine]).outlets == [mine]
    assert SRConnectToGCSOperator(task_id="b", gcs_bucket="archive", outlets=[]).outlets == []
    assert SRConnectToS3Operator(task_id="c", s3_bucket="").outlets == []  # fails at run time, not at parse
    assert SRConnectFetchLogsOperator(task_id="d", path="/tmp/x.jsonl.gz").outlets == []


@pytest.fixture
def s3_archive(make_hook, requests_mock, monkeypatch):
    """The srconnect_unit connection serving 3 invocations, and a moto bucket ``archive``."""
    make_hook()
    items = [
        {
            contract.InvocationField.ID: f"inv-{i}",
            contract.InvocationField.START_TIME: contract.format_time(START.add(minutes=i)),
        }
        for i in range(3)
    ]
    requests_mock.get(LIST_URL, json={contract.DEFAULT.listing.wrapper: items, "nextToken": None})
    monkeypatch.setenv("AIRFLOW_CONN_AWS_UNIT", json.dumps({"conn_type": "aws", "extra": {"region_name": "us-east-1"}}))
    with mock_aws():
        boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="archive")
        yield


def run(op: Any) -> tuple[dict[str, Any], Any]:
    events = outlet_event_accessors()
    xcom = op.execute({"data_interval_start": START, "data_interval_end": END, "outlet_events": events})
    return xcom, events


def expected_extra(xcom: dict[str, Any]) -> dict[str, Any]:
    return {
        "window_start": "2026-11-01T00:00:00+00:00",
        "window_end": "2026-11-02T00:00:00+00:00",
        "log_type": "invocations",
        "records": 3,
        "bytes": xcom["bytes"],
        "data_uri": f"s3://archive/{DATA_KEY}",
        "manifest_uri": f"s3://archive/{MANIFEST_KEY}",
    }


def test_the_assets_event_carries_the_window_log_type_counts_and_uris(s3_archive):
    op = SRConnectToS3Operator(
        task_id="s3", srconnect_conn_id="srconnect_unit", aws_conn_id="aws_unit", s3_bucket="archive", prefix="src"
    )

    xcom, events = run(op)

    assert xcom["records"] == 3 and xcom["bytes"] > 0
    assert events[Asset("s3://archive/src/invocations")].extra == expected_extra(xcom)
    json.dumps(events[Asset("s3://archive/src/invocations")].extra)  # an event extra must be JSON
    frozenset(events[Asset("s3://archive/src/invocations")].extra.items())  # and hashable: Airflow 2.11 hashes it


def test_through_the_alias_the_task_records_the_rendered_archive_asset(s3_archive):
    op = SRConnectToS3Operator(
        task_id="s3",
        srconnect_conn_id="srconnect_unit",
        aws_conn_id="aws_unit",
        s3_bucket="{{ var.value.srconnect_s3_bucket }}",
        prefix="src",
    )
    op.s3_bucket = "archive"  # as Airflow renders it before execute

    xcom, events = run(op)

    alias = AssetAlias("srconnect_invocations_archive")
    assert alias_events(events, alias) == [("s3://archive/src/invocations", expected_extra(xcom))]


def test_every_asset_outlet_gets_the_extra_and_no_outlet_means_no_event(s3_archive):
    mine = Asset("s3://elsewhere/logs")
    op = SRConnectToS3Operator(
        task_id="s3",
        srconnect_conn_id="srconnect_unit",
        aws_conn_id="aws_unit",
        s3_bucket="archive",
        prefix="src",
        outlets=[mine],
    )
    xcom, events = run(op)
    assert events[mine].extra == expected_extra(xcom)

    none = SRConnectToS3Operator(
        task_id="s3",
        srconnect_conn_id="srconnect_unit",
        aws_conn_id="aws_unit",
        s3_bucket="archive",
        prefix="src",
        outlets=[],
    )
    _, events = run(none)
    assert len(events) == 0
