"""The SRC doctor: checks a live account against a connection's wire contract, and proposes an override.

``python -m airflow_provider_srconnect.doctor --conn-id ID [--start ISO --end ISO] [--propose FILE]``
sends a bounded handful of requests inside the connection's rate budget and reports, for each group of
the contract, whether it holds, differs or was not checked, with evidence that is only the shape of the
replies (key names, value types, list lengths, status codes), never a value. Exit codes: 0 every check
holds, 1 something differs, 2 the doctor could not check (see ``docs/doctor.md``).
"""

from __future__ import annotations

from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    """Run the doctor with command-line arguments; returns the exit code."""
    from airflow_provider_srconnect.doctor.cli import main as run

    return run(argv)
