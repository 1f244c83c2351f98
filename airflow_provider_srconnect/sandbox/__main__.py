"""``python -m airflow_provider_srconnect.sandbox``: serve the SRC sandbox until SIGINT/SIGTERM.

``--contract FILE`` makes it speak another wire contract: the same override JSON a connection's extra
``contract`` takes, laid over the default. ``--short-pages`` serves short pages mid-stream.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

from airflow_provider_srconnect import contract
from airflow_provider_srconnect.exceptions import SRConnectParamError
from airflow_provider_srconnect.sandbox.config import DEFAULT_API_KEY, DEFAULT_EMAIL, DEFAULT_TEAM, SandboxConfig
from airflow_provider_srconnect.sandbox.faults import DOWNLOAD_FAULTS, Faults
from airflow_provider_srconnect.sandbox.server import SandboxServer


def _parser() -> argparse.ArgumentParser:
    d = SandboxConfig()
    p = argparse.ArgumentParser(
        prog="python -m airflow_provider_srconnect.sandbox",
        description="Serve the ScriptRunner Connect sandbox (a simulator of the SRC log API) until SIGINT/SIGTERM.",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8765, help="port to bind; 0 = any free port")
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--invocations-per-hour", type=int, default=d.invocations_per_hour)
    p.add_argument("--audit-per-hour", type=int, default=d.audit_per_hour)
    p.add_argument("--rate-limit", type=float, default=d.rate_limit_per_second, help="per user per second; 0 = off")
    p.add_argument("--burst", type=int, default=d.burst)
    p.add_argument("--latency-ms", type=float, default=d.latency_ms)
    p.add_argument("--download-ttl", type=float, default=d.download_ttl_seconds, help="seconds")
    p.add_argument("--now", type=contract.parse_time, default=None, help="fixed clock, ISO-8601 with zone")
    p.add_argument(
        "--contract",
        metavar="FILE",
        default=None,
        help="a JSON override of the wire contract (as a connection's extra 'contract'); default: the provider's",
    )
    p.add_argument(
        "--short-pages", action="store_true", help="serve short pages mid-stream (every page whose index %% 3 == 1)"
    )
    for name in ("error", "reset", "truncate", "malformed", "missing-field", "slow", "expired-url"):
        p.add_argument(f"--{name}-rate", type=float, default=0.0, help="fault probability 0..1")
    for fault in DOWNLOAD_FAULTS:
        p.add_argument(
            f"--download-{fault.replace('_', '-')}-rate",
            type=float,
            default=0.0,
            help="download fault probability 0..1 (log files and large messages; see sandbox/faults.py)",
        )
    p.add_argument("--slow-seconds", type=float, default=1.0)
    p.add_argument("--fault-seed", type=int, default=None)
    p.add_argument("-v", "--verbose", action="store_true", help="log every request line")
    return p


def _contract(path: str | None) -> contract.Contract:
    """The contract of ``--contract FILE``; raises ``ValueError`` saying what is wrong (the dotted key)."""
    if path is None:
        return contract.DEFAULT
    try:
        with open(path, encoding="utf-8") as file:
            text = file.read()
    except OSError as exc:
        raise ValueError(f"--contract: cannot read {path}: {exc.strerror or exc}") from None
    try:
        return contract.load(text, where="contract")
    except SRConnectParamError as exc:
        raise ValueError(f"--contract {path}: {exc}") from None


def _config(args: argparse.Namespace) -> SandboxConfig:
    return SandboxConfig(
        seed=args.seed,
        invocations_per_hour=args.invocations_per_hour,
        audit_per_hour=args.audit_per_hour,
        rate_limit_per_second=args.rate_limit,
        burst=args.burst,
        latency_ms=args.latency_ms,
        download_ttl_seconds=args.download_ttl,
        now=args.now,
        contract=_contract(args.contract),
        short_pages=args.short_pages,
    )


def _faults(args: argparse.Namespace) -> Faults:
    return Faults(
        error_rate=args.error_rate,
        reset_rate=args.reset_rate,
        truncate_rate=args.truncate_rate,
        malformed_rate=args.malformed_rate,
        missing_field_rate=args.missing_field_rate,
        slow_rate=args.slow_rate,
        slow_seconds=args.slow_seconds,
        expired_url_rate=args.expired_url_rate,
        fault_seed=args.fault_seed,
        **{f"download_{fault}_rate": getattr(args, f"download_{fault}_rate") for fault in DOWNLOAD_FAULTS},
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the sandbox in the foreground; returns the exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(message)s")
    try:
        config = _config(args)
    except ValueError as exc:
        parser.error(str(exc))
    done = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        done.set()

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    try:
        server = SandboxServer(config, host=args.host, port=args.port, faults=_faults(args)).start()
    except OSError as exc:
        parser.error(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}")
    speaks = "" if config.contract == contract.DEFAULT else f" contract={config.contract.fingerprint()}"
    speaks += " short-pages" if config.short_pages else ""
    print(
        f"SRC sandbox on {server.url} email={DEFAULT_EMAIL} api_key={DEFAULT_API_KEY} team={DEFAULT_TEAM}{speaks}",
        flush=True,
    )
    try:
        while not done.wait(0.5):
            pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
