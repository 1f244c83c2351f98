"""A folder on the worker's disk."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO


class LocalDestination:
    """Objects are files under ``root``; each appears by an atomic rename once fully written."""

    def __init__(self, root: str | os.PathLike[str] = "/") -> None:
        self.root = Path(root)

    def path(self, key: str) -> Path:
        return self.root / key

    def uri(self, key: str) -> str:
        return str(self.path(key))

    def upload_file(self, key: str, fileobj: IO[bytes], content_type: str) -> None:
        self._write(key, lambda out: shutil.copyfileobj(fileobj, out, 1 << 20))

    def upload_bytes(self, key: str, data: bytes, content_type: str) -> None:
        self._write(key, lambda out: out.write(data))

    def _write(self, key: str, fill: Callable[[IO[bytes]], object]) -> None:
        target = self.path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
        try:
            with os.fdopen(handle, "wb") as out:
                fill(out)
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
