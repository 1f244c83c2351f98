"""Where an export lands: one small adapter per storage, behind one protocol.

A destination writes whole objects only: the data object appears complete or not at all
(S3 completes a multipart upload at the end, GCS finishes a resumable upload at the end, the
local adapter renames a finished file into place), and the operator writes the manifest last.
"""

from __future__ import annotations

from typing import IO, Protocol


class Destination(Protocol):
    """A bucket or folder that takes whole objects by key."""

    def uri(self, key: str) -> str:
        """The URI a reader uses to find the object at ``key``."""
        ...

    def upload_file(self, key: str, fileobj: IO[bytes], content_type: str) -> None:
        """Store the rest of ``fileobj`` at ``key``, replacing what was there."""
        ...

    def upload_bytes(self, key: str, data: bytes, content_type: str) -> None:
        """Store ``data`` at ``key``, replacing what was there."""
        ...
