"""The sandbox's download faults as they go over the wire (raw bytes and headers), by URL and inline.

Every log file and large message carries its MD5 as ``ETag`` (as S3 sends it), so a wrong ETag means
something; each fault changes exactly what its name says. The provider's handling of them is in
``test_download_faults.py``.
"""

from __future__ import annotations

import gzip
import json
from typing import Any
from urllib.parse import quote

import pytest
import requests

from airflow_provider_srconnect import contract
from airflow_provider_srconnect.sandbox import DEFAULT_API_KEY, DEFAULT_EMAIL, DEFAULT_TEAM, SandboxServer
from airflow_provider_srconnect.sandbox.__main__ import _faults, _parser
from airflow_provider_srconnect.sandbox.api import HTML_PAGE
from airflow_provider_srconnect.sandbox.faults import DOWNLOAD_FAULTS
from tests.downloads.conftest import CONTRACTS, KINDS, WINDOW, md5

Raw = tuple[int, dict[str, str], bytes]


def large_invocation(server: SandboxServer) -> tuple[str, str]:
    """An invocation of the window with a large message, and the message's id."""
    truth = server.ground_truth
    for record in truth.invocations(DEFAULT_TEAM, WINDOW.start, WINDOW.end):
        logs = truth.logs(DEFAULT_TEAM, record[truth.contract.records.invocation.id])
        if logs.large_message_id is not None:
            return record[truth.contract.records.invocation.id], logs.large_message_id
    raise AssertionError("no large message in the window")


def served(server: SandboxServer, kind: str) -> Raw:
    """One download of ``kind`` as it comes over the wire: status, headers, the bytes undecoded."""
    wire = server.config.contract
    invocation, message = large_invocation(server)
    template = {"console": wire.paths.console_logs, "http": wire.paths.http_logs, "large": wire.paths.large_log_message}
    path = template[kind].format(invocation_id=quote(invocation, safe=""), message_id=quote(message, safe=""))
    url = server.url + path
    auth: Any = (DEFAULT_EMAIL, DEFAULT_API_KEY)
    if wire.logs.mode == "url":
        url = contract.lookup(requests.get(url, auth=auth, timeout=10).json(), wire.logs.url_field)
        auth = None
    with requests.get(url, auth=auth, timeout=10, stream=True) as response:
        return response.status_code, dict(response.headers), response.raw.read(decode_content=False)


def whole(server: SandboxServer, kind: str) -> bytes:
    """The file as the sandbox serves it without faults."""
    rates = {name: getattr(server.faults, f"download_{name}_rate") for name in DOWNLOAD_FAULTS}
    server.faults.clear()
    try:
        status, _, body = served(server, kind)
    finally:
        for name, rate in rates.items():
            setattr(server.faults, f"download_{name}_rate", rate)
    assert status == 200
    return body


@CONTRACTS
@pytest.mark.parametrize("kind", KINDS)
def test_every_file_carries_its_md5_as_etag(sandbox, contract_name, kind):
    server, _ = sandbox(contract_name)

    status, headers, body = served(server, kind)

    assert status == 200 and body
    assert headers["ETag"] == f'"{md5(body)}"' and int(headers["Content-Length"]) == len(body)


@CONTRACTS
@pytest.mark.parametrize("kind", KINDS)
def test_truncate_cuts_at_a_random_byte_with_a_matching_length_and_the_whole_files_etag(sandbox, contract_name, kind):
    server, _ = sandbox(contract_name)
    full = whole(server, kind)
    server.faults.download_truncate_rate = 1.0

    cuts = [served(server, kind) for _ in range(3)]

    for _, headers, body in cuts:
        assert 0 < len(body) < len(full) and full.startswith(body)
        assert int(headers["Content-Length"]) == len(body) and headers["ETag"] == f'"{md5(full)}"'
    assert len({body for _, _, body in cuts}) > 1, "the same cut each time would let two downloads agree"
    assert server.stats.faults["file:truncate"] == 3


@CONTRACTS
def test_html_is_a_200_page_without_etag(sandbox, contract_name):
    server, _ = sandbox(contract_name)
    server.faults.download_html_rate = 1.0

    status, headers, body = served(server, "console")

    assert (status, body) == (200, HTML_PAGE)
    assert headers["Content-Type"].startswith("text/html") and "ETag" not in headers


@CONTRACTS
def test_wrong_etag_sends_the_whole_file_with_the_md5_of_other_bytes(sandbox, contract_name):
    server, _ = sandbox(contract_name)
    full = whole(server, "large")
    server.faults.download_wrong_etag_rate = 1.0

    (_, first, body), (_, second, _) = served(server, "large"), served(server, "large")

    assert body == full
    assert f'"{md5(full)}"' not in (first["ETag"], second["ETag"]) and first["ETag"] != second["ETag"]


@CONTRACTS
def test_kms_etag_is_the_same_on_every_download_and_no_md5_of_the_file(sandbox, contract_name):
    server, _ = sandbox(contract_name)
    full = whole(server, "http")
    server.faults.download_kms_etag_rate = 1.0

    (_, first, body), (_, second, _) = served(server, "http"), served(server, "http")

    assert body == full and first["ETag"] == second["ETag"] != f'"{md5(full)}"'
    assert len(first["ETag"].strip('"')) == 32


@CONTRACTS
@pytest.mark.parametrize("kind", KINDS)
def test_gzip_encodes_the_file_with_the_etag_of_the_gzip_bytes(sandbox, contract_name, kind):
    server, _ = sandbox(contract_name)
    full = whole(server, kind)
    server.faults.download_gzip_rate = 1.0

    _, headers, packed = served(server, kind)

    assert headers["Content-Encoding"] == "gzip" and gzip.decompress(packed) == full
    assert headers["ETag"] == f'"{md5(packed)}"' and int(headers["Content-Length"]) == len(packed)


@CONTRACTS
def test_break_logs_answers_one_invocations_log_endpoints_with_a_status(sandbox, contract_name):
    server, _ = sandbox(contract_name)
    invocation, _ = large_invocation(server)
    server.faults.break_logs(invocation, 418)
    wire = server.config.contract

    for template in (wire.paths.console_logs, wire.paths.http_logs):
        url = server.url + template.format(invocation_id=quote(invocation, safe=""))
        reply = requests.get(url, auth=(DEFAULT_EMAIL, DEFAULT_API_KEY), timeout=10)
        assert reply.status_code == 418
        assert json.loads(reply.content)  # the API's error body
    assert server.stats.faults["broken_logs"] == 2
    server.faults.clear()
    assert served(server, "console")[0] == 200


def test_the_command_line_sets_each_download_fault():
    flags = [f"--download-{name.replace('_', '-')}-rate={n / 10}" for n, name in enumerate(DOWNLOAD_FAULTS, 1)]
    faults = _faults(_parser().parse_args(flags))

    assert [getattr(faults, f"download_{name}_rate") for name in DOWNLOAD_FAULTS] == [0.1, 0.2, 0.3, 0.4, 0.5]
    faults.clear()
    assert faults.download_fault() is None
