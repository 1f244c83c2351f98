"""Settings of the sandbox: its users, data density, rate limit and clock."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

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
    """What the sandbox serves and how fast.

    ``now`` fixes the clock (an aware datetime); None means real time. ``rate_limit_per_second``
    of 0 or None turns rate limiting off.
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

    def __post_init__(self) -> None:
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
