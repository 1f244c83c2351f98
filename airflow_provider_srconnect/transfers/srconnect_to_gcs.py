"""Archive SRC logs to Google Cloud Storage."""

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
SCHEME = "gs"


class SRConnectToGCSOperator(SRConnectExportOperator):
    """Archive one window of SRC logs to ``gs://{gcs_bucket}/{prefix}/...`` (see ``SRConnectExportOperator``).

    :param gcs_bucket: the bucket. (templated)
    :param outlets: by default the archive folder as an Asset, ``gs://{gcs_bucket}/{prefix}/{log_type}``;
        when the bucket or prefix is templated, the alias ``srconnect_{log_type}_archive``, through which the
        task records that asset's event. ``[]`` declares none. Each event's extra holds the window, the log
        type, the record count and bytes, and the object URIs.
    :param gcp_conn_id: (templated) the Google Cloud connection.
    """

    template_fields: Sequence[str] = (*SRConnectExportOperator.template_fields, "gcs_bucket", "gcp_conn_id")

    def __init__(self, *, gcs_bucket: str, gcp_conn_id: str = "google_cloud_default", **kwargs: Any) -> None:
        declare_outlets = "outlets" not in kwargs
        super().__init__(**kwargs)
        self.gcs_bucket = gcs_bucket
        self.gcp_conn_id = gcp_conn_id
        if declare_outlets:
            self.outlets = assets.default_outlets(SCHEME, gcs_bucket, self.prefix, self.log_type)

    def archive_asset_uri(self) -> str:
        return assets.archive_uri(SCHEME, self.gcs_bucket, self.prefix, self.log_type)

    def destination(self) -> Destination:
        from airflow.providers.google.cloud.hooks.gcs import GCSHook

        from airflow_provider_srconnect.destinations.gcs import GCSDestination

        if not self.gcs_bucket:
            raise SRConnectParamError("gcs_bucket", "is empty", "Name the bucket the archive goes to.")
        with connection_defined("gcp_conn_id", self.gcp_conn_id, "google_cloud_platform"):
            hook = GCSHook(gcp_conn_id=self.gcp_conn_id)  # reads the connection
        return GCSDestination(hook, self.gcs_bucket)
