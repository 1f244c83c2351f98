"""A GCS bucket, through the google provider's GCSHook."""

from __future__ import annotations

from typing import IO, TYPE_CHECKING

if TYPE_CHECKING:
    from airflow.providers.google.cloud.hooks.gcs import GCSHook

#: Files above this go up as a resumable upload in chunks of this size (a multiple of 256 KiB).
CHUNK_SIZE = 8 << 20


class GCSDestination:
    """Objects in ``bucket``; an object exists only once its (resumable) upload has finished."""

    def __init__(self, hook: GCSHook, bucket: str) -> None:
        self.hook = hook
        self.bucket = bucket

    def uri(self, key: str) -> str:
        return f"gs://{self.bucket}/{key}"

    def upload_file(self, key: str, fileobj: IO[bytes], content_type: str) -> None:
        blob = self.hook.get_conn().bucket(self.bucket).blob(key, chunk_size=CHUNK_SIZE)
        blob.upload_from_file(fileobj, content_type=content_type, rewind=False)

    def upload_bytes(self, key: str, data: bytes, content_type: str) -> None:
        self.hook.get_conn().bucket(self.bucket).blob(key).upload_from_string(data, content_type=content_type)
