"""The SRC sandbox: a faithful simulator of the ScriptRunner Connect log API over real HTTP.

It serves exactly what a ``contract.Contract`` describes (``SandboxConfig.contract``, by default
``contract.DEFAULT``: paths, parameters, pagination, fields, enums, time formats, log delivery, error
bodies) from deterministic synthetic data, for tests, benchmarks, the demo and users without an SRC
account; ``GroundTruth`` gives what it serves, in the same wire form::

    with SandboxServer(SandboxConfig()) as sandbox:
        requests.get(sandbox.url + "/v1/team/team-sandbox/invocationLogs", auth=(DEFAULT_EMAIL, DEFAULT_API_KEY))

Command line: ``python -m airflow_provider_srconnect.sandbox --port 8765 [--contract FILE] [--short-pages]``.
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
from airflow_provider_srconnect.sandbox.window import GroundTruth, InvocationLogs

__all__ = [
    "DEFAULT_API_KEY",
    "DEFAULT_EMAIL",
    "DEFAULT_TEAM",
    "OTHER_TEAM",
    "Faults",
    "GroundTruth",
    "InvocationLogs",
    "SandboxConfig",
    "SandboxServer",
    "Stats",
    "User",
]
