"""30 days of ``srconnect_backfill``, backfilled by a real Airflow 3 scheduler, several days at once.

The mechanism is Airflow 3's own: ``airflow backfill create`` in a fresh SQLite Airflow home, run by
an ``airflow scheduler`` (LocalExecutor: 4 worker processes, SQLite is allowed on Airflow 3) and an
``airflow api-server --apps execution`` (the API through which task processes report) that this test
starts in their own process groups and stops. The scheduler's own schedule is off
(``[scheduler] use_job_schedule = False``), so only the backfill's runs exist; the DAG itself is
unchanged (``catchup=True``, pool ``srconnect_api``).

The sandbox enforces a paid plan's 20 requests/s per user; the connection's budget is 16/s, shared by
every task process through SQLite (one machine), and the pool has 4 slots. Afterwards:

- every day ran once and every task succeeded, with up to 4 pool tasks at a time and more than one;
- the union of all archives equals the sandbox's ground truth of the whole range, in order: no gap,
  no duplicate across adjacent days; a record exactly at midnight is in the day it starts, only;
- the sandbox answered no 429 and never saw more than the plan's rate.

About 100 s on 2 cores (20 s of it the Airflow CLI and server start).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pendulum
import pytest

from airflow_provider_srconnect import contract
from airflow_provider_srconnect.export import archive_keys
from airflow_provider_srconnect.sandbox import (
    DEFAULT_API_KEY,
    DEFAULT_EMAIL,
    DEFAULT_TEAM,
    SandboxConfig,
    SandboxServer,
)
from airflow_provider_srconnect.windows import LogWindow
from tests.conftest import free_port
from tests.e2e.archive import assert_logs_only_on_failed, decode, without_logs
from tests.e2e.conftest import E2E, EXAMPLE_DAGS, S3_BUCKET
from tests.e2e.stack import Stack, processes_of, wait_for_http

try:
    from airflow.sdk import DAG as _DAG  # noqa: F401  # Airflow 3 only
except ImportError:  # Airflow 2.11: no `airflow backfill create`
    AIRFLOW_3 = False
else:
    AIRFLOW_3 = True

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not AIRFLOW_3, reason="`airflow backfill create` and the scheduler layout are Airflow 3's"),
]

DAG_ID = "srconnect_backfill"
PREFIX = "e2e-backfill-scale"
DAYS = 30
#: The sandbox's per-user limit (a paid plan), the connection's budget below it, the pool's slots.
PLAN_RATE = 20
BUDGET_RATE = 16
POOL_SLOTS = 4
TASKS = ("wait_for_window_to_settle", "archive_invocations", "archive_audit")
POOLED = {"archive_invocations", "archive_audit"}
#: Bounded waits: the CLI, the API server's start, the whole backfill.
CLI_TIMEOUT = 180.0
API_STARTUP_TIMEOUT = 90.0
BACKFILL_TIMEOUT = 420.0

FIRST_DAY = pendulum.today("UTC").subtract(days=DAYS + 3)  # settled days, well inside SRC's retention
LAST_DAY = FIRST_DAY.add(days=DAYS - 1)
RANGE_END = LAST_DAY.add(days=1)


@dataclass(frozen=True)
class TaskRow:
    task_id: str
    logical_date: pendulum.DateTime
    state: str | None
    pool: str
    start: pendulum.DateTime | None
    end: pendulum.DateTime | None


@dataclass(frozen=True)
class Backfill:
    """What the scheduler did, and what the sandbox saw while it did it."""

    runs: dict[pendulum.DateTime, tuple[str, str]]  # logical date -> (state, run type)
    tasks: list[TaskRow]
    requests: int
    throttled: int
    peak_rate: int
    seconds: float


def _utc(value: str) -> pendulum.DateTime:
    parsed = pendulum.parse(value, tz="UTC")
    assert isinstance(parsed, pendulum.DateTime)
    return parsed.in_timezone("UTC")


def read_db(path: Path) -> tuple[dict[pendulum.DateTime, tuple[str, str]], list[TaskRow]]:
    """The backfill's runs and task instances, read straight from the SQLite metadata DB (read-only)."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    try:
        runs = db.execute(
            "SELECT run_id, logical_date, state, run_type FROM dag_run WHERE dag_id = ?", (DAG_ID,)
        ).fetchall()
        tis = db.execute(
            "SELECT task_id, run_id, state, pool, start_date, end_date FROM task_instance WHERE dag_id = ?", (DAG_ID,)
        ).fetchall()
    finally:
        db.close()
    dates = {run_id: _utc(logical) for run_id, logical, _, _ in runs}
    by_date = {dates[run_id]: (state, run_type) for run_id, _, state, run_type in runs}
    rows = [
        TaskRow(task, dates[run_id], state, pool, start and _utc(start), end and _utc(end))
        for task, run_id, state, pool, start, end in tis
    ]
    return by_date, rows


def failed_task_logs(home: Path) -> str:
    """The end of each log of a task attempt that did not succeed."""
    tails = []
    for log in sorted((home / "logs").rglob("attempt=*.log")):
        text = log.read_text(errors="replace")
        if '"level":"error"' in text.replace(" ", "") or "Traceback" in text:
            tails.append(f"--- {log.relative_to(home)}\n{text[-2500:]}")
    return "\n".join(tails[:3])


@pytest.fixture(scope="module")
def plan_sandbox() -> Iterator[SandboxServer]:
    """A sandbox on real time with a paid plan's limit; sparse, so 30 days fit the test budget.

    Two invocations and two audit records an hour (one of each exactly on every 6th hour, midnight included).
    """
    config = SandboxConfig(
        seed=23, invocations_per_hour=2, audit_per_hour=2, rate_limit_per_second=PLAN_RATE, burst=PLAN_RATE
    )
    with SandboxServer(config) as server:
        yield server


@pytest.fixture(scope="module")
def backfill(e2e: E2E, plan_sandbox: SandboxServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backfill]:
    home = tmp_path_factory.mktemp("airflow-backfill-home")
    api_port = free_port()
    aws = json.loads(os.environ["AIRFLOW_CONN_AWS_DEFAULT"])  # the e2e fixture's moto connection
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env.update(
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__CORE__DAGS_FOLDER=str(EXAMPLE_DAGS),
        AIRFLOW__CORE__FERNET_KEY=os.environ["AIRFLOW__CORE__FERNET_KEY"],
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{home}/airflow.db?timeout=60",
        AIRFLOW__CORE__EXECUTOR="LocalExecutor",
        AIRFLOW__CORE__PARALLELISM=str(POOL_SLOTS),
        AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE="False",
        AIRFLOW__API__HOST="127.0.0.1",
        AIRFLOW__API__PORT=str(api_port),
        AIRFLOW__CORE__EXECUTION_API_SERVER_URL=f"http://127.0.0.1:{api_port}/execution/",
        AIRFLOW__API_AUTH__JWT_SECRET=base64.urlsafe_b64encode(os.urandom(32)).decode(),
        AIRFLOW_CONN_SRCONNECT_DEFAULT=json.dumps(
            {
                "conn_type": "srconnect",
                "host": plan_sandbox.url,
                "login": DEFAULT_EMAIL,
                "password": DEFAULT_API_KEY,
                "extra": {
                    "team_id": DEFAULT_TEAM,
                    "rate_limit_per_second": BUDGET_RATE,
                    "rate_limit_storage": f"sqlite:///{home}/srconnect-budget.db",
                },
            }
        ),
        AIRFLOW_CONN_AWS_DEFAULT=json.dumps(aws),
        AIRFLOW_VAR_SRCONNECT_S3_BUCKET=S3_BUCKET,
        AIRFLOW_VAR_SRCONNECT_PREFIX=PREFIX,
    )
    airflow = Stack(home, env, CLI_TIMEOUT)
    plan_sandbox.stats.reset()
    started = time.monotonic()
    try:
        airflow.cli(("db", "migrate"))
        # WAL: the scheduler, the API server and this test's reads then wait on each other far less.
        with contextlib.closing(sqlite3.connect(home / "airflow.db")) as db:
            db.execute("PRAGMA journal_mode=WAL")
        airflow.cli(("dags", "reserialize"))
        airflow.cli(
            ("pools", "set", "srconnect_api", str(POOL_SLOTS), "SRC API budget"),
            ("dags", "unpause", DAG_ID),  # the tasks of a paused DAG's backfill never start
        )
        airflow.cli(
            (
                "backfill",
                "create",
                "--dag-id",
                DAG_ID,
                "--from-date",
                FIRST_DAY.to_date_string(),
                "--to-date",
                LAST_DAY.to_date_string(),
                "--max-active-runs",
                str(POOL_SLOTS),
            )
        )
        api = airflow.start("api-server", "api-server", "--apps", "execution", "--workers", "1")
        wait_for_http(f"http://127.0.0.1:{api_port}/execution/", api, "airflow api-server", API_STARTUP_TIMEOUT)
        scheduler = airflow.start("scheduler", "scheduler", "--skip-serve-logs")
        ready = time.monotonic() - started
        deadline = time.monotonic() + BACKFILL_TIMEOUT
        while True:
            runs, tasks = read_db(home / "airflow.db")
            unhealthy = [t for t in tasks if t.state in ("failed", "up_for_retry", "upstream_failed")]
            done = len(runs) == DAYS and all(state in ("success", "failed") for state, _ in runs.values())
            if done or unhealthy:
                break
            assert scheduler.poll() is None, f"the scheduler exited:\n{airflow.log_tail('scheduler')}"
            assert time.monotonic() < deadline, (
                f"the backfill did not finish within {BACKFILL_TIMEOUT} s: runs {sorted(runs.values())}\n"
                f"{airflow.log_tail('scheduler')}"
            )
            time.sleep(2)
        assert not unhealthy, f"tasks failed: {unhealthy}\n{failed_task_logs(home)}"
        seconds = time.monotonic() - started
    finally:
        airflow.stop()
    assert processes_of(home) == [], "an Airflow process outlived the test"
    stats = plan_sandbox.stats
    pooled = [t for t in tasks if t.task_id in POOLED]
    print(  # shown with -s, or on failure
        f"backfill: {DAYS} days in {seconds:.0f} s ({ready:.0f} s of CLI and server start); "
        f"{stats.requests_total} requests, peak {stats.peak_rate}/s, {stats.throttled} throttled, "
        f"{most_at_once(pooled)} pool tasks at once"
    )
    yield Backfill(runs, tasks, stats.requests_total, stats.throttled, stats.peak_rate, seconds)


def test_every_day_ran_once_as_a_backfill_and_every_task_succeeded(backfill: Backfill) -> None:
    days = [FIRST_DAY.add(days=n) for n in range(DAYS)]
    assert sorted(backfill.runs) == days
    assert set(backfill.runs.values()) == {("success", "backfill")}
    assert len(backfill.tasks) == DAYS * len(TASKS)
    assert {t.state for t in backfill.tasks} == {"success"}
    assert {t.pool for t in backfill.tasks if t.task_id in POOLED} == {"srconnect_api"}


def most_at_once(tasks: list[TaskRow]) -> int:
    """The most ``tasks`` that ran at the same time."""
    events = sorted(
        [(t.start, 1) for t in tasks if t.start and t.end] + [(t.end, -1) for t in tasks if t.start and t.end]
    )
    running = peak = 0
    for _, change in events:
        running += change
        peak = max(peak, running)
    return peak


def test_windows_ran_in_parallel_in_the_pool_and_no_429_reached_a_task(backfill: Backfill) -> None:
    pooled = [t for t in backfill.tasks if t.task_id in POOLED]
    assert 2 <= most_at_once(pooled) <= POOL_SLOTS
    assert backfill.requests > DAYS * 3, "the backfill made too few requests to say anything about the limit"
    assert backfill.throttled == 0
    assert backfill.peak_rate <= 2 * PLAN_RATE  # what the plan's bucket (20/s, burst 20) admits in one second


def archive(e2e: E2E, log_type: str, day: pendulum.DateTime) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    keys = archive_keys(PREFIX, log_type, LogWindow(day, day.add(days=1)))
    data = e2e.s3.get_object(Bucket=S3_BUCKET, Key=keys.data)["Body"].read()
    manifest = json.loads(e2e.s3.get_object(Bucket=S3_BUCKET, Key=keys.manifest)["Body"].read())
    return decode(data), manifest


@pytest.mark.parametrize(
    ("log_type", "id_field", "time_field"),
    [
        ("invocations", contract.InvocationField.ID, contract.InvocationField.START_TIME),
        ("audit", contract.AuditField.ID, contract.AuditField.DATE),
    ],
)
def test_the_archives_together_equal_the_ground_truth_of_the_range(
    backfill: Backfill, e2e: E2E, plan_sandbox: SandboxServer, log_type: str, id_field: str, time_field: str
) -> None:
    ground = plan_sandbox.ground_truth
    truth_of = ground.invocations if log_type == "invocations" else ground.audit
    union: list[dict[str, Any]] = []
    home_of: dict[str, pendulum.DateTime] = {}
    for n in range(DAYS):
        day = FIRST_DAY.add(days=n)
        records, manifest = archive(e2e, log_type, day)
        assert manifest["records"] == len(records) > 0
        assert pendulum.parse(manifest["window"]["start"]) == day
        assert pendulum.parse(manifest["window"]["end"]) == day.add(days=1)
        if log_type == "invocations":
            assert_logs_only_on_failed(records)
        for record in records:
            assert record[id_field] not in home_of, f"{record[id_field]} is in {home_of[record[id_field]]} and {day}"
            home_of[record[id_field]] = day
        union += [without_logs(r) for r in records]

    truth = truth_of(DEFAULT_TEAM, FIRST_DAY, RANGE_END)
    assert [r[id_field] for r in union] == [r[id_field] for r in truth]  # no gap, no duplicate, in order
    assert union == truth

    # Each midnight of the range has a record exactly at 00:00:00.000: it is in the day it starts (only).
    at_midnight = {
        home_of[r[id_field]].int_timestamp
        for r in truth
        if contract.parse_time(r[time_field]).timestamp() == home_of[r[id_field]].timestamp()
    }
    assert at_midnight == {FIRST_DAY.add(days=n).int_timestamp for n in range(DAYS)}
