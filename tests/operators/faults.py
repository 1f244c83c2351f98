"""Faults and fakes shared by the publish tests (unit and end-to-end): a dying file, a task state store."""

from __future__ import annotations

import io
import json
from typing import IO, Any


class Injected(OSError):
    """The fault a test injects (an ``OSError``, so Airflow retries the task)."""


class DiesAfter(io.RawIOBase):
    """A readable, seekable view of ``inner`` that raises ``Injected`` once it has handed out ``after`` bytes.

    Like a disk or network stream that fails in the middle of an upload, whatever the client reads it with.
    """

    def __init__(self, inner: IO[bytes], after: int) -> None:
        self.inner = inner
        self.left = after

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return self.inner.seekable()

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return self.inner.seek(offset, whence)

    def tell(self) -> int:
        return self.inner.tell()

    def readinto(self, buffer: Any) -> int:
        if self.left <= 0:
            raise Injected("the upload died mid-file")
        data = self.inner.read(min(len(buffer), self.left))
        self.left -= len(data)
        buffer[: len(data)] = data
        return len(data)


class Store:
    """A task state store in a dict, with ``context["task_state_store"]``'s methods (JSON round trip).

    ``fail_on`` names an operation ("get", "set" or "delete") that raises.
    """

    def __init__(self, fail_on: str | None = None) -> None:
        self.values: dict[str, Any] = {}
        self.fail_on = fail_on

    def _check(self, operation: str) -> None:
        if operation == self.fail_on:
            raise RuntimeError(f"store {operation} is down")

    def get(self, key: str, default: Any = None) -> Any:
        self._check("get")
        return json.loads(json.dumps(self.values.get(key, default)))

    def set(self, key: str, value: Any) -> None:
        self._check("set")
        self.values[key] = json.loads(json.dumps(value))

    def delete(self, key: str) -> None:
        self._check("delete")
        self.values.pop(key, None)
