"""Shape-only evidence: what a JSON reply looks like, never a value of it.

A shape names keys, JSON value types and list lengths: ``{items: list[5] of {id: str, n: int|null}}``.
Keys that look like data (ids, e-mails, long numbers, anything with spaces or dots) are shown as
``<key>``; strings are described by their kind (``str(time)``, ``str(url)``, ``str(number)``,
``str(empty)``), never by their text. What comes out is safe to paste into a public bug report.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_provider_srconnect.contract import TimeFormat

#: Containers deeper than this are shown as ``object`` / ``list[n]`` only.
MAX_DEPTH = 4
#: Keys shown of one object; the rest are counted.
MAX_KEYS = 24
#: Elements of a list merged into its element shape.
MAX_ELEMENTS = 200
_SAFE_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,47}$")
_DATA_LIKE = re.compile(r"[0-9]{5,}|[0-9a-fA-F]{8,}")
_MEDIA_TYPE = re.compile(r"^[a-z]+/[a-z0-9.+-]{1,60}$")
#: Plausible record times: 1990..2200 in epoch seconds and in epoch milliseconds.
_EPOCH_S = (6.3e8, 7.3e9)
_EPOCH_MS = (6.3e11, 7.3e12)


def safe_key(key: object) -> str:
    """A key as evidence: itself when it reads as a field name, else ``<key>``."""
    if isinstance(key, str) and _SAFE_KEY.match(key) and not _DATA_LIKE.search(key):
        return key
    return "<key>"


def time_format_of(value: object) -> TimeFormat | None:
    """The contract time format a value is written in: ISO text, or epoch ms / s judged by magnitude."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        if len(value) < 16 or "T" not in value.upper():
            return None
        try:
            parsed = dt.datetime.fromisoformat(value)
        except ValueError:
            return None
        return "iso-ms" if parsed.tzinfo is not None else None
    if isinstance(value, (int, float)) and math.isfinite(value):
        if _EPOCH_MS[0] <= value < _EPOCH_MS[1]:
            return "epoch-ms"
        if _EPOCH_S[0] <= value < _EPOCH_S[1]:
            return "epoch-s"
    return None


def kind(value: object) -> str:
    """The JSON type of a scalar, refined for strings and times, without its value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        name = "int" if isinstance(value, int) else "float"
        fmt = time_format_of(value)
        return f"{name}({fmt})" if fmt else name
    if isinstance(value, str):
        if not value:
            return "str(empty)"
        if time_format_of(value):
            return "str(time)"
        if value.startswith(("http://", "https://")):
            return "str(url)"
        if value.strip().lstrip("-").isdigit():
            return "str(number)"
        return "str"
    return type(value).__name__


@dataclass
class _Node:
    """Everything seen at one place of a JSON document, merged over list elements."""

    kinds: set[str] = field(default_factory=set)
    objects: int = 0
    keys: dict[str, _Node] = field(default_factory=dict)
    present: dict[str, int] = field(default_factory=dict)
    hidden_keys: int = 0
    lengths: list[int] = field(default_factory=list)
    items: _Node | None = None

    def add(self, value: object) -> None:
        if isinstance(value, dict):
            self.objects += 1
            for raw_key, child in value.items():
                key = safe_key(raw_key)
                if key not in self.keys and len(self.keys) >= MAX_KEYS:
                    self.hidden_keys += 1
                    continue
                self.keys.setdefault(key, _Node()).add(child)
                self.present[key] = self.present.get(key, 0) + 1
        elif isinstance(value, list):
            self.lengths.append(len(value))
            for element in value[:MAX_ELEMENTS]:
                if self.items is None:
                    self.items = _Node()
                self.items.add(element)
        else:
            self.kinds.add(kind(value))

    def render(self, depth: int = 0, items: bool = True) -> str:
        parts = sorted(self.kinds)
        if self.objects:
            parts.append(self._render_object(depth, items))
        if self.lengths:
            low, high = min(self.lengths), max(self.lengths)
            text = f"list[{low}]" if low == high else f"list[{low}..{high}]"
            if items and self.items is not None and depth < MAX_DEPTH:
                text += " of " + self.items.render(depth + 1)
            parts.append(text)
        return "|".join(parts) or "nothing"

    def _render_object(self, depth: int, items: bool) -> str:
        if depth >= MAX_DEPTH:
            return "object"
        fields = []
        for key, child in self.keys.items():
            optional = "?" if self.present[key] < self.objects else ""
            fields.append(f"{key}{optional}: {child.render(depth + 1, items)}")
        if self.hidden_keys:
            fields.append(f"... {self.hidden_keys} more keys")
        return "{" + ", ".join(fields) + "}"


def shape(value: object, *, items: bool = True) -> str:
    """The shape of a JSON value: key names, value types and list lengths, no values.

    ``items=False`` leaves out what lists hold (the outline of a reply around its records).
    """
    node = _Node()
    node.add(value)
    return node.render(items=items)


def media_type(headers: Any) -> str:
    """The reply's media type (``application/json``), or ``?`` when absent or unusual."""
    raw = headers.get("Content-Type") if hasattr(headers, "get") else None
    text = str(raw or "").split(";")[0].strip().lower()
    return text if _MEDIA_TYPE.match(text) else "?"


def parse_json(text: str) -> tuple[bool, Any]:
    """(True, the parsed body) if ``text`` is JSON, else (False, None)."""
    if not text.strip():
        return False, None
    try:
        return True, json.loads(text)
    except ValueError:
        return False, None


def describe(status: int, headers: Any, text: str, *, items: bool = True) -> str:
    """One reply as evidence: status, media type and the shape of its body (``items``: as in ``shape``)."""
    head = f"{status} {media_type(headers)}"
    if not text.strip():
        return f"{head}, empty body"
    ok, body = parse_json(text)
    if not ok:
        return f"{head}, {len(text.encode())} bytes of text"
    return f"{head} {shape(body, items=items)}"


def leaves(body: object, prefix: str = "", depth: int = 0) -> Iterator[tuple[str, object]]:
    """(dotted key, value) of every non-container value in nested objects (lists are not entered)."""
    if not isinstance(body, dict) or depth > 3:
        return
    for key, value in body.items():
        if not isinstance(key, str) or safe_key(key) != key:
            continue
        dotted = f"{prefix}{key}"
        if isinstance(value, dict):
            yield from leaves(value, dotted + ".", depth + 1)
        elif not isinstance(value, list):
            yield dotted, value


def lists(body: object) -> Iterator[tuple[str, list[Any]]]:
    """(dotted key, list) of every list in nested objects, breadth-first (shallow ones first)."""
    queue: list[tuple[str, object, int]] = [("", body, 0)]
    while queue:
        prefix, node, depth = queue.pop(0)
        if not isinstance(node, dict) or depth > 3:
            continue
        for key, value in node.items():
            if not isinstance(key, str) or safe_key(key) != key:
                continue
            if isinstance(value, list):
                yield f"{prefix}{key}", value
            elif isinstance(value, dict):
                queue.append((f"{prefix}{key}.", value, depth + 1))


def words(name: str) -> list[str]:
    """The words of a field name, lower case: ``consoleLogCount`` -> console, log, count."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", name)
    spaced = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1 \2", spaced)
    return [w for w in re.split(r"[^A-Za-z0-9]+", spaced.lower()) if w]
