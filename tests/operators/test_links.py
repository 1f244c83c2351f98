"""The "SRC Reporting" extra link: the team's Reporting page in the web app of the connection's region."""

from __future__ import annotations

import importlib
import json
from typing import Any

import boto3
import pendulum
import pytest
from airflow.providers.common.compat.sdk import BaseOperatorLink, XCom
from moto import mock_aws

from airflow_provider_srconnect import contract
from airflow_provider_srconnect.exceptions import SRConnectParamError
from airflow_provider_srconnect.get_provider_info import get_provider_info
from airflow_provider_srconnect.links import SRConnectReportingLink, reporting_url
from airflow_provider_srconnect.operators.srconnect import SRConnectFetchLogsOperator
from airflow_provider_srconnect.transfers.srconnect_to_gcs import SRConnectToGCSOperator
from airflow_provider_srconnect.transfers.srconnect_to_s3 import SRConnectToS3Operator
from tests.conftest import fails_task_with

START = pendulum.datetime(2026, 11, 1, tz="UTC")
US_API = contract.BASE_URLS["us"]
LIST_URL = f"{US_API}/v1/team/team-1/invocationLogs"
AUDIT_URL = f"{US_API}/v1/team/team-1/auditLogs"


@pytest.mark.parametrize(
    ("region", "log_type", "url"),
    [
        ("eu", "invocations", "https://app.eu.scriptrunnerconnect.com/team/t-1/reporting/script-invocation-logs"),
        ("us", "invocations", "https://app.us.scriptrunnerconnect.com/team/t-1/reporting/script-invocation-logs"),
        ("eu", "audit", "https://app.eu.scriptrunnerconnect.com/team/t-1/reporting/audit-logs"),
        ("us", "audit", "https://app.us.scriptrunnerconnect.com/team/t-1/reporting/audit-logs"),
    ],
)
def test_the_link_goes_to_the_reporting_page_of_the_region_and_log_type(region, log_type, url):
    assert reporting_url(region, "t-1", log_type) == url
    assert url.startswith(contract.APP_URLS[region] + "/")


@pytest.mark.parametrize(
    ("region", "team_id", "log_type"), [("ap", "t-1", "audit"), ("eu", "", "audit"), ("eu", "t-1", "x")]
)
def test_no_link_where_the_region_team_or_log_type_is_unknown(region, team_id, log_type):
    assert reporting_url(region, team_id, log_type) == ""


def test_every_export_operator_has_the_link_and_provider_info_registers_it():
    for operator in (SRConnectToS3Operator, SRConnectToGCSOperator, SRConnectFetchLogsOperator):
        assert [link.name for link in operator.operator_extra_links] == ["SRC Reporting"]
    [path] = get_provider_info()["extra-links"]
    module, _, name = path.rpartition(".")
    registered = getattr(importlib.import_module(module), name)
    assert registered is SRConnectReportingLink and issubclass(registered, BaseOperatorLink)


class TaskInstance:
    """What the link uses of ``context["ti"]``: an XCom store."""

    def __init__(self) -> None:
        self.xcom: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.xcom[key] = value


@pytest.fixture
def archive(make_hook, requests_mock, monkeypatch):
    """The srconnect_unit connection (SRC's US API, team-1) with one empty page, and a moto bucket."""
    make_hook(host="", region="us")
    for listing in (LIST_URL, AUDIT_URL):
        requests_mock.get(listing, json={contract.DEFAULT.listing.wrapper: [], "nextToken": None})
    monkeypatch.setenv("AIRFLOW_CONN_AWS_UNIT", json.dumps({"conn_type": "aws", "extra": {"region_name": "us-east-1"}}))
    with mock_aws():
        boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="archive")
        yield


def run_with_xcom(op: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run ``op`` with a task instance, then resolve its link from what it stored (as the UI/worker does)."""
    ti = TaskInstance()
    op.execute({"data_interval_start": START, "data_interval_end": START.add(days=1), "ti": ti})

    def get_value(*, key: str, ti_key: Any, **_: Any) -> Any:
        assert ti_key is ti
        return ti.xcom.get(key)

    monkeypatch.setattr(XCom, "get_value", get_value)
    return SRConnectReportingLink().get_link(op, ti_key=ti)  # type: ignore[arg-type]


def test_the_task_stores_region_team_and_log_type_and_the_link_is_built_from_them(archive, monkeypatch):
    op = SRConnectToS3Operator(
        task_id="s3",
        srconnect_conn_id="srconnect_unit",
        aws_conn_id="aws_unit",
        s3_bucket="archive",
        log_type="audit",
    )

    url = run_with_xcom(op, monkeypatch)

    assert url == "https://app.us.scriptrunnerconnect.com/team/team-1/reporting/audit-logs"


def test_a_team_id_argument_wins_over_the_connections(archive, requests_mock, monkeypatch):
    requests_mock.get(
        LIST_URL.replace("team-1", "team-2"), json={contract.DEFAULT.listing.wrapper: [], "nextToken": None}
    )
    op = SRConnectToS3Operator(
        task_id="s3", srconnect_conn_id="srconnect_unit", aws_conn_id="aws_unit", s3_bucket="archive", team_id="team-2"
    )

    assert run_with_xcom(op, monkeypatch).endswith("/team/team-2/reporting/script-invocation-logs")


def test_no_xcom_no_link_and_a_missing_team_fails_in_the_export_not_in_the_link(archive, make_hook, monkeypatch):
    quiet = SRConnectToS3Operator(
        task_id="s3",
        srconnect_conn_id="srconnect_unit",
        aws_conn_id="aws_unit",
        s3_bucket="archive",
        do_xcom_push=False,
    )
    assert run_with_xcom(quiet, monkeypatch) == ""

    make_hook(
        host="", conn_id="srconnect_noteam", region="us", team_id=None
    )  # the export names the missing team itself
    op = SRConnectToS3Operator(task_id="s3", srconnect_conn_id="srconnect_noteam", s3_bucket="archive", team_id=None)
    ti = TaskInstance()
    with fails_task_with(SRConnectParamError, match="team_id"):
        op.execute({"data_interval_start": START, "data_interval_end": START.add(days=1), "ti": ti})
    # The failed task still stored the link's XCom (so resolving the link logs no missing XCom), as "no link".
    assert ti.xcom == {SRConnectReportingLink.key: {"region": "", "team_id": "", "log_type": "invocations"}}
    monkeypatch.setattr(XCom, "get_value", lambda *, key, ti_key: ti.xcom.get(key))
    assert SRConnectReportingLink().get_link(op, ti_key=ti) == ""  # type: ignore[arg-type]


def test_behind_another_host_there_is_no_link(make_hook, requests_mock, monkeypatch, archive):
    """A private instance or the sandbox: its web app's address is unknown."""
    make_hook(host="https://src.test", region="us")
    requests_mock.get(
        "https://src.test/v1/team/team-1/invocationLogs", json={contract.DEFAULT.listing.wrapper: [], "nextToken": None}
    )
    op = SRConnectToS3Operator(
        task_id="s3", srconnect_conn_id="srconnect_unit", aws_conn_id="aws_unit", s3_bucket="archive"
    )

    assert run_with_xcom(op, monkeypatch) == ""


def test_a_task_that_pushes_no_xcom_is_not_asked_for_one(monkeypatch):
    """Airflow 3 resolves the link after every try; asking for an XCom that cannot exist logs an error."""

    def no_query(**_: Any) -> Any:
        raise AssertionError("the link asked for an XCom the task never stores")

    monkeypatch.setattr(XCom, "get_value", no_query)
    quiet = SRConnectToS3Operator(task_id="s3", s3_bucket="archive", do_xcom_push=False)

    assert SRConnectReportingLink().get_link(quiet, ti_key=TaskInstance()) == ""  # type: ignore[arg-type]
