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
    url = (reply.json() or {}).get(contract.DOWNLOAD_URL_FIELD) if reply.content else None
    if not url:
        return ""
    link = urlsplit(url)
    return _call(link.path + (f"?{link.query}" if link.query else "")).text


def _with_logs(record: dict[str, Any]) -> dict[str, Any]:
    invocation = record[contract.InvocationField.ID]
    extra: dict[str, Any] = {}
    if record.get(contract.InvocationField.CONSOLE_LOGS) != 0:
        text = _download(contract.CONSOLE_LOGS_PATH.format(invocation_id=invocation))
        lines = json.loads(text)[contract.CONSOLE_LINES_FIELD] if text else []
        for line in lines:
            if line.get(contract.LARGE_MESSAGE_ID_FIELD):
                path = contract.LARGE_LOG_MESSAGE_PATH.format(
                    invocation_id=invocation, message_id=line[contract.LARGE_MESSAGE_ID_FIELD]
                )
                line[FULL_MESSAGE_KEY] = _download(path)
        extra[CONSOLE_LINES_KEY] = lines
    if record.get(contract.InvocationField.HTTP_LOGS) != 0:
        text = _download(contract.HTTP_LOGS_PATH.format(invocation_id=invocation))
        extra[HTTP_ENTRIES_KEY] = json.loads(text)[contract.HTTP_ENTRIES_FIELD] if text else []
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

    pagination = contract.PAGINATION
    query = {
        contract.PARAM_FROM: spec.start,
        contract.PARAM_TO: spec.end,
        contract.PARAM_PAGE_SIZE: str(contract.PAGE_SIZE_DEFAULT),
        contract.PARAM_ORDER_BY: contract.DEFAULT_ORDER_BY,
        contract.PARAM_ORDER_DIRECTION: contract.DEFAULT_ORDER_DIRECTION,
        **pagination.first_params(),
    }
    pages: list[dict[str, str]] = [pagination.first_params()]

    def next_page(response: requests.Response) -> dict[str, Any] | None:
        body = response.json()
        following = pagination.next_params(pages[-1], body, len(body[contract.ITEMS_FIELD]), contract.PAGE_SIZE_DEFAULT)
        if following is None:
            return None
        pages.append(following)
        return {"data": following}

    def items(responses: list[requests.Response]) -> list[dict[str, Any]]:
        return [item for response in responses for item in response.json()[contract.ITEMS_FIELD]]

    listing = HttpOperator(
        task_id="list_invocations",
        http_conn_id=HTTP_CONN,
        method="GET",
        endpoint=contract.INVOCATION_LOGS_PATH.format(team_id=TEAM),
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
