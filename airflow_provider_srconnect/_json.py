"""Canonical JSON text: keys sorted, compact, UTF-8 as is; the same value always gives the same text.

Shared by the NDJSON archive (``export``) and the JSON columns of the Parquet one (``_parquet``).

Any value ``json.loads`` returns is written, whatever it holds:

- a lone surrogate (half of a UTF-16 pair, such as ``"\\ud800"``: legal JSON, and what a JavaScript
  string cut inside an emoji holds) has no UTF-8 form: ``utf8`` writes it as its JSON escape
  ``\\ud800``, which ``json.loads`` reads back as the same character (a text without one, that is any
  other text, gets exactly its UTF-8 bytes);
- a value nested deeper than Python's recursion limit allows (``json.loads`` builds values nested
  almost as deep as the limit, and the archive may be written on a deeper stack than the one that
  parsed them) is written by a loop instead, to the same text.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import msgspec

#: msgpack's marker of a float64: a record without this byte in its msgpack form has no float.
_FLOAT64 = b"\xcb"
#: A lone surrogate: Python keeps one as a character of its own (``json.loads('"\\ud800"')``).
LONE_SURROGATE = re.compile("[\ud800-\udfff]")
#: How ``json.dumps`` writes floats that are not finite (``allow_nan=True``); JSON has no spelling for them.
_NOT_FINITE = {math.inf: "Infinity", -math.inf: "-Infinity"}


class CanonicalJSONEncoder:
    """``json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False)``, about 2.6x faster.

    For the values ``json.loads`` returns, msgspec writes the same text but for floats: it writes
    ``1e16`` for ``1e+16`` and ``null`` for ``NaN``. So a record with a float (0xcb in its msgpack form;
    rarely a false alarm from an int or a string), or one msgspec refuses (a key not a str, an int
    beyond 64 bits, a lone surrogate), goes through ``json``: the text is the same either way. A value
    too deep for either (``RecursionError``) goes through ``encode_deep``, which writes the same text
    again. (msgspec also encodes sets and datetimes, which ``json`` refuses; records are parsed JSON
    and hold neither.)
    """

    def __init__(self) -> None:
        self._msgspec = msgspec.json.Encoder(order="sorted")
        self._msgpack = msgspec.msgpack.Encoder()
        self._json = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)

    def encode(self, record: Any) -> str:
        """The value as one line of JSON (no newline); a lone surrogate stays a character (see ``utf8``)."""
        try:
            try:
                if _FLOAT64 not in self._msgpack.encode(record):
                    return self._msgspec.encode(record).decode()
            except (TypeError, ValueError, OverflowError):
                pass  # json raises its own error, if any
            return self._json.encode(record)
        except RecursionError:
            return encode_deep(record)


#: The one encoder of every record and JSON column (``json.dumps`` with options builds one per call).
ENCODER = CanonicalJSONEncoder()


def utf8(text: str) -> bytes:
    """JSON text as UTF-8, each lone surrogate written as its escape (``\\ud800``): JSON that reads back the same.

    Only inside a JSON string can such a character be, and there its escape means it; the error
    handler runs only for a text that holds one.
    """
    return text.encode("utf-8", "backslashreplace")


def has_lone_surrogate(text: str) -> bool:
    """Whether ``text`` holds a character that no UTF-8 text can (an ASCII text is answered at once)."""
    return not text.isascii() and LONE_SURROGATE.search(text) is not None


def escape_lone_surrogates(text: str) -> str:
    """JSON text with each lone surrogate written as its escape (``\\ud800``): the text ``utf8`` writes, as str."""
    return LONE_SURROGATE.sub(lambda found: f"\\u{ord(found[0]):04x}", text) if has_lone_surrogate(text) else text


def replace_lone_surrogates(text: str) -> str:
    """``text`` with U+FFFD (the replacement character) in place of each lone surrogate."""
    return LONE_SURROGATE.sub("\ufffd", text) if has_lone_surrogate(text) else text


def encode_deep(value: Any) -> str:
    """The text ``CanonicalJSONEncoder.encode`` writes, by a loop: any depth, no recursion.

    Keys are written as ``json`` writes them (``json.loads`` gives only text keys); other values than
    JSON's raise ``TypeError``, as ``json`` does.
    """
    parts: list[str] = []
    # Work items: a value to write, or a literal piece of text (str) between values.
    stack: list[tuple[bool, Any]] = [(True, value)]
    while stack:
        is_value, item = stack.pop()
        if not is_value:
            parts.append(item)
        elif isinstance(item, dict):
            stack.append((False, "}"))
            members = sorted(item.items())
            for position, (key, member) in enumerate(reversed(members)):
                stack.append((True, member))
                separator = "," if position < len(members) - 1 else ""
                stack.append((False, separator + json.encoder.encode_basestring(_key(key)) + ":"))
            stack.append((False, "{"))
        elif isinstance(item, (list, tuple)):
            stack.append((False, "]"))
            for position, member in enumerate(reversed(item)):
                stack.append((True, member))
                if position < len(item) - 1:
                    stack.append((False, ","))
            stack.append((False, "["))
        else:
            parts.append(_scalar(item))
    return "".join(parts)


def _key(key: Any) -> str:
    if isinstance(key, str):
        return key
    if key is True or key is False or key is None or isinstance(key, (int, float)):
        return _scalar(key)
    raise TypeError(f"keys must be str, int, float, bool or None, not {type(key).__name__}")


def _scalar(item: Any) -> str:
    if isinstance(item, str):
        return json.encoder.encode_basestring(item)
    if item is None:
        return "null"
    if item is True:
        return "true"
    if item is False:
        return "false"
    if isinstance(item, int):
        return int.__repr__(item)
    if isinstance(item, float):
        if math.isfinite(item):
            return float.__repr__(item)
        return _NOT_FINITE.get(item, "NaN")
    raise TypeError(f"Object of type {type(item).__name__} is not JSON serializable")
