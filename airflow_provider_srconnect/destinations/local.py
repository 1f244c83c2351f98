"""A folder on the worker's disk."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import IO, TYPE_CHECKING

from airflow_provider_srconnect.exceptions import SRConnectDestinationError

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from airflow_provider_srconnect.destinations import Writable

#: Bytes copied at a time.
BLOCK = 1 << 20


class LocalDestination:
    """Objects are files under ``root``; each appears by an atomic rename once written and synced."""

    def __init__(self, root: str | os.PathLike[str] = "/") -> None:
        self.root = Path(root)

    def path(self, key: str) -> Path:
        return self.root / key

    def uri(self, key: str) -> str:
        return str(self.path(key))

    def check(self) -> None:
        """Create ``root`` if need be and write an unnamed file in it (gone when closed)."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryFile(dir=self.root) as probe:
                probe.write(b"\0")
                probe.flush()
        except OSError as error:
            raise SRConnectDestinationError(
                "path",
                f"cannot write in the folder {str(self.root)!r} ({error.strerror or type(error).__name__})",
                "Create the folder and let the worker's user write in it, or choose another path.",
            ) from error

    def upload_file(self, key: str, fileobj: IO[bytes], content_type: str) -> None:
        self._write(key, lambda out: shutil.copyfileobj(fileobj, out, BLOCK))

    def upload_bytes(self, key: str, data: bytes, content_type: str) -> None:
        self._write(key, lambda out: out.write(data))

    def download(self, key: str, out: Writable) -> bool:
        try:
            with self.path(key).open("rb") as source:
                shutil.copyfileobj(source, out, BLOCK)
        except FileNotFoundError:
            return False
        return True

    def delete(self, keys: Sequence[str]) -> None:
        """Delete the files, then the folders that this left empty, up to (not including) ``root``."""
        for key in keys:
            target = self.path(key)
            target.unlink(missing_ok=True)
            self._prune(target.parent)

    def _prune(self, folder: Path) -> None:
        root = self.root.resolve()
        folder = folder.resolve()
        while folder != root and folder.is_relative_to(root):
            try:
                folder.rmdir()
            except OSError:  # not empty (or gone): stop
                return
            folder = folder.parent

    def _write(self, key: str, fill: Callable[[IO[bytes]], object]) -> None:
        target = self.path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
        try:
            with os.fdopen(handle, "wb") as out:
                fill(out)
                out.flush()
                os.fsync(out.fileno())  # the bytes reach the disk before the name does
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
