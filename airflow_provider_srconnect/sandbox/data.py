"""Deterministic synthetic records, generated per (seed, team, UTC hour) and cached.

Every hour is drawn from its own ``random.Random`` seeded with a stable hash, so any window is the
same in every process and after every restart. An hour holds raw, immutable records; the JSON
dicts are built on the way out (``window.py``), where "now" turns unfinished invocations into
RUNNING ones.
"""

from __future__ import annotations

import bisect
import calendar
import datetime as dt
import functools
import hashlib
import itertools
import json
import math
import random
import uuid
from collections.abc import Callable, Sequence
from typing import NamedTuple, TypeVar

from airflow_provider_srconnect import contract
from airflow_provider_srconnect.sandbox.config import DEFAULT_EMAIL

_T = TypeVar("_T")
HOUR_MS = 3_600_000
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
#: Every N-th hour starts with an invocation exactly at :00:00.000 (boundary tests).
BOUNDARY_EVERY_HOURS = 6
MAX_DURATION_MS = int(contract.MAX_INVOCATION_DURATION / dt.timedelta(milliseconds=1))
MAX_CONSOLE_LINES = 1000
# Enum values with a special meaning in the synthetic data.
TIMED_OUT = contract.STATUS_TIMED_OUT
DENIED = contract.STATUS_DENIED
CHAINED = contract.TRIGGER_CHAINED
DROP_REASONS = ("QUOTA_EXCEEDED", "TRIGGER_DISABLED")
_WORKSPACES = ("Jira Cloud Sync", "Billing Bridge", "Slack Notifier", "Salesforce Import", "HR Onboarding")
_ENVIRONMENTS = ("Production", "Staging")
_SCRIPTS = ("OnIssueCreated", "OnIssueUpdated", "NightlyReconcile", "SyncUsers", "PostDigest")
_ACTIONS = (
    "workspace.script.update",
    "workspace.script.create",
    "workspace.environment.update",
    "workspace.environment.parameter.update",
    "workspace.trigger.scheduled.update",
    "workspace.connector.update",
    "team.member.add",
    "user.apiKey.create",
)
_PEOPLE = ("alice@example.com", "bob@example.com", "carol@example.com", DEFAULT_EMAIL)


class Named(NamedTuple):
    """An ``{"id", "name"}`` object (workspace, environment, script)."""

    id: str
    name: str


class Workspace(NamedTuple):
    """One workspace of a team with its environments and scripts."""

    ref: Named
    environments: tuple[Named, ...]
    scripts: tuple[Named, ...]


class RawInvocation(NamedTuple):
    """An invocation as generated (final status); ``large_line`` is -1 when no line is oversized."""

    id: str
    start_ms: int
    start_text: str
    status: str
    trigger: str
    root_trigger: str
    workspace: int
    environment: int
    script: int
    duration: int
    console: int
    http: int
    drop_reason: str | None
    large_line: int


class RawAudit(NamedTuple):
    """An audit record; ``payload`` holds the JSON of its other fields."""

    id: str
    start_ms: int
    payload: str


def stable_seed(*parts: object) -> int:
    """A 64-bit seed from ``parts`` that is the same in every process (unlike ``hash()``)."""
    text = "|".join(str(p) for p in parts).encode()
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "big")


def stable_uuid(*parts: object) -> str:
    """A UUID-shaped id derived from ``parts``."""
    text = "|".join(str(p) for p in parts).encode()
    return str(uuid.UUID(bytes=hashlib.blake2b(text, digest_size=16).digest()))


def ms_to_datetime(ms: int) -> dt.datetime:
    """Epoch milliseconds as an aware UTC datetime (exact)."""
    return EPOCH + dt.timedelta(milliseconds=ms)


def iso_ms(ms: int) -> str:
    """Epoch milliseconds as ISO-8601 UTC text with ms (``contract.format_time``'s ``iso-ms``)."""
    text = contract.format_time(ms_to_datetime(ms))
    assert isinstance(text, str)
    return text


def datetime_to_us(moment: dt.datetime) -> int:
    """An aware datetime (also a pendulum one) as epoch microseconds (exact)."""
    utc = moment.astimezone(dt.UTC)
    return calendar.timegm(utc.utctimetuple()) * 1_000_000 + utc.microsecond


def invocation_id(team_id: str, hour: int, index: int) -> str:
    """An id the server can turn back into (team, hour, index); string order = index order."""
    return f"{hour:08x}-{index:05x}-{team_id.encode().hex()}"  # same format in invocation_hour


def parse_invocation_id(value: str) -> tuple[str, int, int] | None:
    """(team, hour, index) of an id made by ``invocation_id``, or None."""
    parts = value.split("-", 2)
    if len(parts) != 3 or len(parts[0]) != 8 or len(parts[1]) != 5:
        return None
    try:
        return bytes.fromhex(parts[2]).decode(), int(parts[0], 16), int(parts[1], 16)
    except ValueError:
        return None


@functools.lru_cache(maxsize=256)
def catalog(seed: int, team_id: str) -> tuple[Workspace, ...]:
    """The workspaces (with environments and scripts) of a team."""
    rng = random.Random(stable_seed("catalog", seed, team_id))
    names = rng.sample(_WORKSPACES, 3)
    result = []
    for name in names:
        envs = tuple(Named(stable_uuid(seed, team_id, name, e), e) for e in _ENVIRONMENTS)
        scripts = tuple(Named(stable_uuid(seed, team_id, name, s), s) for s in rng.sample(_SCRIPTS, 3))
        result.append(Workspace(Named(stable_uuid(seed, team_id, name), name), envs, scripts))
    return tuple(result)


def _count(rng: random.Random, per_hour: int) -> int:
    """Records in one hour: uniform between 50% and 150% of ``per_hour``."""
    return rng.randint(per_hour // 2, per_hour + per_hour // 2) if per_hour > 0 else 0


def _offsets(rng: random.Random, count: int, hour: int) -> list[int]:
    rand = rng.random
    offsets = sorted(int(rand() * HOUR_MS) for _ in range(count))
    if offsets and hour % BOUNDARY_EVERY_HOURS == 0:
        offsets[0] = 0
    return offsets


def _pick(rand: Callable[[], float], items: Sequence[_T]) -> _T:
    return items[int(rand() * len(items))]


def _between(rand: Callable[[], float], low: int, high: int) -> int:
    """An integer in ``[low, high]`` (``random.randint`` is several times slower)."""
    return low + int(rand() * (high - low + 1))


def _duration(rand: Callable[[], float], status: str) -> int:
    if status == TIMED_OUT:
        return MAX_DURATION_MS
    if status == DENIED:
        return 0
    roll = rand()
    if roll < 0.85:
        return 20 + int(-900 * math.log(1.0 - rand()))
    if roll < 0.97:
        return _between(rand, 5_000, 120_000)
    return _between(rand, 120_000, MAX_DURATION_MS - 1)


@functools.lru_cache(maxsize=4096)
def invocation_hour(seed: int, team_id: str, hour: int, per_hour: int) -> tuple[RawInvocation, ...]:
    """All invocations of ``team_id`` starting in epoch hour ``hour``, ascending (start, id)."""
    rng = random.Random(stable_seed("invocations", seed, team_id, hour))
    rand = rng.random
    offsets = _offsets(rng, _count(rng, per_hour), hour)
    statuses = [s for s in contract.EXECUTION_STATUSES if s != contract.STATUS_RUNNING]
    cumulative = list(itertools.accumulate(12.0 if s == contract.STATUS_FINISHED else 1.0 for s in statuses))
    triggers = contract.TRIGGER_TYPES
    roots = [t for t in triggers if t != CHAINED] or triggers
    workspaces = catalog(seed, team_id)
    id_tail = team_id.encode().hex()
    records = []
    for index, offset in enumerate(offsets):
        start_ms = hour * HOUR_MS + offset
        status = statuses[bisect.bisect(cumulative, rand() * cumulative[-1])]
        trigger = _pick(rand, triggers)
        w = int(rand() * len(workspaces))
        denied = status == DENIED
        console = 0 if denied or rand() < 0.1 else _between(rand, 1, 40)
        if console and rand() < 0.01:
            console = _between(rand, 200, MAX_CONSOLE_LINES)
        records.append(
            RawInvocation(  # positional: several times faster than keywords for a NamedTuple
                f"{hour:08x}-{index:05x}-{id_tail}",
                start_ms,
                iso_ms(start_ms),
                status,
                trigger,
                _pick(rand, roots) if trigger == CHAINED else trigger,
                w,
                int(rand() * len(workspaces[w].environments)),
                int(rand() * len(workspaces[w].scripts)),
                _duration(rand, status),
                console,
                0 if denied or rand() < 0.3 else _between(rand, 1, 12),
                _pick(rand, DROP_REASONS) if denied else None,
                int(rand() * console) if console and rand() < 0.05 else -1,
            )
        )
    return tuple(records)


def _audit_payload(rng: random.Random, seed: int, team_id: str) -> dict[str, object]:
    email = rng.choice(_PEOPLE)
    action = rng.choice(_ACTIONS)
    ws = rng.choice(catalog(seed, team_id))
    related: list[dict[str, str]] = []
    if action.startswith("workspace."):
        related.append({"type": "workspace", "id": ws.ref.id, "name": ws.ref.name})
        if ".script." in action:
            script = rng.choice(ws.scripts)
            related.append({"type": "script", "id": script.id, "name": script.name})
    return {
        contract.AuditField.ACTOR: {"id": stable_uuid("user", email), "email": email},
        contract.AuditField.ACTION: action,
        contract.AuditField.IP_ADDRESS: f"203.0.113.{rng.randint(1, 254)}",
        contract.AuditField.RELATED_ENTITIES: related,
        contract.AuditField.METADATA: {
            "userAgent": rng.choice(("Mozilla/5.0 (X11; Linux x86_64)", "sr-connect-cli/2.4.0")),
            "changedFields": rng.randint(1, 5),
        },
    }


@functools.lru_cache(maxsize=4096)
def audit_hour(seed: int, team_id: str, hour: int, per_hour: int) -> tuple[RawAudit, ...]:
    """All audit records of ``team_id`` dated in epoch hour ``hour``, ascending (date, id)."""
    rng = random.Random(stable_seed("audit", seed, team_id, hour))
    offsets = _offsets(rng, _count(rng, per_hour), hour)
    tag = hashlib.blake2b(team_id.encode(), digest_size=4).hexdigest()
    return tuple(
        RawAudit(
            f"aud-{hour:08x}-{index:04x}-{tag}",
            hour * HOUR_MS + offset,
            json.dumps(_audit_payload(rng, seed, team_id)),
        )
        for index, offset in enumerate(offsets)
    )
