"""The log files of an invocation, generated deterministically on demand with the provider's field names.

Console lines (``contract.ConsoleLineField``): an oversized line carries a truncated message and a
large-message id, whose full text is served separately. HTTP entries are shaped like the documented
HTTP-log entry. ``console_file`` and ``http_file`` give the files as a contract serves them (the
default: ``{"logs": [...]}``); ``sandbox.wire`` renames and wraps.

Large-message ids are data a real server might send: about half are plain hex, the rest hold ``:``,
``+``, ``/``, ``=``, a space or a non-ASCII letter, so a client must URL-quote them and check nothing.
"""

from __future__ import annotations

import hashlib
import json
import random
from typing import Any

from airflow_provider_srconnect import contract
from airflow_provider_srconnect.contract import DEFAULT, Contract
from airflow_provider_srconnect.sandbox import data
from airflow_provider_srconnect.sandbox.wire import Wire

LEVELS = ("DEBUG", "INFO", "WARN", "ERROR", "SUCCESS")
#: Characters of an oversized console line kept inline (the rest is the large message).
INLINE_CHARS = 1000
#: Request/response bodies in HTTP logs are truncated beyond this many characters (1 KB).
BODY_LIMIT = 1024
_FINE = (data.TIMED_OUT, data.DENIED)
_WORDS = ("issue", "sync", "payload", "record", "user", "project", "status", "mapping", "field", "batch")
_C = contract.ConsoleLineField
_HOSTS = ("your-org.atlassian.net", "slack.com", "api.hubapi.com", "example.my.salesforce.com")


def large_message_id(raw: data.RawInvocation) -> str | None:
    """Id of the invocation's stored large message, or None if it has none."""
    if raw.large_line < 0:
        return None
    digest = hashlib.blake2b(f"{raw.id}|{raw.large_line}".encode(), digest_size=8)
    text = digest.hexdigest()
    variant = digest.digest()[0] % 6
    if variant == 3:
        return f"lm:{text[:8]}+{raw.large_line}"
    if variant == 4:
        return f"{text[:8]}/{text[8:]}=="
    if variant == 5:
        return f"lm {text[:8]} \u00e9t\u00e9/{raw.large_line}+{text[8:12]}="
    return text


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
    return data.iso_ms(start_ms + offset_ms)


def console_lines(seed: int, team_id: str, raw: data.RawInvocation) -> list[dict[str, Any]]:
    """The console lines (provider names): exactly ``raw.console`` of them, in time order."""
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
            _C.TIMESTAMP: _time(raw.start_ms, offset),
            _C.LEVEL: level,
            _C.SOURCE: script if rng.random() < 0.9 else "Workspace",
            _C.MESSAGE: f"{rng.choice(_WORDS)} {rng.randint(1, 9999)}: {' '.join(rng.choices(_WORDS, k=5))}",
        }
        if i == raw.large_line:
            line[_C.MESSAGE] = large_message(seed, raw)[:INLINE_CHARS]
            line[_C.LARGE_MESSAGE_ID] = large_message_id(raw)
        lines.append(line)
    return lines


def console_file(seed: int, team_id: str, raw: data.RawInvocation, wire: Contract = DEFAULT) -> Any:
    """The console-log file as ``wire`` serves it (the default: ``{"logs": [line]}``)."""
    return Wire(wire).console_file(console_lines(seed, team_id, raw))


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


def http_entries(seed: int, raw: data.RawInvocation) -> list[dict[str, Any]]:
    """The HTTP-log entries: exactly ``raw.http`` of them, fetch ids 1..n."""
    rng = random.Random(data.stable_seed("http", seed, raw.id))
    span = max(raw.duration - 1, 0)
    offsets = sorted(rng.randint(0, span) for _ in range(raw.http))
    return [_entry(rng, raw, i + 1, at) for i, at in enumerate(offsets)]


def http_file(seed: int, raw: data.RawInvocation, wire: Contract = DEFAULT) -> Any:
    """The HTTP-log file as ``wire`` serves it (the default: ``{"logs": [entry]}``)."""
    return Wire(wire).http_file(http_entries(seed, raw))
