"""HMAC-signed opaque tokens: pagination cursors and presigned download URLs.

The key is derived from the seed, so tokens stay valid across a restart of the sandbox (the data
is the same, so a cursor or a download URL issued before the restart still points at it).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from typing import Any

_SIG_BYTES = 16


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Signer:
    """Packs a JSON payload into ``<payload>.<signature>`` and checks it back."""

    def __init__(self, seed: int, purpose: str) -> None:
        self._key = hashlib.sha256(f"srconnect-sandbox|{seed}|{purpose}".encode()).digest()

    def _sign(self, body: str) -> str:
        return _b64(hmac.new(self._key, body.encode(), hashlib.sha256).digest()[:_SIG_BYTES])

    def dumps(self, payload: dict[str, Any]) -> str:
        """An opaque, URL-safe token carrying ``payload``."""
        body = _b64(json.dumps(payload, separators=(",", ":"), sort_keys=True).encode())
        return f"{body}.{self._sign(body)}"

    def loads(self, token: str) -> dict[str, Any] | None:
        """The payload of a token this signer made, or None if it was tampered with or is junk."""
        body, dot, sig = token.partition(".")
        if not dot or not hmac.compare_digest(sig.encode(errors="replace"), self._sign(body).encode()):
            return None
        try:
            payload = json.loads(_unb64(body))
        except (ValueError, binascii.Error):
            return None
        return payload if isinstance(payload, dict) else None
