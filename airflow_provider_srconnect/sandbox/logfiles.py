"""The downloadable log files of an invocation, generated deterministically on demand.

Console file: ``{CONSOLE_LINES_FIELD: [line]}``; an oversized line carries a truncated message and
``LARGE_MESSAGE_ID_FIELD``, whose full text is served separately as text/plain. HTTP file:
``{HTTP_ENTRIES_FIELD: [entry]}`` shaped like the documented HTTP-log entry.
"""

from __future__ import annotations

import hashlib
import json
import random
from typing import Any

from airflow_provider_srconnect import contract
from airflow_provider_srconnect.sandbox import data

LEVELS = ("DEBUG", "INFO", "WARN", "ERROR", "SUCCESS")
#: Characters of an oversized console line kept inline (the rest is the large message).
INLINE_CHARS = 1000
#: Request/response bodies in HTTP logs are truncated beyond this many characters (1 KB).
BODY_LIMIT = 1024
_FINE = (data.TIMED_OUT, data.DENIED)
_WORDS = ("issue", "sync", "payload", "record", "user", "project", "status", "mapping", "field", "batch")
_HOSTS = ("your-org.atlassian.net", "slack.com", "api.hubapi.com", "example.my.salesforce.com")


def large_message_id(raw: data.RawInvocation) -> str | None:
    """Id of the invocation's stored large message, or None if it has none."""
    if raw.large_line < 0:
        return None
    return hashlib.blake2b(f"{raw.id}|{raw.large_line}".encode(), digest_size=8).hexdigest()


def large_message(seed: int, raw: data.RawInvocation) -> str:
    """The full text of the oversized console line: deterministic, tens of KB."""
    rng = random.Random(data.stable_seed("large", seed, raw.id))
    rows = [
        json.dumps(
            {
                "row": i,
                "key": f"{rng.choice(_WORDS).upper()}-{rng.randint(1, 99999)}",
                "value": " ".join(rng.choices(_WORDS, k=8)),
            }
        )
        for i in range(rng.randint(200, 600))
    ]
    return "Dumping batch: [" + ",".join(rows) + "]"


def _time(start_ms: int, offset_ms: int) -> str:
    return contract.format_time(data.ms_to_datetime(start_ms + offset_ms))


def console_file(seed: int, team_id: str, raw: data.RawInvocation) -> dict[str, Any]:
    """The console-log file: exactly ``raw.console`` lines, in time order."""
    rng = random.Random(data.stable_seed("console", seed, raw.id))
    script = data.catalog(seed, team_id)[raw.workspace].scripts[raw.script].name
    offsets = sorted(rng.randint(0, max(raw.duration - 1, 0)) for _ in range(raw.console))
    failed = raw.status not in (contract.STATUS_FINISHED, *_FINE)
    lines = []
    for i, offset in enumerate(offsets):
        if i == raw.console - 1:
            level = "ERROR" if failed else "SUCCESS"
        else:
            level = rng.choices(LEVELS[:4], (2, 8, 1, 0.3))[0]
        line: dict[str, Any] = {
            "timestamp": _time(raw.start_ms, offset),
            "level": level,
            "source": script if rng.random() < 0.9 else "Workspace",
            "message": f"{rng.choice(_WORDS)} {rng.randint(1, 9999)}: {' '.join(rng.choices(_WORDS, k=5))}",
        }
        if i == raw.large_line:
            line["message"] = large_message(seed, raw)[:INLINE_CHARS]
            line[contract.LARGE_MESSAGE_ID_FIELD] = large_message_id(raw)
        lines.append(line)
    return {contract.CONSOLE_LINES_FIELD: lines}


def _body(rng: random.Random) -> dict[str, Any]:
    text = json.dumps(
        {"items": [{"id": rng.randint(1, 10**6), "name": rng.choice(_WORDS)} for _ in range(rng.choice((1, 3, 40)))]}
    )
    return {"size": len(text), "truncated": len(text) > BODY_LIMIT, "text": text[:BODY_LIMIT]}


def _entry(rng: random.Random, raw: data.RawInvocation, fetch_id: int, at_ms: int) -> dict[str, Any]:
    method = rng.choice(("GET", "GET", "POST", "PUT"))
    url = f"https://{rng.choice(_HOSTS)}/rest/api/3/{rng.choice(_WORDS)}/{rng.randint(1, 9999)}"
    original = rng.randint(30, 1500)
    request: dict[str, Any] = {
        "url": url,
        "method": method,
        "headers": {"accept": "application/json", "user-agent": "ScriptRunner Connect"},
        "responseBody": "fetch",
        "time": _time(raw.start_ms, at_ms),
    }
    if method != "GET":
        request["body"] = _body(rng)
    entry: dict[str, Any] = {"fetchId": fetch_id}
    if rng.random() < 0.8:
        entry["connectionId"] = data.stable_uuid("connection", raw.workspace, rng.randint(0, 3))
    entry.update(
        originalDuration=original,
        duration=original + rng.randint(1, 40),
        request=request,
        response={
            "status": rng.choices((200, 201, 404, 429, 500), (20, 3, 2, 1, 1))[0],
            "time": _time(raw.start_ms, at_ms + original),
            "headers": {
                "content-type": "application/json",
                "x-stitch-fetch-id": str(fetch_id),
                "x-stitch-fetch-time": str(original),
                "x-stitch-proxied-url": url,
                "x-stitch-rate-limit": f"{rng.randint(0, 50)}/50",
            },
            "body": _body(rng),
        },
    )
    return entry


def http_file(seed: int, raw: data.RawInvocation) -> dict[str, Any]:
    """The HTTP-log file: exactly ``raw.http`` entries, fetch ids 1..n."""
    rng = random.Random(data.stable_seed("http", seed, raw.id))
    span = max(raw.duration - 1, 0)
    offsets = sorted(rng.randint(0, span) for _ in range(raw.http))
    return {contract.HTTP_ENTRIES_FIELD: [_entry(rng, raw, i + 1, at) for i, at in enumerate(offsets)]}
