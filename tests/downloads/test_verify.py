"""Verified downloads, rule by rule (requests-mock), under the three contracts and for the three kinds of file.

A download is accepted only when its bytes equal its ``Content-Length``, it is no HTML page, its encoding
undoes cleanly, it is UTF-8 of the contract's shape, and its MD5 is its ``ETag`` or two downloads agree.
Anything else is downloaded again with a fresh URL, and past the retries is a typed, retryable error:
the hook never returns a damaged value.
"""

from __future__ import annotations

import json
import zlib

import pytest

from airflow_provider_srconnect import _api, contract
from airflow_provider_srconnect.exceptions import (
    SRConnectContractError,
    SRConnectDownloadError,
    SRConnectDownloadExpiredError,
    SRConnectTransportError,
)
from tests.downloads.conftest import CONTRACTS, KINDS, endpoint, fetch, gzipped, md5, sample_file, serve, wire_of

ALL_KINDS = pytest.mark.parametrize("kind", KINDS)
LOG_FILES = pytest.mark.parametrize("kind", ["console", "http"])


@CONTRACTS
@ALL_KINDS
def test_a_whole_file_with_its_md5_etag_is_read_with_one_download(hook_for, requests_mock, contract_name, kind):
    wire = wire_of(contract_name)
    file = sample_file(wire, kind)
    downloads = serve(requests_mock, wire, kind, [file.reply()])

    assert fetch(hook_for(contract_name), kind) == file.value
    assert downloads() == 1


@CONTRACTS
@ALL_KINDS
@pytest.mark.parametrize("etag", ["of the gzip bytes (S3)", "of the plain file (a compressing proxy)", None])
def test_a_gzip_encoded_file_is_checked_on_its_wire_bytes_and_read(hook_for, requests_mock, contract_name, kind, etag):
    wire = wire_of(contract_name)
    file = sample_file(wire, kind)
    packed = gzipped(file.body)
    served = None if etag is None else f'"{md5(packed if "gzip" in etag else file.body)}"'
    downloads = serve(
        requests_mock,
        wire,
        kind,
        [file.reply(body=packed, etag=served, **{"Content-Encoding": "gzip", "Content-Length": str(len(packed))})],
    )

    assert fetch(hook_for(contract_name), kind) == file.value
    assert downloads() == 1
    assert requests_mock.last_request.headers["Accept-Encoding"] == _api.ACCEPT_ENCODING


@CONTRACTS
@ALL_KINDS
def test_a_cut_gzip_body_is_fetched_again(hook_for, requests_mock, sleeps, contract_name, kind):
    wire = wire_of(contract_name)
    file = sample_file(wire, kind)
    cut = gzipped(file.body)[:-9]  # the trailer gone: no decoder may accept it
    gz = {"Content-Encoding": "gzip"}
    serve(requests_mock, wire, kind, [file.reply(body=cut, etag=None, **gz), file.reply()])

    assert fetch(hook_for(contract_name), kind) == file.value


def test_content_length_is_compared_with_the_bytes_on_the_wire_not_the_decoded_ones():
    body = json.dumps({"logs": [{"message": "x" * 500}]}).encode()
    packed = gzipped(body)
    wire = contract.DEFAULT
    honest = _api.Download(200, {"Content-Length": str(len(packed)), "Content-Encoding": "gzip"}, packed)
    decoded_length = _api.Download(200, {"Content-Length": str(len(body)), "Content-Encoding": "gzip"}, packed)

    assert _api.download_body(honest, "a file", wire, presigned=True) == body
    with pytest.raises(SRConnectDownloadError, match=f"{len(packed)} of the {len(body)} bytes"):
        _api.download_body(decoded_length, "a file", wire, presigned=True)


@pytest.mark.parametrize("coding", ["deflate", "raw deflate"])
def test_deflate_is_decoded_both_ways_servers_send_it(coding):
    body = b'{"logs": []}'
    packer = zlib.compressobj(wbits=-zlib.MAX_WBITS if coding == "raw deflate" else zlib.MAX_WBITS)
    packed = packer.compress(body) + packer.flush()
    download = _api.Download(200, {"Content-Encoding": "deflate"}, packed)

    assert _api.download_body(download, "a file", contract.DEFAULT, presigned=True) == body


def test_an_encoding_the_provider_does_not_decode_is_a_failed_download():
    download = _api.Download(200, {"Content-Encoding": "br"}, b"\x0b\x02\x80")

    with pytest.raises(SRConnectDownloadError, match="'br'") as raised:
        _api.download_body(download, "SRC console logs of invocation inv-1", contract.DEFAULT, presigned=True)
    assert raised.value.retryable


@pytest.mark.parametrize("arrived", [0, 1, 4999, 5001])
def test_a_body_of_another_length_than_its_content_length_is_a_failed_download(arrived):
    download = _api.Download(200, {"Content-Length": "5000"}, b"x" * arrived)

    with pytest.raises(SRConnectDownloadError, match=f"inv-1: {arrived} of the 5000 bytes"):
        _api.download_body(download, "SRC large log message of invocation inv-1", contract.DEFAULT, presigned=True)


@CONTRACTS
@ALL_KINDS
def test_a_body_shorter_than_its_content_length_is_fetched_again(hook_for, requests_mock, sleeps, contract_name, kind):
    wire = wire_of(contract_name)
    file = sample_file(wire, kind)
    half = file.body[: len(file.body) // 2]
    serve(requests_mock, wire, kind, [file.reply(body=half, **{"Content-Length": str(len(file.body))}), file.reply()])

    assert fetch(hook_for(contract_name), kind) == file.value


@CONTRACTS
@ALL_KINDS
def test_an_html_page_is_fetched_again_with_a_fresh_url(hook_for, requests_mock, sleeps, contract_name, kind):
    wire = wire_of(contract_name)
    file = sample_file(wire, kind)
    page = {"content": b"<html><body>Sign in</body></html>", "headers": {"Content-Type": "text/html; charset=utf-8"}}
    downloads = serve(requests_mock, wire, kind, [page, file.reply()])

    assert fetch(hook_for(contract_name), kind) == file.value
    assert downloads() == 2
    if wire.logs.mode == "url":
        assert requests_mock.last_request.qs["n"] == ["1"]  # the second URL the endpoint handed out


@CONTRACTS
@ALL_KINDS
def test_html_that_never_stops_is_a_retryable_typed_error_naming_the_invocation(
    hook_for, requests_mock, sleeps, contract_name, kind
):
    wire = wire_of(contract_name)
    page = {"content": b"<!DOCTYPE html><html></html>", "headers": {"Content-Type": "TEXT/HTML"}}
    downloads = serve(requests_mock, wire, kind, [page])

    with pytest.raises(SRConnectDownloadError, match=r"invocation inv-1: an HTML page .*gave up after 3 attempts") as e:
        fetch(hook_for(contract_name, max_retries=2), kind)
    assert e.value.retryable and isinstance(e.value, SRConnectTransportError)
    assert downloads() == 3
    assert "sig=secret" not in str(e.value)


@CONTRACTS
@LOG_FILES
@pytest.mark.parametrize(
    "broken",
    [b'{"logs": [{"message": "cut', b"", b"[1, 2]", b'{"other": []}', b"\xff\xfe not UTF-8"],
    ids=["cut", "empty", "not objects", "no wrapper", "not utf-8"],
)
def test_a_log_file_not_of_the_contracts_shape_is_fetched_again(
    hook_for, requests_mock, sleeps, contract_name, kind, broken
):
    wire = wire_of(contract_name)
    file = sample_file(wire, kind)
    serve(requests_mock, wire, kind, [file.reply(body=broken, etag=None), file.reply()])

    # An empty reply of an inline log endpoint is the contract's "no logs"; an empty download never is.
    expected = [] if broken == b"" and wire.logs.mode == "inline" else file.value
    assert fetch(hook_for(contract_name), kind) == expected


@CONTRACTS
@LOG_FILES
def test_the_same_file_off_the_contracts_shape_twice_is_a_contract_error_naming_the_setting(
    hook_for, requests_mock, sleeps, contract_name, kind
):
    """Two downloads agree byte for byte: no damage on the way, the contract does not match SRC."""
    wire = wire_of(contract_name)
    downloads = serve(requests_mock, wire, kind, [{"json": {"unexpected": True}}])
    key = "console_wrapper" if kind == "console" else "http_wrapper"

    with pytest.raises(SRConnectContractError, match=f"inv-1 is not a JSON .*two downloads.*log_files.{key}.*doctor"):
        fetch(hook_for(contract_name), kind)
    assert downloads() == 2 and sleeps == []  # compared at once, not retried


@CONTRACTS
@LOG_FILES
def test_files_off_the_contracts_shape_that_differ_stay_a_retryable_download_error(
    hook_for, requests_mock, sleeps, contract_name, kind
):
    wire = wire_of(contract_name)
    downloads = serve(requests_mock, wire, kind, [{"json": {"unexpected": n}} for n in range(12)])

    with pytest.raises(SRConnectDownloadError, match=r"inv-1 is not a JSON .*if every download is so") as raised:
        fetch(hook_for(contract_name, max_retries=2), kind)
    assert raised.value.retryable
    assert downloads() == 6


@CONTRACTS
def test_a_large_message_that_is_not_utf8_or_not_its_json_shape_is_fetched_again(
    hook_for, requests_mock, sleeps, contract_name
):
    wire = wire_of(contract_name)
    file = sample_file(wire, "large")
    broken = b"\xc3\x28 invalid" if wire.log_files.large_message_field is None else b'{"content": 42}'
    serve(requests_mock, wire, "large", [file.reply(body=broken, etag=None), file.reply()])

    assert fetch(hook_for(contract_name), "large") == file.value


@CONTRACTS
@ALL_KINDS
def test_a_body_that_is_not_its_etag_is_fetched_again_and_the_whole_one_kept(
    hook_for, requests_mock, sleeps, contract_name, kind
):
    """Cut at a byte with a matching Content-Length: only the ETag shows it (a text large message parses)."""
    wire = wire_of(contract_name)
    file = sample_file(wire, kind)
    cut = file.body[: len(file.body) * 2 // 3]
    downloads = serve(requests_mock, wire, kind, [file.reply(body=cut), file.reply()])

    assert fetch(hook_for(contract_name), kind) == file.value
    assert downloads() == 2
    assert sleeps == []  # downloaded again at once, not after a retry wait


@CONTRACTS
@ALL_KINDS
def test_a_wrong_etag_on_the_whole_file_passes_once_two_downloads_agree(hook_for, requests_mock, contract_name, kind):
    wire = wire_of(contract_name)
    file = sample_file(wire, kind)
    wrong = f'"{md5(b"other bytes")}"'
    downloads = serve(requests_mock, wire, kind, [file.reply(etag=wrong), file.reply(etag=wrong)])

    assert fetch(hook_for(contract_name), kind) == file.value
    assert downloads() == 2


@CONTRACTS
@ALL_KINDS
def test_an_sse_kms_etag_that_is_never_the_md5_passes_without_a_retry(
    hook_for, requests_mock, sleeps, contract_name, kind
):
    wire = wire_of(contract_name)
    file = sample_file(wire, kind)
    kms = md5(b"sse-kms:" + file.body)  # unquoted, as some proxies pass it on
    downloads = serve(requests_mock, wire, kind, [file.reply(etag=kms)])

    assert fetch(hook_for(contract_name), kind) == file.value
    assert downloads() == 2 and sleeps == []


@CONTRACTS
@ALL_KINDS
def test_downloads_that_never_agree_or_match_the_etag_are_a_typed_error_never_a_value(
    hook_for, requests_mock, sleeps, contract_name, kind
):
    wire = wire_of(contract_name)
    file = sample_file(wire, kind)
    cuts = [file.reply(body=file.body[: len(file.body) - n]) for n in range(1, 12)]
    downloads = serve(requests_mock, wire, kind, cuts)

    with pytest.raises(SRConnectDownloadError, match="inv-1: the download's MD5 is not its ETag") as raised:
        fetch(hook_for(contract_name, max_retries=3), kind)
    assert raised.value.retryable
    assert downloads() == 8  # two at once per attempt, four attempts


@CONTRACTS
def test_agreement_is_across_attempts_and_a_matching_etag_wins_at_once(hook_for, requests_mock, sleeps, contract_name):
    wire = wire_of(contract_name)
    file = sample_file(wire, "large")
    a, b, c = (file.body[: len(file.body) - n] for n in (1, 2, 3))
    downloads = serve(
        requests_mock, wire, "large", [file.reply(body=a), file.reply(body=b), file.reply(body=c), file.reply()]
    )

    assert fetch(hook_for(contract_name), "large") == file.value
    assert downloads() == 4


@pytest.mark.parametrize(
    ("etag", "checked"),
    [
        ('"9e107d9d372bb6826bd81d3542a419d6"', True),
        ("9E107D9D372BB6826BD81D3542A419D6", True),
        ('"9e107d9d372bb6826bd81d3542a419d6-2"', False),  # multipart: no MD5
        ('W/"9e107d9d372bb6826bd81d3542a419d6"', False),  # weak
        ('"abc"', False),
        ("", False),
    ],
)
def test_only_an_etag_that_looks_like_an_md5_is_checked(etag, checked):
    body = b"The quick brown fox jumps over the lazy dog"
    assert md5(body) == "9e107d9d372bb6826bd81d3542a419d6"

    assert not _api.etag_mismatch(_api.Download(200, {"ETag": etag}, body))
    assert _api.etag_mismatch(_api.Download(200, {"ETag": etag}, body + b".")) is checked


@pytest.mark.parametrize("contract_name", ["default", "pages"])  # offset serves files inline: no URL to expire
@ALL_KINDS
def test_a_refused_url_is_still_an_expired_url(hook_for, requests_mock, sleeps, contract_name, kind):
    wire = wire_of(contract_name)
    file = sample_file(wire, kind)
    serve(requests_mock, wire, kind, [{"status_code": 403, "text": "<Error>Request has expired</Error>"}, file.reply()])

    assert fetch(hook_for(contract_name), kind) == file.value
    with pytest.raises(SRConnectDownloadExpiredError):
        _api.download_body(_api.Download(403, {}, b""), "x", wire, presigned=True)


def test_the_download_is_counted_per_fresh_url(hook_for, requests_mock, sleeps):
    wire = wire_of("default")
    file = sample_file(wire, "console")
    serve(requests_mock, wire, "console", [file.reply(body=b"<"), file.reply()])

    assert fetch(hook_for("default"), "console") == file.value
    asked = [r.url for r in requests_mock.request_history if r.url.startswith(endpoint(wire, "console"))]
    assert len(asked) == 2  # the log endpoint was asked again for each download


@LOG_FILES
def test_a_log_file_nested_deeper_than_python_parses_is_a_contract_error_naming_it(hook_for, requests_mock, kind):
    wire = wire_of("pages")  # bare lists: the nesting starts at the top
    deep = b"[" + b'{"a":' * 100_000 + b"1" + b"}" * 100_000 + b"]"
    downloads = serve(requests_mock, wire, kind, [{"content": deep, "headers": {"Content-Type": "application/json"}}])

    with pytest.raises(SRConnectContractError, match="invocation inv-1 holds JSON nested deeper"):
        fetch(hook_for("pages"), kind)
    assert downloads() == 1
