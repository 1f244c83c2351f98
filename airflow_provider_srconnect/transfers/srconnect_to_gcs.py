"""Archive SRC logs to Google Cloud Storage."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_provider_srconnect.exceptions import SRConnectParamError
from airflow_provider_srconnect.operators.srconnect import SRConnectExportOperator

if TYPE_CHECKING:
    from collections.abc import Sequence

    from airflow_provider_srconnect.destinations import Destination


class SRConnectToGCSOperator(SRConnectExportOperator):
    """Archive one window of SRC logs to ``gs://{gcs_bucket}/{prefix}/...`` (see ``SRConnectExportOperator``).

    :param gcs_bucket: the bucket. (templated)
    :param gcp_conn_id: (templated) the Google Cloud connection.
    """

    template_fields: Sequence[str] = (*SRConnectExportOperator.template_fields, "gcs_bucket", "gcp_conn_id")

    def __init__(self, *, gcs_bucket: str, gcp_conn_id: str = "google_cloud_default", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.gcs_bucket = gcs_bucket
        self.gcp_conn_id = gcp_conn_id

    def destination(self) -> Destination:
        from airflow.providers.google.cloud.hooks.gcs import GCSHook

        from airflow_provider_srconnect.destinations.gcs import GCSDestination

        if not self.gcs_bucket:
            raise SRConnectParamError("gcs_bucket", "is empty", "Name the bucket the archive goes to.")
        return GCSDestination(GCSHook(gcp_conn_id=self.gcp_conn_id), self.gcs_bucket)
