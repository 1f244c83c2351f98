"""A user's mistake fails the task at once, without Airflow's retries, before any request to SRC.

A bucket that does not exist, a folder that cannot be written, a connection id that names no connection:
each ends the task with ``AirflowFailException`` (Airflow does not retry it) whose cause is the typed
error naming what to change. ``requests_mock`` has no SRC URL registered, so it records any request the
task would send; ``sleeps`` records any retry wait. A bucket the credentials may not look at (403) is
written to anyway, with a warning.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pendulum
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from airflow_provider_srconnect import contract
from airflow_provider_srconnect.destinations.gcs import GCSDestination
from airflow_provider_srconnect.destinations.local import LocalDestination
from airflow_provider_srconnect.destinations.s3 import S3Destination
from airflow_provider_srconnect.exceptions import SRConnectDestinationError, SRConnectParamError
from airflow_provider_srconnect.operators.srconnect import SRConnectFetchLogsOperator
from airflow_provider_srconnect.sensors.srconnect import SRConnectWindowSettledSensor
from airflow_provider_srconnect.transfers.srconnect_to_gcs import SRConnectToGCSOperator
from airflow_provider_srconnect.transfers.srconnect_to_s3 import SRConnectToS3Operator
from tests.conftest import fails_task_with

START = pendulum.datetime(2026, 11, 1, tz="UTC")
END = pendulum.datetime(2026, 11, 2, tz="UTC")
CONTEXT = {"data_interval_start": START, "data_interval_end": END}
LIST_URL = "https://src.test/v1/team/team-1/invocationLogs"
AWS_CONN = {"conn_type": "aws", "extra": {"region_name": "us-east-1"}}
GCP_CONN = {"conn_type": "google_cloud_platform", "extra": {"is_anonymous": True, "project": "p"}}


@pytest.fixture
def no_src(make_hook, requests_mock, sleeps):
    """The srconnect_unit connection; no SRC URL answers, so ``requests_mock`` sees every request sent."""
    make_hook()
    return requests_mock


@pytest.fixture
def aws(monkeypatch):
    """moto's S3 (nothing in it yet) and the connection aws_unit."""
    monkeypatch.setenv("AIRFLOW_CONN_AWS_UNIT", json.dumps(AWS_CONN))
    with mock_aws():
        yield boto3.client("s3", region_name="us-east-1")


def to_s3(**kwargs: Any) -> SRConnectToS3Operator:
    settings = {"task_id": "to_s3", "srconnect_conn_id": "srconnect_unit", "aws_conn_id": "aws_unit", **kwargs}
    return SRConnectToS3Operator(s3_bucket=settings.pop("s3_bucket", "archive"), **settings)


@contextlib.contextmanager
def fails_before_any_src_request(
    requests: Any, sleeps: list[float], error: type[BaseException], match: str
) -> Iterator[Any]:
    """The block must fail the task (no retries) with ``error``, having sent nothing to SRC and waited for nothing."""
    with fails_task_with(error, match=match) as raised:
        yield raised
    assert requests.call_count == 0, [r.url for r in requests.request_history]
    assert sleeps == []


# --- S3 ---------------------------------------------------------------------------------------------


def test_an_s3_bucket_that_does_not_exist_fails_before_any_src_request(no_src, aws, sleeps):
    with fails_before_any_src_request(no_src, sleeps, SRConnectDestinationError, "'no-such-bucket' does not") as r:
        to_s3(s3_bucket="no-such-bucket").execute(CONTEXT)

    assert r.value.param == "s3_bucket" and isinstance(r.value, SRConnectParamError)
    assert "Create the bucket, or correct s3_bucket" in str(r.value)


def test_an_s3_bucket_that_answers_403_is_written_with_a_warning(no_src, aws, mocker, log_text):
    import botocore.client

    aws.create_bucket(Bucket="archive")
    no_src.get(LIST_URL, json={contract.DEFAULT.listing.wrapper: [], "nextToken": None})
    real = botocore.client.BaseClient._make_api_call

    def no_list_bucket(self: Any, operation: str, params: Any) -> Any:
        if operation == "HeadBucket":  # a write-only role: s3:PutObject without s3:ListBucket
            raise ClientError({"Error": {"Code": "403", "Message": "Forbidden"}}, operation)
        return real(self, operation, params)

    mocker.patch.object(botocore.client.BaseClient, "_make_api_call", no_list_bucket)

    xcom = to_s3().execute(CONTEXT)

    assert aws.head_object(Bucket="archive", Key=xcom["data_uri"].removeprefix("s3://archive/"))
    assert "Could not check the S3 bucket 'archive' (HeadBucket answered 403" in log_text()


def test_an_undefined_aws_connection_fails_before_any_src_request(no_src, aws, sleeps):
    aws.create_bucket(Bucket="archive")

    with fails_before_any_src_request(no_src, sleeps, SRConnectParamError, "'aws_typo' is defined") as raised:
        to_s3(aws_conn_id="aws_typo").execute(CONTEXT)

    assert raised.value.param == "aws_conn_id"
    assert "airflow connections add aws_typo --conn-type aws" in str(raised.value)
    assert "AIRFLOW_CONN_AWS_TYPO" in str(raised.value)


def test_no_aws_credentials_at_all_fail_before_any_src_request(no_src, sleeps, monkeypatch, tmp_path):
    """``aws_default`` undefined is the amazon provider's "use boto3's own credentials"; none there is an error."""
    for name in ("AIRFLOW_CONN_AWS_DEFAULT", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))

    with fails_before_any_src_request(no_src, sleeps, SRConnectDestinationError, "no AWS credentials") as raised:
        to_s3(aws_conn_id="aws_default").execute(CONTEXT)

    assert raised.value.param == "aws_conn_id" and "'archive'" in str(raised.value)


def test_an_undefined_src_connection_fails_before_any_request(no_src, aws, sleeps):
    aws.create_bucket(Bucket="archive")

    with fails_before_any_src_request(no_src, sleeps, SRConnectParamError, "'srconnect_typo' is defined") as raised:
        to_s3(srconnect_conn_id="srconnect_typo").execute(CONTEXT)

    assert raised.value.param == "srconnect_conn_id"
    assert "airflow connections add srconnect_typo --conn-type srconnect" in str(raised.value)
    assert "AIRFLOW_CONN_SRCONNECT_TYPO" in str(raised.value)
    assert aws.list_objects_v2(Bucket="archive")["KeyCount"] == 0


def test_the_s3_check_says_nothing_of_a_bucket_that_exists(aws):
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    aws.create_bucket(Bucket="archive")
    assert S3Destination(S3Hook(aws_conn_id="aws_unit"), "archive").check() is None
    assert aws.list_objects_v2(Bucket="archive")["KeyCount"] == 0  # the check wrote nothing


# --- GCS --------------------------------------------------------------------------------------------


@pytest.fixture
def gcs(mocker, monkeypatch):
    """The connection gcp_unit and a storage client mock whose uploads land in ``gcs.uploads``."""
    monkeypatch.setenv("AIRFLOW_CONN_GCP_UNIT", json.dumps(GCP_CONN))
    client = mocker.MagicMock()
    client.uploads = []

    class Blob:
        def __init__(self, name: str, chunk_size: int | None = None) -> None:
            self.name = name

        def upload_from_file(self, fileobj: Any, content_type: str, rewind: bool) -> None:
            client.uploads.append(self.name)

        def upload_from_string(self, data: bytes, content_type: str) -> None:
            client.uploads.append(self.name)

    client.bucket.return_value.blob.side_effect = Blob
    mocker.patch("airflow.providers.google.cloud.hooks.gcs.GCSHook.get_conn", return_value=client)
    return client


def to_gcs(**kwargs: Any) -> SRConnectToGCSOperator:
    settings = {"task_id": "to_gcs", "srconnect_conn_id": "srconnect_unit", "gcp_conn_id": "gcp_unit", **kwargs}
    return SRConnectToGCSOperator(gcs_bucket=settings.pop("gcs_bucket", "archive"), **settings)


def test_a_gcs_bucket_that_does_not_exist_fails_before_any_src_request(no_src, gcs, sleeps):
    from google.api_core.exceptions import NotFound

    gcs.bucket.return_value.reload.side_effect = NotFound("The specified bucket does not exist.")

    with fails_before_any_src_request(no_src, sleeps, SRConnectDestinationError, "'no-such' does not exist") as r:
        to_gcs(gcs_bucket="no-such").execute(CONTEXT)

    assert r.value.param == "gcs_bucket" and gcs.uploads == []
    gcs.bucket.assert_called_with("no-such")


def test_a_gcs_bucket_that_answers_403_is_written_with_a_warning(no_src, gcs, log_text):
    from google.api_core.exceptions import Forbidden

    gcs.bucket.return_value.reload.side_effect = Forbidden("no storage.buckets.get")
    no_src.get(LIST_URL, json={contract.DEFAULT.listing.wrapper: [], "nextToken": None})

    xcom = to_gcs().execute(CONTEXT)

    assert xcom["data_uri"].removeprefix("gs://archive/") in gcs.uploads
    assert "Could not check the GCS bucket 'archive' (GCS answered 403" in log_text()


def test_an_undefined_gcp_connection_fails_before_any_src_request(no_src, sleeps):
    with fails_before_any_src_request(no_src, sleeps, SRConnectParamError, "'gcp_typo' is defined") as raised:
        to_gcs(gcp_conn_id="gcp_typo").execute(CONTEXT)

    assert raised.value.param == "gcp_conn_id"
    assert "--conn-type google_cloud_platform" in str(raised.value) and "AIRFLOW_CONN_GCP_TYPO" in str(raised.value)


# --- A local folder ---------------------------------------------------------------------------------


def test_a_folder_that_cannot_be_made_fails_before_any_src_request(no_src, sleeps, tmp_path):
    (tmp_path / "taken").write_text("a file, not a folder")
    target = tmp_path / "taken" / "day" / "src.jsonl.gz"
    op = SRConnectFetchLogsOperator(task_id="fetch", srconnect_conn_id="srconnect_unit", path=str(target))

    with fails_before_any_src_request(no_src, sleeps, SRConnectDestinationError, "cannot write in the folder") as r:
        op.execute(CONTEXT)

    assert r.value.param == "path" and str(target.parent) in str(r.value)


def test_the_local_check_makes_the_folder_and_leaves_no_file(tmp_path):
    destination = LocalDestination(tmp_path / "a" / "b")

    assert destination.check() is None
    assert (tmp_path / "a" / "b").is_dir() and list((tmp_path / "a" / "b").iterdir()) == []


def test_the_gcs_check_raises_on_404_only(mocker):
    from google.api_core.exceptions import Forbidden, NotFound

    hook = mocker.MagicMock()
    bucket = hook.get_conn.return_value.bucket.return_value
    destination = GCSDestination(hook, "archive")
    assert destination.check() is None
    bucket.reload.side_effect = Forbidden("denied")
    assert "403" in str(destination.check())
    bucket.reload.side_effect = NotFound("gone")
    with pytest.raises(SRConnectDestinationError, match="gcs_bucket: the GCS bucket 'archive' does not exist"):
        destination.check()


# --- The sensor -------------------------------------------------------------------------------------


@pytest.mark.parametrize("deferrable", [False, True])
def test_the_sensor_names_an_undefined_connection_before_any_request(requests_mock, sleeps, deferrable):
    sensor = SRConnectWindowSettledSensor(
        task_id="settled",
        srconnect_conn_id="srconnect_typo",
        window_start=START,
        window_end=pendulum.now("UTC").add(days=1),  # open: the sensor needs the connection
        deferrable=deferrable,
    )

    with fails_before_any_src_request(requests_mock, sleeps, SRConnectParamError, "'srconnect_typo' is defined"):
        sensor.execute({}) if deferrable else sensor.poke({})
