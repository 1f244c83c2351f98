"""Our export: the real ``SRConnectToS3Operator.execute`` against the sandbox over HTTP and moto's S3."""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING

from bench.spec import API_KEY, EMAIL, REGION, TEAM

if TYPE_CHECKING:
    from bench.contenders import Job
    from bench.spec import Spec

SRC_CONN = "srconnect_bench"
AWS_CONN = "aws_bench"
PREFIX = "bench/ours"


def prepare(spec: Spec) -> Job:
    """Connections as ``AIRFLOW_CONN_*`` variables; the client budget is the sandbox's own limit."""
    srconnect = {
        "conn_type": "srconnect",
        "host": spec.sandbox_url,
        "login": EMAIL,
        "password": API_KEY,
        "extra": {"team_id": TEAM, "rate_limit_per_second": spec.rate, "burst": spec.burst},
    }
    aws = {
        "conn_type": "aws",
        "login": "testing",
        "password": "testing",
        "extra": {"endpoint_url": spec.s3_url, "region_name": REGION},
    }
    os.environ[f"AIRFLOW_CONN_{SRC_CONN.upper()}"] = json.dumps(srconnect)
    os.environ[f"AIRFLOW_CONN_{AWS_CONN.upper()}"] = json.dumps(aws)

    import pendulum

    from airflow_provider_srconnect.transfers.srconnect_to_s3 import SRConnectToS3Operator

    operator = SRConnectToS3Operator(
        task_id="bench_export",
        srconnect_conn_id=SRC_CONN,
        aws_conn_id=AWS_CONN,
        s3_bucket=spec.bucket,
        prefix=PREFIX,
        include_logs=spec.include_logs,
        log_workers=spec.log_workers,
        output_format=spec.output_format,
    )
    context = {"data_interval_start": pendulum.parse(spec.start), "data_interval_end": pendulum.parse(spec.end)}

    def job() -> tuple[int, str]:
        xcom = operator.execute(context)
        return int(xcom["records"]), str(xcom["data_uri"]).removeprefix(f"s3://{spec.bucket}/")

    return job
