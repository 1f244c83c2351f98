"""Archive SRC logs to Amazon S3."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_provider_srconnect import assets
from airflow_provider_srconnect._task import connection_defined
from airflow_provider_srconnect.exceptions import SRConnectParamError
from airflow_provider_srconnect.operators.srconnect import SRConnectExportOperator

if TYPE_CHECKING:
    from collections.abc import Sequence

    from airflow_provider_srconnect.destinations import Destination

#: The URI scheme of the bucket (assets, lineage).
SCHEME = "s3"
#: The amazon provider's default connection: when it is not defined, boto3 finds credentials itself.
AWS_DEFAULT_CONN_ID = "aws_default"


class SRConnectToS3Operator(SRConnectExportOperator):
    """Archive one window of SRC logs to ``s3://{s3_bucket}/{prefix}/...`` (see ``SRConnectExportOperator``).

    :param s3_bucket: the bucket. (templated)
    :param outlets: by default the archive folder as an Asset, ``s3://{s3_bucket}/{prefix}/{log_type}``;
        when the bucket or prefix is templated, the alias ``srconnect_{log_type}_archive``, through which the
        task records that asset's event. ``[]`` declares none. Each event's extra holds the window, the log
        type, the record count and bytes, and the object URIs.
    :param aws_conn_id: (templated) the AWS connection; None, or ``aws_default`` when it is not defined, uses
        boto3's own credentials (environment, instance profile). Any other id must be defined.
    """

    template_fields: Sequence[str] = (*SRConnectExportOperator.template_fields, "s3_bucket", "aws_conn_id")

    def __init__(self, *, s3_bucket: str, aws_conn_id: str | None = "aws_default", **kwargs: Any) -> None:
        declare_outlets = "outlets" not in kwargs
        super().__init__(**kwargs)
        self.s3_bucket = s3_bucket
        self.aws_conn_id = aws_conn_id
        if declare_outlets:
            self.outlets = assets.default_outlets(SCHEME, s3_bucket, self.prefix, self.log_type)

    def archive_asset_uri(self) -> str:
        return assets.archive_uri(SCHEME, self.s3_bucket, self.prefix, self.log_type)

    def destination(self) -> Destination:
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        from airflow_provider_srconnect.destinations.s3 import S3Destination

        if not self.s3_bucket:
            raise SRConnectParamError("s3_bucket", "is empty", "Name the bucket the archive goes to.")
        if self.aws_conn_id and self.aws_conn_id != AWS_DEFAULT_CONN_ID:
            # The amazon provider would log a warning and go on without the connection's credentials.
            with connection_defined("aws_conn_id", self.aws_conn_id, "aws"):
                S3Hook.get_connection(self.aws_conn_id)
        return S3Destination(S3Hook(aws_conn_id=self.aws_conn_id), self.s3_bucket)
