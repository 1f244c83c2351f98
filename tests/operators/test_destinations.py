"""Destination helpers at unit level: whole reads for uploads, and the local folder's download and delete.

The S3 and GCS adapters are tested against real servers in ``tests/e2e/test_atomic_resume.py``.
"""

from __future__ import annotations

import io
from typing import Any

import pytest

from airflow_provider_srconnect.destinations import WholeReader
from airflow_provider_srconnect.destinations.local import LocalDestination


class Trickle(io.BytesIO):
    """A file that hands out at most 3 bytes per read and claims to be ``claimed`` bytes long."""

    def __init__(self, data: bytes, claimed: int | None = None) -> None:
        super().__init__(data)
        self.claimed = len(data) if claimed is None else claimed

    def read(self, size: int | None = -1) -> bytes:
        return super().read(3 if size is None or size < 0 else min(size, 3))

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_END:
            return super().seek(self.claimed + offset)
        return super().seek(offset, whence)


def test_whole_reader_turns_short_reads_into_full_ones():
    source = Trickle(b"0123456789")
    source.seek(2)
    reader = WholeReader(source)

    assert reader.read(5) == b"23456" and reader.read() == b"789" and reader.read(4) == b""
    reader.close()
    assert not source.closed


def test_whole_reader_refuses_a_file_that_ends_early():
    reader = WholeReader(Trickle(b"0123456789", claimed=20))  # shrank after it was measured

    with pytest.raises(OSError, match="ended at byte 10 of 20"):
        reader.read(16)


def test_local_download_and_delete(tmp_path: Any):
    destination = LocalDestination(tmp_path)
    destination.upload_bytes("a/_staging/t/00000.gz.part", b"member", "application/gzip")
    destination.upload_bytes("a/data.jsonl.gz", b"data", "application/gzip")

    out = io.BytesIO()
    assert destination.download("a/_staging/t/00000.gz.part", out) and out.getvalue() == b"member"
    assert not destination.download("a/_staging/t/00001.gz.part", io.BytesIO())
    destination.delete(["a/_staging/t/00000.gz.part", "a/_staging/t/00001.gz.part"])

    # The emptied staging folders are gone; the folder that still holds data, and the root, stay.
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*")) == ["a", "a/data.jsonl.gz"]
    destination.delete(["a/data.jsonl.gz"])
    assert tmp_path.exists() and list(tmp_path.iterdir()) == []
