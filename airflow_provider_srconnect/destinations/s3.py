"""An S3 bucket, through the amazon provider's S3Hook."""

from __future__ import annotations

from typing import IO, TYPE_CHECKING

if TYPE_CHECKING:
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook


class S3Destination:
    """Objects in ``bucket``; large files go up as a multipart upload, completed only at the end."""

    def __init__(self, hook: S3Hook, bucket: str) -> None:
        self.hook = hook
        self.bucket = bucket

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    def upload_file(self, key: str, fileobj: IO[bytes], content_type: str) -> None:
        extra = {"ContentType": content_type}
        self.hook.get_conn().upload_fileobj(fileobj, self.bucket, key, ExtraArgs=extra)

    def upload_bytes(self, key: str, data: bytes, content_type: str) -> None:
        self.hook.get_conn().put_object(Bucket=self.bucket, Key=key, Body=data, ContentType=content_type)
