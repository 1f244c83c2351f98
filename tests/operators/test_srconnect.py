"""Export operators: window from context, upload then manifest, XCom, fail-fast and skip (unit level)."""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import pendulum
import pytest
from moto import mock_aws

from airflow_provider_srconnect import contract
from airflow_provider_srconnect.destinations.local import LocalDestination
from airflow_provider_srconnect.exceptions import SRConnectParamError
from airflow_provider_srconnect.operators.srconnect import SRConnectFetchLogsOperator
from airflow_provider_srconnect.transfers.srconnect_to_gcs import SRConnectToGCSOperator
from airflow_provider_srconnect.transfers.srconnect_to_s3 import SRConnectToS3Operator
from tests.conftest import fails_task_with
from tests.hooks.conftest import API_KEY
from tests.operators.faults import Injected, Store

START = pendulum.datetime(2026, 11, 1, tz="UTC")
END = pendulum.datetime(2026, 11, 2, tz="UTC")
CONTEXT = {"data_interval_start": START, "data_interval_end": END}
LIST_URL = "https://src.test/v1/team/team-1/invocationLogs"


def records(n: int) -> list[dict[str, Any]]:
    return [
        {
            contract.InvocationField.ID: f"inv-{i}",
            contract.InvocationField.START_TIME: contract.format_time(START.add(minutes=i)),
        }
        for i in range(n)
    ]


@pytest.fixture
def src(make_hook, requests_mock):
    """The srconnect_unit connection, and an API that serves 3 invocations on one page."""
    make_hook()
    requests_mock.get(LIST_URL, json={contract.DEFAULT.listing.wrapper: records(3), "nextToken": None})
    return requests_mock


def test_fetch_logs_writes_the_file_and_manifest_and_returns_the_path(src, tmp_path):
    target = tmp_path / "out" / "src.jsonl.gz"
    op = SRConnectFetchLogsOperator(task_id="fetch", srconnect_conn_id="srconnect_unit", path=str(target))

    assert op.execute(CONTEXT) == str(target)
    data = target.read_bytes()
    assert [json.loads(x)["invocationId"] for x in gzip.decompress(data).splitlines()] == ["inv-0", "inv-1", "inv-2"]
    body = json.loads((tmp_path / "out" / "src.manifest.json").read_text())
    assert body["sha256"] == hashlib.sha256(data).hexdigest() and body["records"] == 3
    assert not list((tmp_path / "out").glob("*.part"))


@mock_aws
def test_s3_transfer_uploads_data_then_manifest_and_returns_no_secret(src, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_AWS_UNIT", json.dumps({"conn_type": "aws", "extra": {"region_name": "us-east-1"}}))
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="archive")
    op = SRConnectToS3Operator(
        task_id="to_s3", srconnect_conn_id="srconnect_unit", aws_conn_id="aws_unit", s3_bucket="archive", prefix="src"
    )

    xcom = op.execute(CONTEXT)

    key = "src/invocations/dt=2026-11-01/20261101T000000Z_20261102T000000Z.jsonl.gz"
    assert xcom["data_uri"] == f"s3://archive/{key}" and xcom["records"] == 3
    data = s3.get_object(Bucket="archive", Key=key)["Body"].read()
    assert xcom["sha256"] == hashlib.sha256(data).hexdigest()
    head = s3.head_object(Bucket="archive", Key=key)
    assert head["ContentType"] == "application/gzip"
    body = json.loads(
        s3.get_object(Bucket="archive", Key=xcom["manifest_uri"].removeprefix("s3://archive/"))["Body"].read()
    )
    assert body["sha256"] == xcom["sha256"]
    assert API_KEY not in json.dumps(xcom)


def test_bad_arguments_fail_when_the_dag_is_parsed():
    with pytest.raises(SRConnectParamError, match="include_logs"):
        SRConnectToS3Operator(task_id="t", s3_bucket="b", include_logs="failures")  # type: ignore[arg-type]
    with pytest.raises(SRConnectParamError, match="on_expired"):
        SRConnectToGCSOperator(task_id="t", gcs_bucket="b", on_expired="never")  # type: ignore[arg-type]
    with pytest.raises(SRConnectParamError, match="log_type"):
        SRConnectToS3Operator(task_id="t", s3_bucket="b", log_type="audit", execution_statuses=["FINISHED"])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"s3_bucket": ""}, "s3_bucket"),
        ({"s3_bucket": "b", "prefix": "../x"}, "prefix"),
        ({"s3_bucket": "b", "window_end": "2999-01-01T00:00:00Z"}, "future"),
    ],
)
def test_bad_rendered_values_fail_before_any_request(make_hook, requests_mock, kwargs, match):
    make_hook()
    op = SRConnectToS3Operator(task_id="t", srconnect_conn_id="srconnect_unit", **kwargs)

    with fails_task_with(SRConnectParamError, match=match):
        op.execute(CONTEXT)
    assert requests_mock.call_count == 0


def test_an_expired_window_is_skipped_when_asked(make_hook, requests_mock):
    from airflow.providers.common.compat.sdk import AirflowSkipException

    make_hook()
    old = {
        "data_interval_start": pendulum.datetime(2020, 1, 1, tz="UTC"),
        "data_interval_end": pendulum.datetime(2020, 1, 2, tz="UTC"),
    }
    op = SRConnectToS3Operator(task_id="t", srconnect_conn_id="srconnect_unit", s3_bucket="b", on_expired="skip")

    with pytest.raises(AirflowSkipException):
        op.execute(old)
    assert requests_mock.call_count == 0


def test_template_fields_cover_what_users_render():
    assert set(SRConnectToS3Operator.template_fields) >= {
        "srconnect_conn_id",
        "team_id",
        "window_start",
        "window_end",
        "prefix",
        "s3_bucket",
        "aws_conn_id",
    }
    assert set(SRConnectToGCSOperator.template_fields) >= {"gcs_bucket", "gcp_conn_id", "prefix"}
    assert "path" in SRConnectFetchLogsOperator.template_fields


def test_gcs_transfer_uploads_the_file_then_the_manifest(src, mocker, monkeypatch):
    gcp = {"conn_type": "google_cloud_platform", "extra": {"is_anonymous": True, "project": "p"}}
    monkeypatch.setenv("AIRFLOW_CONN_GCP_UNIT", json.dumps(gcp))
    uploads: list[tuple[str, str, bytes]] = []

    class Blob:
        def __init__(self, name: str, chunk_size: int | None = None) -> None:
            self.name = name

        def upload_from_file(self, fileobj, content_type, rewind):
            uploads.append((self.name, content_type, fileobj.read()))

        def upload_from_string(self, data, content_type):
            uploads.append((self.name, content_type, data))

    client = mocker.MagicMock()
    client.bucket.return_value.blob.side_effect = Blob
    mocker.patch("airflow.providers.google.cloud.hooks.gcs.GCSHook.get_conn", return_value=client)
    op = SRConnectToGCSOperator(
        task_id="to_gcs", srconnect_conn_id="srconnect_unit", gcp_conn_id="gcp_unit", gcs_bucket="archive"
    )

    xcom = op.execute(CONTEXT)

    (data_key, data_type, data), (manifest_key, manifest_type, manifest) = uploads
    assert xcom["data_uri"] == f"gs://archive/{data_key}" and data_key.endswith(".jsonl.gz")
    manifest_of_data = data_key.replace("invocations/", "_manifests/invocations/", 1).removesuffix(".jsonl.gz")
    assert manifest_key == manifest_of_data + ".manifest.json"
    assert (data_type, manifest_type) == ("application/gzip", "application/json")
    assert json.loads(manifest)["sha256"] == hashlib.sha256(data).hexdigest() == xcom["sha256"]
    client.bucket.assert_called_with("archive")


def test_step_is_checked_when_the_dag_is_parsed():
    with pytest.raises(SRConnectParamError, match="step"):
        SRConnectToS3Operator(task_id="t", s3_bucket="b", step=dt.timedelta(0))
    with pytest.raises(SRConnectParamError, match="step"):
        SRConnectToS3Operator(task_id="t", s3_bucket="b", step="1h")  # type: ignore[arg-type]


def test_fetch_logs_with_a_step_resumes_from_the_task_state_store(make_hook, requests_mock, tmp_path, monkeypatch):
    make_hook()
    day = records(24 * 60)[::30]  # one invocation every 30 minutes

    def listing(request: Any, context: Any) -> dict[str, Any]:
        query = parse_qs(urlsplit(request.url).query)
        start, end = (
            contract.parse_time(query[name][0])
            for name in (contract.DEFAULT.window.from_param, contract.DEFAULT.window.to_param)
        )
        chosen = [r for r in day if start <= contract.parse_time(r[contract.InvocationField.START_TIME]) < end]
        return {contract.DEFAULT.listing.wrapper: chosen, "nextToken": None}

    requests_mock.get(LIST_URL, json=listing)
    target = tmp_path / "src.jsonl.gz"
    uploads: list[str] = []
    real_upload = LocalDestination.upload_file

    def third_upload_dies(self: LocalDestination, key: str, fileobj: Any, content_type: str) -> None:
        uploads.append(key)
        if len(uploads) == 3:
            raise Injected("the disk is gone")
        real_upload(self, key, fileobj, content_type)

    monkeypatch.setattr(LocalDestination, "upload_file", third_upload_dies)
    op = SRConnectFetchLogsOperator(
        task_id="fetch", srconnect_conn_id="srconnect_unit", path=str(target), step=dt.timedelta(hours=6)
    )
    store = Store()
    with pytest.raises(Injected):
        op.execute({**CONTEXT, "task_state_store": store})
    first = requests_mock.call_count  # three sub-windows, and the fourth when it was listed ahead in time
    assert first in (3, 4) and not target.exists()

    assert op.execute({**CONTEXT, "task_state_store": store}) == str(target)

    assert requests_mock.call_count == first + 2  # the retry read only the two sub-windows not checkpointed
    lines = gzip.decompress(target.read_bytes()).splitlines()
    assert [json.loads(x)[contract.InvocationField.ID] for x in lines] == [r[contract.InvocationField.ID] for r in day]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["src.jsonl.gz", "src.manifest.json"]
    assert store.values == {}
