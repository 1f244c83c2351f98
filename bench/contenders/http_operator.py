"""Baseline (b): Airflow's ``HttpOperator`` with a ``pagination_function``, then one S3 upload.

The listing is one ``HttpOperator`` whose ``pagination_function`` follows the cursor and whose
``response_filter`` collects the items of every page (the operator keeps every response until the
last page). With logs, each log call is one more ``HttpOperator`` (as tasks mapped over the
invocations would do, here run back to back in one process, without any scheduling cost). Retries
use the ``retry_args`` example of ``HttpHook.run_with_advanced_retry`` (exponential backoff on any
error); ``Retry-After`` is not read. The pages are encoded like ours and uploaded with
``S3Hook.load_bytes``.
"""

from __future__ import annotations

import gzip
import json
import os
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from airflow_provider_srconnect import contract
from airflow_provider_srconnect.export import (
    CONSOLE_LINES_KEY,
    FULL_MESSAGE_KEY,
    HTTP_ENTRIES_KEY,
)
from bench.spec import API_KEY, EMAIL, REGION, TEAM

#: The default contract: what a hand-written client would hard-code.
C = contract.DEFAULT

if TYPE_CHECKING:
    import requests

    from bench.contenders import Job
    from bench.spec import Spec

PREFIX = "bench/http_operator"
HTTP_CONN = "src_http_bench"
AWS_CONN = "aws_bench"


def _retry_args() -> dict[str, Any]:
    import tenacity

    return {
        "wait": tenacity.wait_exponential(),
        "stop": tenacity.stop_after_attempt(10),
        "retry": tenacity.retry_if_exception_type(Exception),
    }


def _call(endpoint: str) -> requests.Response:
    """One GET through an ``HttpOperator`` (its ``response_filter`` hands back the response)."""
    from airflow.providers.http.operators.http import HttpOperator

    operator = HttpOperator(
        task_id="call",
        http_conn_id=HTTP_CONN,
        method="GET",
        endpoint=endpoint,
        response_filter=lambda response: response,
        retry_args=_retry_args(),
    )
    response: requests.Response = operator.execute({})
    return response


def _download(path: str) -> str:
    """A log file through its download URL (the window is settled: every invocation has its logs)."""
    reply = _call(path)
    url = (reply.json() or {}).get(C.logs.url_field) if reply.content else None
    if not url:
        return ""
    link = urlsplit(url)
    return _call(link.path + (f"?{link.query}" if link.query else "")).text


def _with_logs(record: dict[str, Any]) -> dict[str, Any]:
    invocation = record[contract.InvocationField.ID]
    extra: dict[str, Any] = {}
    if record.get(contract.InvocationField.CONSOLE_LOGS) != 0:
        text = _download(C.paths.console_logs.format(invocation_id=invocation))
        lines = json.loads(text)[C.log_files.console_wrapper] if text else []
        for line in lines:
            if line.get(C.log_files.console.large_message_id):
                path = C.paths.large_log_message.format(
                    invocation_id=invocation, message_id=line[C.log_files.console.large_message_id]
                )
                line[FULL_MESSAGE_KEY] = _download(path)
        extra[CONSOLE_LINES_KEY] = lines
    if record.get(contract.InvocationField.HTTP_LOGS) != 0:
        text = _download(C.paths.http_logs.format(invocation_id=invocation))
        extra[HTTP_ENTRIES_KEY] = json.loads(text)[C.log_files.http_wrapper] if text else []
    return {**record, **extra}


def prepare(spec: Spec) -> Job:
    url = urlsplit(spec.sandbox_url)
    os.environ[f"AIRFLOW_CONN_{HTTP_CONN.upper()}"] = json.dumps(
        {
            "conn_type": "http",
            "host": url.hostname,
            "port": url.port,
            "schema": url.scheme,
            "login": EMAIL,
            "password": API_KEY,
        }
    )
    os.environ[f"AIRFLOW_CONN_{AWS_CONN.upper()}"] = json.dumps(
        {
            "conn_type": "aws",
            "login": "testing",
            "password": "testing",
            "extra": {"endpoint_url": spec.s3_url, "region_name": REGION},
        }
    )
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook
    from airflow.providers.http.operators.http import HttpOperator

    query = {
        C.window.from_param: spec.start,
        C.window.to_param: spec.end,
        C.pagination.size_param: str(C.pagination.size_default),
        C.filters.order_by_param: C.filters.order_by,
        C.filters.order_direction_param: C.filters.ascending,
    }

    def next_page(response: requests.Response) -> dict[str, Any] | None:
        body = response.json()
        token = body.get(C.pagination.next_field)
        return {"data": {C.pagination.param: token}} if token else None

    def items(responses: list[requests.Response]) -> list[dict[str, Any]]:
        return [item for response in responses for item in response.json()[C.listing.wrapper]]

    listing = HttpOperator(
        task_id="list_invocations",
        http_conn_id=HTTP_CONN,
        method="GET",
        endpoint=C.paths.invocation_logs.format(team_id=TEAM),
        data=query,
        pagination_function=next_page,
        response_filter=items,
        retry_args=_retry_args(),
    )
    key = f"{PREFIX}/{spec.key}"

    def job() -> tuple[int, str]:
        records: list[dict[str, Any]] = listing.execute({})
        if spec.include_logs == "all":
            records = [_with_logs(record) for record in records]
        lines = b"".join(
            json.dumps(r, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode() + b"\n" for r in records
        )
        S3Hook(aws_conn_id=AWS_CONN).load_bytes(gzip.compress(lines, mtime=0), key, spec.bucket, replace=True)
        return len(records), key

    return job
