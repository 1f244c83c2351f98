"""The extra link from an export task to its team's Reporting page in the SRC web app.

The task stores what the link needs (region, team, log type) in XCom when it runs; the link is built
from that XCom value, so the Airflow 2 webserver builds it without the connection, and Airflow 3's
worker resolves it at the end of the task from the same value. The task stores the value first thing,
empty where there is no link, so that the link never asks for an XCom that is not there (Airflow 3's
worker logs that as an error, even on a successful run). The page routes are ASSUMED (see
``contract.REPORTING_INVOCATIONS_PATH``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from airflow.providers.common.compat.sdk import BaseOperatorLink, XCom

from airflow_provider_srconnect import contract

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import TaskInstanceKey

_REPORTING_PATHS = {
    "invocations": contract.REPORTING_INVOCATIONS_PATH,
    "audit": contract.REPORTING_AUDIT_PATH,
}


def reporting_url(region: str, team_id: str, log_type: str = "invocations") -> str:
    """The Reporting page of a team's ``log_type`` logs in the web app of ``region``; "" if either is unknown."""
    app = contract.APP_URLS.get(region)
    path = _REPORTING_PATHS.get(log_type)
    if app is None or path is None or not team_id:
        return ""
    return app + path.format(team_id=team_id)


class SRConnectReportingLink(BaseOperatorLink):
    """The "SRC Reporting" link: the team's Reporting page (invocation or audit logs) in its region's app."""

    name = "SRC Reporting"
    key: ClassVar[str] = "srconnect_reporting"

    def get_link(self, operator: Any, *, ti_key: TaskInstanceKey) -> str:
        if not getattr(operator, "do_xcom_push", True):
            return ""  # the task stored nothing: asking would only log a missing XCom
        conf = XCom.get_value(key=self.key, ti_key=ti_key)
        if not isinstance(conf, dict):
            return ""
        return reporting_url(str(conf.get("region", "")), str(conf.get("team_id", "")), str(conf.get("log_type", "")))

    @classmethod
    def persist(cls, context: Any, operator: Any, *, region: str, team_id: str, log_type: str) -> None:
        """Store what the link needs in the task's XCom (not when the task pushes no XCom, or runs outside Airflow).

        An empty ``region`` or ``team_id`` stores "no link".
        """
        ti = context.get("ti") if hasattr(context, "get") else None
        if ti is None or not getattr(operator, "do_xcom_push", True):
            return
        ti.xcom_push(key=cls.key, value={"region": region, "team_id": team_id, "log_type": log_type})
