"""A successful run logs nothing at error level: the example DAGs against the sandbox, in real Airflow.

Everything a run prints is read (Airflow 3's structlog lines on stdout and stderr, Airflow 2's stdlib
records, and any task log file written under ``AIRFLOW_HOME``). A line at error level on a run that
succeeded sends users looking for a failure that did not happen; Airflow 3 logged one on every export
(``XCom not found … srconnect_reporting``) before the task stored its link's XCom first thing.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest

from tests.conftest import AIRFLOW_HOME
from tests.e2e.archive import archive_prefix, days_ago, run_dag

pytestmark = pytest.mark.e2e

prefix = archive_prefix("faces-clean-logs")
#: A log line at error level or above, as structlog prints it, as Airflow 2 formats it, or as a JSON log line.
ERROR_LINE = re.compile(
    r"\[\s*(error|critical|exception)\s*\]|\b(ERROR|CRITICAL)\b|\"level\"\s*:\s*\"(error|critical)\"", re.IGNORECASE
)


def log_files() -> dict[Path, int]:
    return {path: path.stat().st_size for path in Path(AIRFLOW_HOME).rglob("*.log") if path.is_file()}


def written_since(sizes: dict[Path, int]) -> str:
    """What the log files under ``AIRFLOW_HOME`` gained since ``sizes`` was taken."""
    text = []
    for path in log_files():
        with path.open("rb") as log:
            log.seek(sizes.get(path, 0))
            text.append(log.read().decode(errors="replace"))
    return "".join(text)


@pytest.mark.parametrize(
    ("dag_id", "logical_date"),
    [
        ("srconnect_invocations_daily", days_ago(5)),
        ("srconnect_existing_dag_handoff", days_ago(6)),
        ("srconnect_audit_hourly_to_gcs", days_ago(5, hours=7)),
    ],
)
def test_a_successful_run_logs_nothing_at_error_level(e2e, capfd, caplog, dag_id, logical_date):
    caplog.set_level(logging.INFO)
    sizes = log_files()
    capfd.readouterr()  # only this run's output

    run = run_dag(dag_id, logical_date)

    printed = capfd.readouterr()
    assert set(run.states.values()) == {"success"}, run.states
    text = printed.out + printed.err + written_since(sizes)
    assert "Archived" in text, "the capture holds none of the tasks' log: the check would prove nothing"
    errors = [line for line in text.splitlines() if ERROR_LINE.search(line)]
    errors += [f"{r.levelname} {r.name}: {r.getMessage()}" for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == [], "\n".join(errors)
