"""An S3 bucket, through the amazon provider's S3Hook."""

from __future__ import annotations

from typing import IO, TYPE_CHECKING

from airflow_provider_srconnect.destinations import WholeReader
from airflow_provider_srconnect.exceptions import SRConnectDestinationError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    from airflow_provider_srconnect.destinations import Writable

#: Bytes read from a download at a time.
BLOCK = 1 << 20
#: The most keys one DeleteObjects request takes.
DELETE_BATCH = 1000
#: The part size of a multipart upload: S3's smallest, since a part is held in memory while it goes up.
PART_BYTES = 5 << 20
_MISSING = frozenset({"404", "NoSuchKey"})
#: HeadBucket's codes for a bucket that does not exist, and for one the credentials may not look at.
_NO_BUCKET = frozenset({"404", "NoSuchBucket", "NotFound"})
_FORBIDDEN = frozenset({"403", "AccessDenied", "Forbidden"})


class S3Destination:
    """Objects in ``bucket``.

    Files up to boto3's multipart threshold (8 MiB) go up in one PUT; larger ones as a multipart
    upload that S3 assembles only when it is completed at the end, and that boto3 aborts on failure.
    Parts of 5 MiB go up one after another from the calling thread: boto3's default (10 threads, up to
    10 parts of 8 MiB read ahead) grows the process with the object's size, up to 80 MiB; this holds
    one part, whatever the size, at the cost of one stream's throughput.
    """

    def __init__(self, hook: S3Hook, bucket: str) -> None:
        self.hook = hook
        self.bucket = bucket

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    def check(self) -> str | None:
        """One ``HeadBucket``: 404 raises, 403 (no ``s3:ListBucket``) is a warning, anything else propagates."""
        from botocore.exceptions import ClientError, NoCredentialsError

        try:
            self.hook.get_conn().head_bucket(Bucket=self.bucket)
        except NoCredentialsError as error:
            conn_id = getattr(self.hook, "aws_conn_id", None)
            raise SRConnectDestinationError(
                "aws_conn_id",
                f"no AWS credentials to reach the S3 bucket {self.bucket!r} (connection {conn_id!r} holds none, "
                "and boto3 found none in the environment or instance profile)",
                f"Define the connection {conn_id or 'aws_default'!r} with a key or role, or give the worker "
                "credentials of its own.",
            ) from error
        except ClientError as error:
            code = str(error.response.get("Error", {}).get("Code"))
            if code in _NO_BUCKET:
                raise SRConnectDestinationError(
                    "s3_bucket",
                    f"the S3 bucket {self.bucket!r} does not exist (HeadBucket answered {code})",
                    "Create the bucket, or correct s3_bucket (the bucket's name only, without s3:// or a prefix).",
                ) from error
            if code in _FORBIDDEN:
                return (
                    f"Could not check the S3 bucket {self.bucket!r} (HeadBucket answered {code}: the credentials "
                    "lack s3:ListBucket); writing to it anyway"
                )
            raise
        return None

    def upload_file(self, key: str, fileobj: IO[bytes], content_type: str) -> None:
        from boto3.s3.transfer import TransferConfig

        extra = {"ContentType": content_type}
        config = TransferConfig(use_threads=False, multipart_chunksize=PART_BYTES)
        self.hook.get_conn().upload_fileobj(WholeReader(fileobj), self.bucket, key, ExtraArgs=extra, Config=config)

    def upload_bytes(self, key: str, data: bytes, content_type: str) -> None:
        self.hook.get_conn().put_object(Bucket=self.bucket, Key=key, Body=data, ContentType=content_type)

    def download(self, key: str, out: Writable) -> bool:
        from botocore.exceptions import ClientError

        try:
            body = self.hook.get_conn().get_object(Bucket=self.bucket, Key=key)["Body"]
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in _MISSING:
                return False
            raise
        with body:
            for chunk in body.iter_chunks(BLOCK):
                out.write(chunk)
        return True

    def delete(self, keys: Sequence[str]) -> None:
        client = self.hook.get_conn()
        for first in range(0, len(keys), DELETE_BATCH):
            batch = [{"Key": key} for key in keys[first : first + DELETE_BATCH]]
            reply = client.delete_objects(Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True})
            if reply.get("Errors"):
                failed = ", ".join(f"{e.get('Key')} ({e.get('Code')})" for e in reply["Errors"][:5])
                raise OSError(f"S3 could not delete {len(reply['Errors'])} objects in {self.bucket}: {failed}")
