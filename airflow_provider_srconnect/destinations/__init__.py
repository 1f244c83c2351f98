"""Where an export lands: one small adapter per storage, behind one protocol.

A destination writes whole objects only: an object appears complete or not at all, and a
failed upload leaves nothing at its key (S3: one PUT, or a multipart upload completed at the end
and aborted on failure; GCS: a resumable upload finalized by its last chunk; local: a temporary
file renamed into place). Replacing an object is atomic too: a reader sees the old or the new one.
The publish module adds the rest (manifest last, staging objects for resuming).

Before any SRC request the operator calls ``check()``: a bucket that does not exist, or a folder
that cannot be written, is a user's mistake (``SRConnectDestinationError``) found before the window is
read, not after; a bucket the credentials may not look at (403) is written to anyway, with a warning,
since write-only roles are common.

boto3 and google-cloud-storage take a short read for the end of the file and would complete a
truncated object; the adapters therefore read through ``WholeReader``, which reads fully and fails
on an early end.
"""

from __future__ import annotations

import io
from typing import IO, TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from collections.abc import Sequence


class Writable(Protocol):
    """Where a download goes: anything with ``write(bytes)``."""

    def write(self, data: bytes, /) -> Any: ...


class Destination(Protocol):
    """A bucket or folder that takes whole objects by key."""

    def uri(self, key: str) -> str:
        """The URI a reader uses to find the object at ``key``."""
        ...

    def check(self) -> str | None:
        """Raise ``SRConnectDestinationError`` if objects cannot go there; return a warning, or None.

        Sends nothing to SRC, and writes no object a reader could see.
        """
        ...

    def upload_file(self, key: str, fileobj: IO[bytes], content_type: str) -> None:
        """Store the rest of ``fileobj`` at ``key``, replacing what was there."""
        ...

    def upload_bytes(self, key: str, data: bytes, content_type: str) -> None:
        """Store ``data`` at ``key``, replacing what was there."""
        ...

    def download(self, key: str, out: Writable) -> bool:
        """Write the object at ``key`` into ``out``; False (nothing written) if there is none."""
        ...

    def delete(self, keys: Sequence[str]) -> None:
        """Delete the objects at ``keys``; keys with no object are fine."""
        ...


class WholeReader(io.RawIOBase):
    """``fileobj`` (seekable) read in full: ``read(n)`` returns ``n`` bytes unless the file has truly ended.

    The end is where the file ended when it was wrapped; reaching EOF before it raises ``OSError``, so
    an upload fails instead of completing a truncated object. Closing it leaves ``fileobj`` open.
    """

    def __init__(self, fileobj: IO[bytes]) -> None:
        super().__init__()
        self._inner = fileobj
        start = fileobj.tell()
        self._end = fileobj.seek(0, io.SEEK_END)
        fileobj.seek(start)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return self._inner.seek(offset, whence)

    def tell(self) -> int:
        return self._inner.tell()

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def read(self, size: int | None = -1, /) -> bytes:
        wanted = self._end - self._inner.tell() if size is None or size < 0 else size
        chunks: list[bytes] = []
        while wanted > 0:
            chunk = self._inner.read(wanted)
            if not chunk:
                if self._inner.tell() < self._end:
                    raise OSError(f"the file ended at byte {self._inner.tell()} of {self._end}")
                break
            chunks.append(chunk)
            wanted -= len(chunk)
        return b"".join(chunks)
