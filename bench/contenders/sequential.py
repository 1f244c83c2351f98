"""Baseline (a): a sequential loop in the style of SRC's S3 backup template.

Page through the window; for each invocation fetch its logs one call at a time; collect every record
in memory; upload once. It honours ``Retry-After`` on a 429 (sleeps, then asks again) and has no
client-side budget: like the template, it goes as fast as one request after another allows.
"""

from __future__ import annotations

import gzip
import json
import time
from typing import TYPE_CHECKING, Any

from airflow_provider_srconnect import contract
from airflow_provider_srconnect.export import (
    CONSOLE_LINES_KEY,
    FULL_MESSAGE_KEY,
    HTTP_ENTRIES_KEY,
    LOGS_NOT_STORED_KEY,
)
from bench.spec import API_KEY, EMAIL, REGION, TEAM

#: The default contract: what a hand-written client would hard-code.
C = contract.DEFAULT

if TYPE_CHECKING:
    import requests

    from bench.contenders import Job
    from bench.spec import Spec

PREFIX = "bench/sequential"
#: Attempts at one request before the loop gives up (each 429 waits its Retry-After).
ATTEMPTS = 20


class Client:
    """One ``requests`` session with Basic auth; 429 → sleep ``Retry-After`` and try again."""

    def __init__(self, base_url: str) -> None:
        import requests

        self.base_url = base_url
        self.session = requests.Session()
        self.session.auth = (EMAIL, API_KEY)
        self.throttled = 0

    def get(self, url: str, params: Any = None) -> requests.Response:
        for _ in range(ATTEMPTS):
            response = self.session.get(url, params=params, timeout=30)
            if response.status_code != contract.STATUS_THROTTLED:
                return response
            self.throttled += 1
            time.sleep(float(response.headers.get(contract.RETRY_AFTER_HEADER, "1")))
        response.raise_for_status()
        return response

    def api(self, path: str, params: Any = None) -> requests.Response:
        return self.get(self.base_url + path, params)

    def download(self, path: str) -> str | None:
        """The file behind a log endpoint's download URL; None when SRC stored no logs (404)."""
        reply = self.api(path)
        if reply.status_code == C.logs.not_stored_status:
            return None
        reply.raise_for_status()
        url = (reply.json() or {}).get(C.logs.url_field) if reply.content else None
        if not url:
            return ""
        file = self.get(url)
        file.raise_for_status()
        return file.text


def with_logs(client: Client, record: dict[str, Any]) -> dict[str, Any]:
    """The record with its console lines (large messages in full) and HTTP entries, fetched one by one."""
    invocation = record[contract.InvocationField.ID]
    extra: dict[str, Any] = {}
    if record.get(contract.InvocationField.CONSOLE_LOGS) != 0:
        text = client.download(C.paths.console_logs.format(invocation_id=invocation))
        if text is None:
            return {**record, LOGS_NOT_STORED_KEY: True}
        lines = json.loads(text)[C.log_files.console_wrapper] if text else []
        for line in lines:
            if line.get(C.log_files.console.large_message_id):
                path = C.paths.large_log_message.format(
                    invocation_id=invocation, message_id=line[C.log_files.console.large_message_id]
                )
                line[FULL_MESSAGE_KEY] = client.download(path) or ""
        extra[CONSOLE_LINES_KEY] = lines
    if record.get(contract.InvocationField.HTTP_LOGS) != 0:
        text = client.download(C.paths.http_logs.format(invocation_id=invocation))
        if text is None:
            return {**record, LOGS_NOT_STORED_KEY: True}
        extra[HTTP_ENTRIES_KEY] = json.loads(text)[C.log_files.http_wrapper] if text else []
    return {**record, **extra}


def prepare(spec: Spec) -> Job:
    import boto3

    key = f"{PREFIX}/{spec.key}"
    listing = C.paths.invocation_logs.format(team_id=TEAM)
    query = {
        C.window.from_param: spec.start,
        C.window.to_param: spec.end,
        C.pagination.size_param: str(C.pagination.size_default),
        C.filters.order_by_param: C.filters.order_by,
        C.filters.order_direction_param: C.filters.ascending,
    }

    def job() -> tuple[int, str]:
        client = Client(spec.sandbox_url)
        records: list[dict[str, Any]] = []
        page: dict[str, str] | None = {}
        while page is not None:
            reply = client.api(listing, {**query, **page})
            reply.raise_for_status()
            body = reply.json()
            items = body[C.listing.wrapper]
            for record in items:
                records.append(with_logs(client, record) if spec.include_logs == "all" else record)
            token = body.get(C.pagination.next_field)
            page = {C.pagination.param: token} if token else None
        lines = b"".join(
            json.dumps(r, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode() + b"\n" for r in records
        )
        s3 = boto3.client(
            "s3",
            endpoint_url=spec.s3_url,
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        s3.put_object(Bucket=spec.bucket, Key=key, Body=gzip.compress(lines, mtime=0))
        return len(records), key

    return job
