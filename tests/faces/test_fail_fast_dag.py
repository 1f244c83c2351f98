"""In real Airflow: a user's mistake fails the export task in its first try, before any request to SRC.

The example DAGs run against the sandbox with one mistake each and three retries without delay: had the
task been left to Airflow's retries, it would have run again at once. It fails once, the sandbox's
request counter stays at zero, and the task's log names the mistake and the fix.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest

from tests.e2e.archive import archive_prefix, days_ago, run_dag

pytestmark = pytest.mark.e2e

prefix = archive_prefix("faces-fail-fast")
#: (DAG id, export task id, logical date): windows long settled, so the daily DAG's sensor asks SRC nothing.
DAILY = ("srconnect_invocations_daily", "archive_invocations", days_ago(8))
HOURLY = ("srconnect_audit_hourly_to_gcs", "archive_audit", days_ago(8, hours=3))


def mistake(task_id: str, **attributes: Any) -> Callable[[Any], None]:
    """Set ``attributes`` on the task (as a DAG author's typo would), and give it retries without delay."""

    def customize(dag: Any) -> None:
        task = dag.get_task(task_id)
        for name, value in attributes.items():
            setattr(task, name, value)
        task.retries = 3
        task.retry_delay = dt.timedelta(0)

    return customize


@pytest.mark.parametrize(
    ("dag", "attributes", "says"),
    [
        (DAILY, {"s3_bucket": "no-such-bucket"}, "s3_bucket: the S3 bucket 'no-such-bucket' does not exist"),
        (DAILY, {"srconnect_conn_id": "srconnect_typo"}, "no Airflow connection 'srconnect_typo' is defined"),
        (DAILY, {"aws_conn_id": "aws_typo"}, "AIRFLOW_CONN_AWS_TYPO"),
        (HOURLY, {"gcs_bucket": "no-such-bucket"}, "gcs_bucket: the GCS bucket 'no-such-bucket' does not exist"),
        (HOURLY, {"gcp_conn_id": "gcp_typo"}, "airflow connections add gcp_typo --conn-type google_cloud_platform"),
    ],
    ids=["s3-bucket", "src-connection", "aws-connection", "gcs-bucket", "gcp-connection"],
)
def test_a_mistake_fails_the_first_try_without_a_request_to_src(e2e, capfd, dag, attributes, says):
    dag_id, task_id, logical_date = dag
    e2e.sandbox.stats.reset()
    capfd.readouterr()

    run = run_dag(dag_id, logical_date, mistake(task_id, **attributes))

    printed = capfd.readouterr()
    assert run.states[task_id] == "failed"
    assert run.dag_run.get_task_instance(task_id).try_number == 1  # no retry, though three were allowed
    assert e2e.sandbox.stats.requests_total == 0
    assert says in printed.out + printed.err
