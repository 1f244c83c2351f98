"""A GCS bucket, through the google provider's GCSHook."""

from __future__ import annotations

from typing import IO, TYPE_CHECKING

from airflow_provider_srconnect.destinations import WholeReader
from airflow_provider_srconnect.exceptions import SRConnectDestinationError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from airflow.providers.google.cloud.hooks.gcs import GCSHook

    from airflow_provider_srconnect.destinations import Writable

#: Files go up as a resumable upload in chunks of this size (a multiple of 256 KiB).
CHUNK_SIZE = 8 << 20


class GCSDestination:
    """Objects in ``bucket``.

    Files go up as a resumable upload (their size is not given, so even a small one is one); GCS
    creates the object only when the last chunk arrives, so a failed upload leaves none.
    """

    def __init__(self, hook: GCSHook, bucket: str) -> None:
        self.hook = hook
        self.bucket = bucket

    def uri(self, key: str) -> str:
        return f"gs://{self.bucket}/{key}"

    def check(self) -> str | None:
        """One bucket GET: 404 raises, 403 (no ``storage.buckets.get``) is a warning, anything else propagates."""
        from google.api_core.exceptions import Forbidden, NotFound
        from google.auth.exceptions import DefaultCredentialsError

        try:
            self.hook.get_conn().bucket(self.bucket).reload()
        except DefaultCredentialsError as error:
            conn_id = getattr(self.hook, "gcp_conn_id", None)
            raise SRConnectDestinationError(
                "gcp_conn_id",
                f"no Google credentials to reach the GCS bucket {self.bucket!r} (connection {conn_id!r} holds "
                "no key, and Application Default Credentials found none)",
                f"Give the connection {conn_id!r} a key file, key JSON or key secret, or give the worker "
                "Application Default Credentials.",
            ) from error
        except NotFound as error:
            raise SRConnectDestinationError(
                "gcs_bucket",
                f"the GCS bucket {self.bucket!r} does not exist (GCS answered 404)",
                "Create the bucket, or correct gcs_bucket (the bucket's name only, without gs:// or a prefix).",
            ) from error
        except Forbidden:
            return (
                f"Could not check the GCS bucket {self.bucket!r} (GCS answered 403: the credentials lack "
                "storage.buckets.get); writing to it anyway"
            )
        return None

    def upload_file(self, key: str, fileobj: IO[bytes], content_type: str) -> None:
        blob = self.hook.get_conn().bucket(self.bucket).blob(key, chunk_size=CHUNK_SIZE)
        blob.upload_from_file(WholeReader(fileobj), content_type=content_type, rewind=False)

    def upload_bytes(self, key: str, data: bytes, content_type: str) -> None:
        self.hook.get_conn().bucket(self.bucket).blob(key).upload_from_string(data, content_type=content_type)

    def download(self, key: str, out: Writable) -> bool:
        from google.api_core.exceptions import NotFound

        try:
            self.hook.get_conn().bucket(self.bucket).blob(key).download_to_file(out, raw_download=True)
        except NotFound:
            return False
        return True

    def delete(self, keys: Sequence[str]) -> None:
        if not keys:
            return
        bucket = self.hook.get_conn().bucket(self.bucket)
        # on_error sees only blobs that are already gone; other errors raise.
        bucket.delete_blobs([bucket.blob(key) for key in keys], on_error=lambda blob: None)
