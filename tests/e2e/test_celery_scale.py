"""Scale-out on Airflow's own distributed engine: a 14-day backfill on CeleryExecutor, PostgreSQL and Redis.

The test starts, on 127.0.0.1 and on free ports: PostgreSQL (Debian's package) as the metadata database,
``redis-server`` as the Celery broker (database 0) and as the one rate budget of the SRC user (database
1, the connection's ``rate_limit_storage``), the SRC sandbox with a paid plan's limit of 10 requests/s,
and, each in a process group of its own in one Airflow home: ``airflow scheduler``, ``dag-processor``,
``api-server --workers 1``, ``triggerer`` and two ``airflow celery worker`` with different Celery
hostnames and concurrency 2. ``[core] hostname_callable`` reads a variable set per worker
(``tests/e2e/celery_hostname.py``), so ``task_instance.hostname`` tells the two apart, as it would on two
machines. The result backend is ``db+postgresql+psycopg2://``; ``[scheduler] use_job_schedule = False``
keeps the scheduler's own catch-up runs out of it.

``airflow backfill create`` plans 14 days of the unchanged ``srconnect_backfill`` example; ``[operators]
default_deferrable = True`` makes its settled sensor deferrable (a past day is settled: the sensor
returns on the worker without deferring, and without a request). One more DAG,
``srconnect_settle_probe``, waits for a window that ends 10 s after its sensor starts, so that a deferral
goes through the triggerer (its async hook on the same Redis budget) and resumes on a Celery worker.

Afterwards: every run and task succeeded, none was ever failed or up for retry; tasks ran on both
workers, and pool tasks ran on both at the same time; the sensor of the probe deferred and resumed; the
sandbox's token bucket (the plan's limit) refused no request; the union of the archives equals the
sandbox's ground truth of the 14 days (no gap, no duplicate, in order), and the bucket holds exactly the
14 data objects and manifests per log type (no staging object, no unfinished multipart upload), each
manifest matching its object's size and sha256.

Skips on Airflow 2 (no ``airflow backfill create``), and where PostgreSQL, ``redis-server`` or the Celery
provider is missing, except in CI, where ``.ci/run`` and the constraints install them and it fails.
About 2 to 3 minutes on 2 cores, most of it starting Airflow's processes.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
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
from tests.conftest import AIRFLOW_3, REPO_ROOT, free_port
from tests.e2e.archive import assert_logs_only_on_failed, decode, without_logs
from tests.e2e.celery_hostname import VARIABLE as HOSTNAME_VARIABLE
from tests.e2e.conftest import E2E, EXAMPLE_DAGS, S3_BUCKET
from tests.e2e.stack import Stack, postgresql, processes_of, redis_server, require, wait_for_http
from tests.e2e.test_backfill_scale import failed_task_logs, most_at_once

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not AIRFLOW_3, reason="`airflow backfill create` and the split of components are Airflow 3's"),
]

DAG_ID = "srconnect_backfill"
PROBE_DAG_ID = "srconnect_settle_probe"
SENSOR = "wait_for_window_to_settle"
PREFIX = "e2e-celery-scale"
DAYS = 14
#: A paid plan's limit per SRC user, the connection's budget (80 %) and the pool (half of it), per docs/backfill.md.
PLAN_RATE = 10
PLAN_BURST = PLAN_RATE
BUDGET_RATE = 8
POOL_SLOTS = 4
#: Celery worker name -> the hostname its tasks report.
WORKERS = {"w1": "srconnect-worker-1", "w2": "srconnect-worker-2"}
CONCURRENCY = 2
TASKS = ("wait_for_window_to_settle", "archive_invocations", "archive_audit")
POOLED = {"archive_invocations", "archive_audit"}
UNHEALTHY = {"failed", "up_for_retry", "upstream_failed", "removed"}
#: Bounded waits: one CLI command, the components' start, the whole backfill; seconds between two polls.
CLI_TIMEOUT = 180.0
STARTUP_TIMEOUT = 120.0
BACKFILL_TIMEOUT = 480.0
POLL = 1.0

FIRST_DAY = pendulum.today("UTC").subtract(days=DAYS + 3)  # settled days, well inside SRC's retention
LAST_DAY = FIRST_DAY.add(days=DAYS - 1)
RANGE_END = LAST_DAY.add(days=1)

#: A DAG run by hand next to the backfill: its settled sensor (deferrable by the same configuration) waits
#: for a window that ends 10 s after the task starts, so it defers to the triggerer and resumes on a worker.
PROBE_DAG = f'''
"""A deferral through the triggerer: the settled sensor on a window that ends 10 s after it starts."""
import pendulum
from airflow.sdk import DAG

from airflow_provider_srconnect.sensors.srconnect import SRConnectWindowSettledSensor

with DAG(
    dag_id="{PROBE_DAG_ID}",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    user_defined_macros={{"utcnow": lambda: pendulum.now("UTC")}},
):
    SRConnectWindowSettledSensor(
        task_id="{SENSOR}",
        window_start="{{{{ utcnow().add(seconds=9).isoformat() }}}}",  # 1 s: hardly ever a running invocation in it
        window_end="{{{{ utcnow().add(seconds=10).isoformat() }}}}",
        poke_interval=2,
        timeout=600,
    )
'''


@dataclass(frozen=True)
class TaskRow:
    dag_id: str
    task_id: str
    logical_date: pendulum.DateTime | None
    state: str | None
    pool: str
    hostname: str
    start: pendulum.DateTime | None
    end: pendulum.DateTime | None


@dataclass(frozen=True)
class Backfill:
    """What the stack did, and what the sandbox saw while it did it."""

    runs: dict[pendulum.DateTime, tuple[str, str]]  # logical date -> (state, run type), backfill DAG only
    probe_runs: list[str]  # states of the probe DAG's runs
    tasks: list[TaskRow]
    seen: dict[tuple[str, str], set[str]]  # (dag_id, task_id) -> every state a poll saw
    requests: int
    throttled: int
    peak_rate: int
    seconds: float
    home: Path


def _instant(value: Any) -> pendulum.DateTime | None:
    return None if value is None else pendulum.instance(value).in_timezone("UTC")


def read_db(db: Any) -> tuple[list[tuple[str, pendulum.DateTime | None, str, str]], list[TaskRow]]:
    """The runs and task instances of the two DAGs, straight from PostgreSQL."""
    with db.cursor() as cursor:
        cursor.execute(
            "SELECT dag_id, run_id, logical_date, state, run_type FROM dag_run WHERE dag_id IN (%s, %s)",
            (DAG_ID, PROBE_DAG_ID),
        )
        runs = cursor.fetchall()
        cursor.execute(
            "SELECT dag_id, run_id, task_id, state, pool, hostname, start_date, end_date FROM task_instance"
            " WHERE dag_id IN (%s, %s)",
            (DAG_ID, PROBE_DAG_ID),
        )
        tis = cursor.fetchall()
    db.rollback()  # end the snapshot: the next poll sees new rows
    dates = {(dag, run_id): _instant(logical) for dag, run_id, logical, _, _ in runs}
    rows = [
        TaskRow(dag, task, dates.get((dag, run_id)), state, pool, host or "", _instant(start), _instant(end))
        for dag, run_id, task, state, pool, host, start, end in tis
    ]
    return [(dag, _instant(logical), state, run_type) for dag, _, logical, state, run_type in runs], rows


def wait_for(condition: Any, what: str, stack: Stack, timeout: float) -> None:
    """Poll ``condition()`` until true; fail if a component exits or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while not condition():
        stack.assert_running()
        assert time.monotonic() < deadline, f"{what} not within {timeout} s"
        time.sleep(0.5)


def connection_of(sandbox: SandboxServer, redis_port: int) -> str:
    return json.dumps(
        {
            "conn_type": "srconnect",
            "host": sandbox.url,
            "login": DEFAULT_EMAIL,
            "password": DEFAULT_API_KEY,
            "extra": {
                "team_id": DEFAULT_TEAM,
                "rate_limit_per_second": BUDGET_RATE,
                "rate_limit_storage": f"redis://127.0.0.1:{redis_port}/1",
            },
        }
    )


@pytest.fixture(scope="module")
def plan_sandbox() -> Iterator[SandboxServer]:
    """A sandbox on real time with a paid plan's limit (sparse: two invocations and two audit records an hour)."""
    config = SandboxConfig(
        seed=31, invocations_per_hour=2, audit_per_hour=2, rate_limit_per_second=PLAN_RATE, burst=PLAN_BURST
    )
    with SandboxServer(config) as server:
        yield server


@pytest.fixture(scope="module")
def backfill(e2e: E2E, plan_sandbox: SandboxServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backfill]:
    for module in ("airflow.providers.celery", "psycopg2", "asyncpg"):
        try:
            __import__(module)
        except ImportError:
            require(f"the Python package of {module}", None, "scripts/bootstrap installs the test extra")
    import psycopg2

    home = tmp_path_factory.mktemp("airflow-celery-home")
    dags = home / "dags"
    dags.mkdir()
    (dags / f"{DAG_ID}.py").write_bytes((EXAMPLE_DAGS / f"{DAG_ID}.py").read_bytes())  # the example, unchanged
    (dags / f"{PROBE_DAG_ID}.py").write_text(PROBE_DAG)
    api_port = free_port()
    with contextlib.ExitStack() as servers:
        db_url = servers.enter_context(postgresql())
        redis_port = servers.enter_context(redis_server(home))
        env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
        env.update(
            AIRFLOW_HOME=str(home),
            AIRFLOW__CORE__LOAD_EXAMPLES="False",
            AIRFLOW__CORE__DAGS_FOLDER=str(dags),
            AIRFLOW__CORE__FERNET_KEY=os.environ["AIRFLOW__CORE__FERNET_KEY"],
            AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=db_url,
            AIRFLOW__CORE__EXECUTOR="CeleryExecutor",
            AIRFLOW__CORE__PARALLELISM=str(len(WORKERS) * CONCURRENCY),
            AIRFLOW__CORE__HOSTNAME_CALLABLE="tests.e2e.celery_hostname.hostname",
            AIRFLOW__CELERY__BROKER_URL=f"redis://127.0.0.1:{redis_port}/0",
            AIRFLOW__CELERY__RESULT_BACKEND=f"db+{db_url}",
            AIRFLOW__CELERY__WORKER_CONCURRENCY=str(CONCURRENCY),
            AIRFLOW__CELERY__OPERATION_TIMEOUT="30",  # sending a task to the broker on a loaded machine
            AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE="False",
            AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION="False",  # instead of `airflow dags unpause` (one CLI less)
            AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE="True",
            AIRFLOW__API__HOST="127.0.0.1",
            AIRFLOW__API__PORT=str(api_port),
            AIRFLOW__CORE__EXECUTION_API_SERVER_URL=f"http://127.0.0.1:{api_port}/execution/",
            AIRFLOW__API_AUTH__JWT_SECRET=base64.urlsafe_b64encode(os.urandom(32)).decode(),
            AIRFLOW_CONN_SRCONNECT_DEFAULT=connection_of(plan_sandbox, redis_port),
            AIRFLOW_CONN_AWS_DEFAULT=os.environ["AIRFLOW_CONN_AWS_DEFAULT"],  # the e2e fixture's moto
            AIRFLOW_VAR_SRCONNECT_S3_BUCKET=S3_BUCKET,
            AIRFLOW_VAR_SRCONNECT_PREFIX=PREFIX,
            PYTHONPATH=os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])),
        )
        stack = Stack(home, env, CLI_TIMEOUT)
        db = psycopg2.connect(db_url.replace("postgresql+psycopg2", "postgresql"), connect_timeout=10)
        servers.callback(db.close)  # before PostgreSQL stops (callbacks run last in, first out)
        plan_sandbox.stats.reset()
        started = time.monotonic()
        phases: dict[str, float] = {}
        try:
            stack.cli(("db", "migrate"))
            phases["migrated"] = time.monotonic() - started
            for name, args in {
                "api-server": ("api-server", "--workers", "1"),
                "scheduler": ("scheduler", "--skip-serve-logs"),
                "dag-processor": ("dag-processor",),
                "triggerer": ("triggerer", "--skip-serve-logs"),
            }.items():
                stack.start(name, *args)
            for worker, host in WORKERS.items():
                stack.start(
                    f"worker-{worker}",
                    *("celery", "worker", "--celery-hostname", f"{worker}@%h", "--concurrency", str(CONCURRENCY)),
                    *("--skip-serve-logs", "--without-mingle", "--without-gossip"),
                    env={HOSTNAME_VARIABLE: host},
                )

            def parsed() -> bool:
                with db.cursor() as cursor:
                    cursor.execute("SELECT DISTINCT dag_id FROM serialized_dag")
                    found = {row[0] for row in cursor.fetchall()}
                db.rollback()
                return {DAG_ID, PROBE_DAG_ID} <= found

            wait_for(parsed, "the DAG processor serialized both DAGs", stack, STARTUP_TIMEOUT)
            phases["parsed"] = time.monotonic() - started
            # Both workers listen before any task is queued (so neither takes every early task).
            wait_for(
                lambda: all(" ready." in stack.log_tail(f"worker-{w}", 100_000) for w in WORKERS),
                "both Celery workers ready",
                stack,
                STARTUP_TIMEOUT,
            )
            wait_for_http(
                f"http://127.0.0.1:{api_port}/execution/", stack.components["api-server"], "airflow api-server", 60
            )
            phases["components up"] = time.monotonic() - started
            stack.cli(
                ("pools", "set", "srconnect_api", str(POOL_SLOTS), "SRC API budget"),
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
                ),
                ("dags", "trigger", PROBE_DAG_ID),
            )
            phases["planned"] = time.monotonic() - started
            seen: dict[tuple[str, str], set[str]] = {}
            deadline = time.monotonic() + BACKFILL_TIMEOUT
            while True:
                runs, tasks = read_db(db)
                for task in tasks:
                    seen.setdefault((task.dag_id, task.task_id), set()).add(str(task.state))
                unhealthy = [t for t in tasks if t.state in UNHEALTHY]
                finished = [r for r in runs if r[2] in ("success", "failed")]
                done = len(finished) == len(runs) == DAYS + 1
                if done or unhealthy:
                    break
                stack.assert_running()
                assert time.monotonic() < deadline, (
                    f"not finished within {BACKFILL_TIMEOUT} s: runs {sorted(r[2] for r in runs)}\n"
                    f"{stack.log_tail('scheduler')}"
                )
                time.sleep(POLL)
            assert not unhealthy, f"tasks failed: {unhealthy}\n{failed_task_logs(home)}"
            seconds = time.monotonic() - started
        finally:
            stack.stop()
        assert processes_of(home) == [], "an Airflow process outlived the test"
    stats = plan_sandbox.stats
    by_date = {logical: (state, run_type) for dag, logical, state, run_type in runs if dag == DAG_ID and logical}
    probe_runs = [state for dag, _, state, _ in runs if dag == PROBE_DAG_ID]
    pooled = [t for t in tasks if t.task_id in POOLED]
    print(  # shown with -s, or on failure
        f"celery backfill: {DAYS} days in {seconds:.0f} s ({', '.join(f'{k} {v:.0f} s' for k, v in phases.items())}); "
        f"{stats.requests_total} requests, peak {stats.peak_rate}/s, {stats.throttled} throttled, "
        f"{most_at_once(pooled)} pool tasks at once; hosts {sorted({t.hostname for t in tasks})}"
    )
    yield Backfill(
        by_date, probe_runs, tasks, seen, stats.requests_total, stats.throttled, stats.peak_rate, seconds, home
    )


def backfill_tasks(backfill: Backfill) -> list[TaskRow]:
    return [t for t in backfill.tasks if t.dag_id == DAG_ID]


def test_every_day_ran_once_as_a_backfill_and_every_task_succeeded(backfill: Backfill) -> None:
    assert sorted(backfill.runs) == [FIRST_DAY.add(days=n) for n in range(DAYS)]
    assert set(backfill.runs.values()) == {("success", "backfill")}
    tasks = backfill_tasks(backfill)
    assert len(tasks) == DAYS * len(TASKS)
    assert {t.state for t in tasks} == {"success"}
    assert {t.pool for t in tasks if t.task_id in POOLED} == {"srconnect_api"}
    never = {state for states in backfill.seen.values() for state in states} & UNHEALTHY
    assert not never, f"a task was {never} at some point"


def test_tasks_ran_on_both_workers_and_pool_tasks_on_both_at_once(backfill: Backfill) -> None:
    tasks = backfill_tasks(backfill)
    assert {t.hostname for t in tasks} == set(WORKERS.values())
    pooled = [t for t in tasks if t.task_id in POOLED and t.start and t.end]
    assert 2 <= most_at_once(pooled) <= POOL_SLOTS
    overlapping = [
        (a, b)
        for a in pooled
        for b in pooled
        if a.hostname < b.hostname and a.start and a.end and b.start and b.end and a.start < b.end and b.start < a.end
    ]
    assert overlapping, "no two pool tasks ran on different workers at the same time: the budget was never shared"


def test_the_deferrable_sensor_went_through_the_triggerer_and_resumed_on_a_worker(backfill: Backfill) -> None:
    assert backfill.probe_runs == ["success"]
    (probe,) = [t for t in backfill.tasks if t.dag_id == PROBE_DAG_ID]
    assert probe.state == "success"
    assert probe.hostname in WORKERS.values()  # execute_complete ran on a worker
    # The triggerer writes a trigger's log next to the task's: it asked SRC once the window had ended.
    (trigger_log,) = (backfill.home / "logs" / f"dag_id={PROBE_DAG_ID}").rglob("attempt=1.log.trigger.*.log")
    assert "is settled" in trigger_log.read_text()
    # A past day of the backfill is settled: its sensor returned on the worker, without the triggerer.
    assert not list((backfill.home / "logs" / f"dag_id={DAG_ID}").rglob("*.log.trigger.*"))


def test_one_redis_budget_kept_both_workers_within_the_plan(backfill: Backfill) -> None:
    """The plan's limit is the sandbox's token bucket (10/s, burst 10): it refused no request.

    Four task processes on two workers, each with a budget of its own, would send up to 32/s and meet
    429s (``tests/test_shared_budget_redis.py`` shows the control). The count of any one second is not
    held to the rate alone: the budget is a token bucket too, which admits its burst plus a second of
    refill into one second, as the server's does.
    """
    assert backfill.requests > DAYS * 3, "the backfill made too few requests to say anything about the limit"
    assert backfill.throttled == 0
    assert backfill.peak_rate <= PLAN_RATE + PLAN_BURST  # what the bucket can admit in one second


def s3_read(e2e: E2E, key: str) -> bytes:
    return bytes(e2e.s3.get_object(Bucket=S3_BUCKET, Key=key)["Body"].read())


def test_the_bucket_holds_whole_objects_only(backfill: Backfill, e2e: E2E) -> None:
    expected = set()
    for log_type in ("invocations", "audit"):
        for n in range(DAYS):
            day = FIRST_DAY.add(days=n)
            keys = archive_keys(PREFIX, log_type, LogWindow(day, day.add(days=1)))
            expected |= {keys.data, keys.manifest}
            data = s3_read(e2e, keys.data)
            manifest = json.loads(s3_read(e2e, keys.manifest))
            assert manifest["bytes"] == len(data)
            assert manifest["sha256"] == hashlib.sha256(data).hexdigest()
    listed = e2e.s3.get_paginator("list_objects_v2").paginate(Bucket=S3_BUCKET, Prefix=f"{PREFIX}/")
    keys = {item["Key"] for page in listed for item in page.get("Contents", [])}
    assert keys == expected, f"unexpected objects (staging, partial): {sorted(keys - expected)}"
    uploads = e2e.s3.list_multipart_uploads(Bucket=S3_BUCKET, Prefix=f"{PREFIX}/").get("Uploads", [])
    assert uploads == []


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
    union: list[dict[str, Any]] = []
    home_of: dict[str, pendulum.DateTime] = {}
    for n in range(DAYS):
        day = FIRST_DAY.add(days=n)
        keys = archive_keys(PREFIX, log_type, LogWindow(day, day.add(days=1)))
        records = decode(s3_read(e2e, keys.data))
        manifest = json.loads(s3_read(e2e, keys.manifest))
        assert manifest["records"] == len(records) > 0
        assert pendulum.parse(manifest["window"]["start"]) == day
        assert pendulum.parse(manifest["window"]["end"]) == day.add(days=1)
        if log_type == "invocations":
            assert_logs_only_on_failed(records)
        for record in records:
            assert record[id_field] not in home_of, f"{record[id_field]} is in {home_of[record[id_field]]} and {day}"
            home_of[record[id_field]] = day
        union += [without_logs(r) for r in records]

    ground = plan_sandbox.ground_truth
    truth = (ground.invocations if log_type == "invocations" else ground.audit)(DEFAULT_TEAM, FIRST_DAY, RANGE_END)
    assert [r[id_field] for r in union] == [r[id_field] for r in truth]  # no gap, no duplicate, in order
    assert union == truth
    # Each midnight of the range has a record exactly at 00:00:00.000: it is in the day it starts (only).
    at_midnight = {
        home_of[r[id_field]].int_timestamp
        for r in truth
        if contract.parse_time(r[time_field]).timestamp() == home_of[r[id_field]].timestamp()
    }
    assert at_midnight == {FIRST_DAY.add(days=n).int_timestamp for n in range(DAYS)}
