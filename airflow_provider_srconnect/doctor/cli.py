"""``python -m airflow_provider_srconnect.doctor``: check a live SRC account against the connection's contract."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow_provider_srconnect import contract
from airflow_provider_srconnect.doctor import propose
from airflow_provider_srconnect.doctor.checks import MAX_API_REQUESTS, CouldNotCheck, Doctor, default_window
from airflow_provider_srconnect.exceptions import SRConnectParamError

if TYPE_CHECKING:
    from airflow_provider_srconnect.contract import Contract

PROG = "python -m airflow_provider_srconnect.doctor"
#: Groups that are set by request parameters, which no reply reveals.
_REQUEST_SIDE = frozenset({"paths", "window", "pagination", "filters"})


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=PROG,
        description=(
            "Check a live ScriptRunner Connect account against the contract of an srconnect connection: "
            f"at most {MAX_API_REQUESTS} API requests inside its rate budget. Exit 0: every check holds; "
            "1: something differs; 2: could not check."
        ),
    )
    p.add_argument("--conn-id", required=True, help="the srconnect connection to check")
    p.add_argument("--start", type=_moment, help="window start, ISO-8601 (UTC when no zone is given)")
    p.add_argument("--end", type=_moment, help="window end (exclusive); default: the last full UTC day")
    p.add_argument("--propose", metavar="FILE", type=Path, help="write the connection extra 'contract' to FILE")
    return p


def _moment(text: str) -> dt.datetime:
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO-8601 time: {text!r} (e.g. 2026-03-08T00:00:00Z)") from None
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)


def _window(args: argparse.Namespace) -> tuple[dt.datetime, dt.datetime]:
    if (args.start is None) != (args.end is None):
        raise CouldNotCheck("give both --start and --end, or neither (the last full UTC day)")
    if args.start is None:
        return default_window(dt.datetime.now(dt.UTC))
    if args.start >= args.end:
        raise CouldNotCheck("--start must be before --end")
    return args.start, args.end


def _connect(conn_id: str) -> tuple[Any, str, str, Contract]:
    """The hook, base URL, team and contract of a connection; ``CouldNotCheck`` names what to fix."""
    from airflow.providers.common.compat.sdk import AirflowNotFoundException

    from airflow_provider_srconnect.hooks.srconnect import SRConnectHook

    hook = SRConnectHook(srconnect_conn_id=conn_id)
    try:
        settings = hook.settings
    except AirflowNotFoundException:
        raise CouldNotCheck(
            f"there is no connection {conn_id!r}: create it (airflow connections add, or an AIRFLOW_CONN_"
            f"{conn_id.upper()} variable) or pass the id of an existing srconnect connection"
        ) from None
    except SRConnectParamError as exc:
        raise CouldNotCheck(f"connection {conn_id!r}: {exc}") from None
    if settings.team_id is None:
        raise CouldNotCheck(f"connection {conn_id!r} has no extra 'team_id': set it to the team whose logs you archive")
    return hook, settings.base_url, settings.team_id, settings.contract


def _header(conn_id: str, c: Contract, start: dt.datetime, end: dt.datetime) -> str:
    which = "default" if c == contract.DEFAULT else "the connection's override"
    window = f"{contract.format_time(start)} .. {contract.format_time(end)}"
    return f"SRC doctor: connection {conn_id!r}, contract {which} (fingerprint {c.fingerprint()}), window {window}"


def _write_proposal(path: Path, doctor: Doctor, c: Contract) -> list[str]:
    proposal = propose.build(doctor.seen, c)
    path.write_text(json.dumps(proposal.override(), indent=2) + "\n")
    out = [f"proposal written to {path} (the value of the connection extra 'contract')"]
    if proposal.changed:
        out.append("    changed from the connection's contract: " + ", ".join(proposal.changed))
    else:
        out.append("    no change the replies reveal")
    out += [f"    note: {note}" for note in proposal.notes]
    return out


def _unrevealed() -> list[str]:
    return [
        "replies cannot reveal the request side of the contract; set these yourself:",
        *[f"    {item}" for item in propose.UNREVEALED],
        f"    hint: {propose.HINT}",
    ]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the doctor; returns the exit code (0 holds, 1 differs, 2 could not check)."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # bad arguments: argparse printed why
        return int(exc.code) if isinstance(exc.code, int) else 2
    try:
        if args.propose is not None and not args.propose.parent.is_dir():
            raise CouldNotCheck(f"--propose: the folder of {args.propose} does not exist")
        start, end = _window(args)
        hook, base_url, team_id, c = _connect(args.conn_id)
        print(_header(args.conn_id, c, start, end), flush=True)
        doctor = Doctor(lambda url, params, api: hook._get(url, params, api=api), base_url, team_id, c, start, end)
        report = doctor.run()
    except CouldNotCheck as exc:
        print(f"srconnect doctor: could not check: {exc}", file=sys.stderr)
        return 2
    lines = [report.render(), f"{report.api_requests} API requests, {report.downloads} downloads"]
    differing = report.differing()
    if differing:
        lines.append(f"result: differs in {', '.join(differing)} (exit 1)")
    else:
        lines.append("result: every check holds (exit 0)")
    if args.propose is not None:
        try:
            lines += _write_proposal(args.propose, doctor, c)
        except OSError as exc:
            print("\n".join(lines))
            print(f"srconnect doctor: could not write {args.propose}: {exc.strerror}", file=sys.stderr)
            return 2
    if args.propose is not None or _REQUEST_SIDE & set(differing):
        lines += _unrevealed()
    elif differing:
        lines.append("hint: run again with --propose FILE for the override that matches these replies")
    print("\n".join(lines))
    return report.exit_code
