"""Settings of the sandbox: its users, data density, rate limit, clock and the wire contract it speaks."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from airflow_provider_srconnect.contract import DEFAULT, Contract

DEFAULT_EMAIL = "sandbox@example.com"
DEFAULT_API_KEY = "sandbox-api-key"
DEFAULT_TEAM = "team-sandbox"
#: A team with data that the default user may not read (403).
OTHER_TEAM = "team-other"


@dataclass(frozen=True)
class User:
    """An SRC account: Basic-auth e-mail and API key, and the teams it may read."""

    email: str
    api_key: str
    teams: tuple[str, ...]

    def __repr__(self) -> str:  # never show the key
        return f"User(email={self.email!r}, api_key='***', teams={self.teams!r})"


def _default_users() -> tuple[User, ...]:
    return (User(DEFAULT_EMAIL, DEFAULT_API_KEY, (DEFAULT_TEAM,)),)


@dataclass(frozen=True)
class SandboxConfig:
    """What the sandbox serves, how fast, and in which wire contract.

    ``now`` fixes the clock (an aware datetime); None means real time. ``rate_limit_per_second``
    of 0 or None turns rate limiting off. ``contract`` is followed exactly (paths, parameters,
    pagination, fields, enums, log delivery, error bodies). ``short_pages`` serves short pages
    mid-stream: every page whose 0-based index % 3 == 1 holds ``max(1, page_size // 2)`` records,
    except where the contract's end signal presumes full pages (``last_page: "short"``, and a
    page-number walk ended by ``total_count_field``), which a server could not honour with them.
    """

    seed: int = 7
    invocations_per_hour: int = 60
    audit_per_hour: int = 6
    rate_limit_per_second: float | None = 5.0
    burst: int = 5
    latency_ms: float = 0
    download_ttl_seconds: float = 60.0
    users: tuple[User, ...] = field(default_factory=_default_users)
    now: dt.datetime | None = None
    contract: Contract = DEFAULT
    short_pages: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.contract, Contract):
            raise ValueError("contract must be a contract.Contract (use contract.load(override_json))")
        if self.invocations_per_hour < 0 or self.audit_per_hour < 0:
            raise ValueError("invocations_per_hour and audit_per_hour must be >= 0")
        if self.burst < 1:
            raise ValueError("burst must be >= 1")
        if self.latency_ms < 0 or self.download_ttl_seconds < 0:
            raise ValueError("latency_ms and download_ttl_seconds must be >= 0")
        if self.now is not None and self.now.tzinfo is None:
            raise ValueError("now must be timezone-aware")

    def current_time(self) -> dt.datetime:
        """The sandbox's "now": the fixed ``now`` or the real UTC time."""
        if self.now is not None:
            return self.now.astimezone(dt.UTC)
        return dt.datetime.now(dt.UTC)
