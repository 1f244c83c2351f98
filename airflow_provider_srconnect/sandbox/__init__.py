"""The SRC sandbox: a faithful simulator of the ScriptRunner Connect log API over real HTTP.

It serves exactly what ``airflow_provider_srconnect.contract`` describes (paths, parameters,
pagination, fields, enums, time format) from deterministic synthetic data, for tests, benchmarks,
the demo and users without an SRC account::

    with SandboxServer(SandboxConfig()) as sandbox:
        requests.get(sandbox.url + "/v1/team/team-sandbox/invocationLogs", auth=(DEFAULT_EMAIL, DEFAULT_API_KEY))

Command line: ``python -m airflow_provider_srconnect.sandbox --port 8765``.
"""

from __future__ import annotations

from airflow_provider_srconnect.sandbox.config import (
    DEFAULT_API_KEY,
    DEFAULT_EMAIL,
    DEFAULT_TEAM,
    OTHER_TEAM,
    SandboxConfig,
    User,
)
from airflow_provider_srconnect.sandbox.faults import Faults
from airflow_provider_srconnect.sandbox.server import SandboxServer
from airflow_provider_srconnect.sandbox.stats import Stats
from airflow_provider_srconnect.sandbox.window import GroundTruth

__all__ = [
    "DEFAULT_API_KEY",
    "DEFAULT_EMAIL",
    "DEFAULT_TEAM",
    "OTHER_TEAM",
    "Faults",
    "GroundTruth",
    "SandboxConfig",
    "SandboxServer",
    "Stats",
    "User",
]
