"""The bad-input matrix: every user-facing parameter, given a bad value, gets a typed error naming it.

Each case runs with requests-mock active and no URL registered, so any request would fail the test
differently; every case also asserts that no request was sent. The bad-input table in the docs is made
from ``CASES`` (``python -m tests.docs_snippets --write``) and tests/test_docs.py keeps the two equal.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pendulum
import pytest

from airflow_provider_srconnect.exceptions import SRConnectParamError
from airflow_provider_srconnect.hooks.srconnect import SRConnectHook
from airflow_provider_srconnect.operators.srconnect import SRConnectFetchLogsOperator
from airflow_provider_srconnect.sensors.srconnect import SRConnectWindowSettledSensor
from airflow_provider_srconnect.transfers.srconnect_to_gcs import SRConnectToGCSOperator
from airflow_provider_srconnect.transfers.srconnect_to_s3 import SRConnectToS3Operator

START = pendulum.datetime(2026, 11, 1, tz="UTC")
END = pendulum.datetime(2026, 11, 2, tz="UTC")
CONTEXT = {"data_interval_start": START, "data_interval_end": END}
CONN_ID = "srconnect_bad_input"
GOOD_EXTRA = {"team_id": "team-1"}


@dataclass(frozen=True)
class Case:
    """One bad value of one parameter, and how a user meets it."""

    where: str
    param: str
    bad: str
    run: Callable[[], Any]


def conn(**fields: Any) -> Callable[[], Any]:
    """A hook on a connection with these fields (login/password/host/extra overrides)."""

    def run() -> Any:
        spec = {
            "conn_type": "srconnect",
            "host": "https://src.test",
            "login": "me@example.com",
            "password": "key-123456",
            "extra": GOOD_EXTRA,
            **fields,
        }
        import os

        os.environ[f"AIRFLOW_CONN_{CONN_ID.upper()}"] = json.dumps(spec)
        return SRConnectHook(srconnect_conn_id=CONN_ID).settings

    return run


def extra(**values: Any) -> Callable[[], Any]:
    return conn(extra={**GOOD_EXTRA, **values})


def listing(**kwargs: Any) -> Callable[[], Any]:
    def run() -> Any:
        conn()()
        args = {"start": START, "end": END, **kwargs}
        return SRConnectHook(srconnect_conn_id=CONN_ID).iter_invocation_logs(args.pop("start"), args.pop("end"), **args)

    return run


def hook_call(method: str, *args: Any) -> Callable[[], Any]:
    def run() -> Any:
        conn()()
        return getattr(SRConnectHook(srconnect_conn_id=CONN_ID), method)(*args)

    return run


def s3(**kwargs: Any) -> Callable[[], Any]:
    """Build the S3 transfer (parse-time checks), then run it (run-time checks of rendered values)."""

    def run() -> Any:
        conn()()
        op = SRConnectToS3Operator(task_id="t", srconnect_conn_id=CONN_ID, **{"s3_bucket": "b", **kwargs})
        return op.execute(CONTEXT)

    return run


def gcs(**kwargs: Any) -> Callable[[], Any]:
    def run() -> Any:
        conn()()
        op = SRConnectToGCSOperator(task_id="t", srconnect_conn_id=CONN_ID, **{"gcs_bucket": "b", **kwargs})
        return op.execute(CONTEXT)

    return run


def fetch(**kwargs: Any) -> Callable[[], Any]:
    def run() -> Any:
        conn()()
        op = SRConnectFetchLogsOperator(task_id="t", srconnect_conn_id=CONN_ID, **{"path": "/tmp/x.jsonl.gz", **kwargs})
        return op.execute(CONTEXT)

    return run


def without_pyarrow(run: Callable[[], Any]) -> Callable[[], Any]:
    """``run`` where pyarrow cannot be imported (as without the provider's ``parquet`` extra)."""

    def hidden() -> Any:
        names = ("pyarrow", "pyarrow.parquet")
        saved = {name: sys.modules[name] for name in names if name in sys.modules}
        sys.modules.update(dict.fromkeys(names, None))
        try:
            return run()
        finally:
            for name in names:
                sys.modules.pop(name, None)
            sys.modules.update(saved)

    return hidden


def sensor(**kwargs: Any) -> Callable[[], Any]:
    def run() -> Any:
        conn()()
        return SRConnectWindowSettledSensor(task_id="t", srconnect_conn_id=CONN_ID, **kwargs).poke(CONTEXT)

    return run


CONN = "connection"
HOOK = "SRConnectHook"
CASES = [
    Case(CONN, "region", "'asia'", extra(region="asia")),
    Case(CONN, "team_id", "'../admin'", extra(team_id="../admin")),
    Case(CONN, "team_id", "42", extra(team_id=42)),
    Case(CONN, "rate_limit_per_second", "-3", extra(rate_limit_per_second=-3)),
    Case(CONN, "rate_limit_per_second", "'fast'", extra(rate_limit_per_second="fast")),
    Case(CONN, "burst", "0", extra(burst=0)),
    Case(CONN, "timeout", "0", extra(timeout=0)),
    Case(CONN, "max_retries", "-1", extra(max_retries=-1)),
    Case(CONN, "max_retry_wait", "-5", extra(max_retry_wait=-5)),
    Case(CONN, "rate_limit_storage", "'postgres://db'", extra(rate_limit_storage="postgres://db")),
    Case(
        CONN, "rate_limit_storage", "'sqlite:///budget.db' (relative)", extra(rate_limit_storage="sqlite:///budget.db")
    ),
    Case(
        CONN,
        "authorization",
        "'Bearer abc'",
        conn(login=None, password=None, extra={**GOOD_EXTRA, "authorization": "Bearer abc"}),
    ),
    Case(CONN, "teamId (unknown extra)", "'x'", extra(teamId="x")),
    Case(CONN, "login/password", "missing", conn(login=None, password=None)),
    Case(CONN, "host", "'ftp://src'", conn(host="ftp://src")),
    Case(CONN, "contract", "unknown value of a key", extra(contract={"pagination": {"style": "pages"}})),
    Case(CONN, "contract", "unknown key", extra(contract={"paging": {"style": "page"}})),
    Case(CONN, "contract", "not JSON", extra(contract='{"listing": ')),
    Case(HOOK, "start", "naive datetime", listing(start=START.naive())),
    Case(HOOK, "start", "after end", listing(start=END, end=START)),
    Case(HOOK, "execution_statuses", "['finished']", listing(execution_statuses=["finished"])),
    Case(HOOK, "trigger_types", "['CRON']", listing(trigger_types=["CRON"])),
    Case(HOOK, "order_by", "'StartTime'", listing(order_by="StartTime")),
    Case(HOOK, "order_direction", "'up'", listing(order_direction="up")),
    Case(HOOK, "page_size", "0", listing(page_size=0)),
    Case(HOOK, "page_size", "'50'", listing(page_size="50")),
    Case(HOOK, "team_id", "'a/b'", listing(team_id="a/b")),
    Case(HOOK, "invocation_id", "''", hook_call("get_console_logs", "")),
    Case(HOOK, "message_id", "''", hook_call("get_large_log_message", "inv-1", "")),
    Case("SRConnectToS3Operator", "log_type", "'console'", s3(log_type="console")),
    Case("SRConnectToS3Operator", "include_logs", "'failures'", s3(include_logs="failures")),
    Case(
        "SRConnectToS3Operator",
        "log_type",
        "'audit' with execution_statuses",
        s3(log_type="audit", execution_statuses=["FINISHED"]),
    ),
    Case("SRConnectToS3Operator", "log_workers", "0", s3(log_workers=0)),
    Case("SRConnectToS3Operator", "on_expired", "'never'", s3(on_expired="never")),
    Case("SRConnectToS3Operator", "s3_bucket", "''", s3(s3_bucket="")),
    Case("SRConnectToS3Operator", "prefix", "'a/../b'", s3(prefix="a/../b")),
    Case("SRConnectToS3Operator", "window_start", "'yesterday'", s3(window_start="yesterday")),
    Case("SRConnectToS3Operator", "window_end", "in the future", s3(window_end="2999-01-01T00:00:00Z")),
    Case("SRConnectToS3Operator", "execution_statuses", "['Finished']", s3(execution_statuses=["Finished"])),
    Case("SRConnectToS3Operator", "page_size", "1000", s3(page_size=1000)),
    Case("SRConnectToS3Operator", "team_id", "'a b'", s3(team_id="a b")),
    Case("SRConnectToS3Operator", "output_format", "'csv'", s3(output_format="csv")),
    Case(
        "SRConnectToS3Operator",
        "output_format",
        "'parquet' without pyarrow",
        without_pyarrow(s3(output_format="parquet")),
    ),
    Case("SRConnectToGCSOperator", "gcs_bucket", "''", gcs(gcs_bucket="")),
    Case("SRConnectToGCSOperator", "include_logs", "'every'", gcs(include_logs="every")),
    Case(
        "SRConnectFetchLogsOperator",
        "window_end",
        "before window_start",
        fetch(window_start="2026-11-02T00:00:00Z", window_end="2026-11-01T00:00:00Z"),
    ),
    Case(
        "SRConnectFetchLogsOperator",
        "path",
        "'x.jsonl.gz' with output_format='parquet'",
        fetch(output_format="parquet"),
    ),
    Case("SRConnectWindowSettledSensor", "team_id", "'../x'", sensor(team_id="../x")),
    Case("SRConnectWindowSettledSensor", "window_start", "'soon'", sensor(window_start="soon")),
]


def the_param_error(raised: BaseException) -> SRConnectParamError:
    """The typed error, raised directly (parse time) or as the cause of a failed task (run time)."""
    error = raised if isinstance(raised, SRConnectParamError) else raised.__cause__
    assert isinstance(error, SRConnectParamError), f"{raised!r} is not a typed parameter error"
    return error


def raise_for(case: Case) -> SRConnectParamError:
    """Run a case and return its typed error (raised directly at parse time, or as a failed task's cause)."""
    try:
        result = case.run()
        if hasattr(result, "__next__"):
            next(result)
    except Exception as raised:
        error = raised if isinstance(raised, SRConnectParamError) else raised.__cause__
        assert isinstance(error, SRConnectParamError), f"{raised!r} is not a typed parameter error"
        return error
    raise AssertionError(f"{case} raised nothing")


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.where}-{c.param}-{c.bad}")
def test_bad_input_is_a_typed_error_naming_the_parameter_before_any_request(case, requests_mock, monkeypatch):
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", "")  # each case sets it; restored afterwards

    error = raise_for(case)

    assert case.param.split(" ")[0].split("/")[0] in error.param or case.param in str(error)
    assert ". " in str(error), "the message says what to change"
    assert requests_mock.call_count == 0


def markdown() -> str:
    """The table in docs/troubleshooting.md (tests/test_docs.py keeps it current): case, parameter, fix."""
    import requests_mock

    rows = ["| where | parameter | bad value | the error names | and says |", "|---|---|---|---|---|"]
    with requests_mock.Mocker():
        for case in CASES:
            error = raise_for(case)
            fix = str(error).split(". ", 1)[1].replace("|", "\\|")
            rows.append(f"| {case.where} | `{case.param}` | {case.bad} | {error.param} | {fix} |")
    return "\n".join(rows)


if __name__ == "__main__":
    print(markdown())
