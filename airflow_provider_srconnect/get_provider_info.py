"""Provider info: what Airflow's ProvidersManager reads from the ``apache_airflow_provider`` entry point.

The connection form (``conn-fields``, ``ui-field-behaviour``) is declared here, so Airflow 3 builds it
without importing the hook. This module imports neither Airflow nor the hook: only the package's
Airflow-free ``connection`` module.

To register a new layer, add one line to ``_LAYERS`` (operators, sensors, triggers) or ``_TRANSFERS``;
an operator extra link, to ``_EXTRA_LINKS``.
"""

from __future__ import annotations

import copy
from typing import Any

from airflow_provider_srconnect import __version__, connection

PACKAGE_NAME = "airflow-provider-srconnect"
INTEGRATION = "ScriptRunner Connect"
CONN_TYPE = "srconnect"
HOOK_CLASS = "airflow_provider_srconnect.hooks.srconnect.SRConnectHook"
_S3 = "Amazon Simple Storage Service (S3)"  # the amazon provider's integration name
_GCS = "Google Cloud Storage (GCS)"  # the google provider's integration name

#: Layer -> modules of this integration. One line per layer; a layer with no modules is left out.
_LAYERS: dict[str, list[str]] = {
    "hooks": ["airflow_provider_srconnect.hooks.srconnect"],
    "operators": ["airflow_provider_srconnect.operators.srconnect"],
    "sensors": ["airflow_provider_srconnect.sensors.srconnect"],
    "triggers": ["airflow_provider_srconnect.triggers.srconnect"],
}

#: (target integration, module) of each transfer operator; the source is always this integration.
_TRANSFERS: list[tuple[str, str]] = [
    (_S3, "airflow_provider_srconnect.transfers.srconnect_to_s3"),
    (_GCS, "airflow_provider_srconnect.transfers.srconnect_to_gcs"),
]

#: Operator extra links (class paths). Airflow 2 resolves a serialized task's links only from this list.
_EXTRA_LINKS: list[str] = ["airflow_provider_srconnect.links.SRConnectReportingLink"]


def get_provider_info() -> dict[str, Any]:
    """Return the provider's metadata (validated by Airflow against ``provider_info.schema.json``)."""
    info: dict[str, Any] = {
        "package-name": PACKAGE_NAME,
        "name": INTEGRATION,
        "description": "`ScriptRunner Connect <https://scriptrunnerconnect.com/>`__: archive invocation "
        "and audit logs to Amazon S3 or Google Cloud Storage.",
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": INTEGRATION,
                "external-doc-url": "https://docs.adaptavist.com/src/latest/rest-api",
                "tags": ["service"],
            }
        ],
        "connection-types": [
            {
                "connection-type": CONN_TYPE,
                "hook-class-name": HOOK_CLASS,
                "hook-name": INTEGRATION,
                "conn-fields": connection.conn_fields(),
                "ui-field-behaviour": copy.deepcopy(connection.UI_FIELD_BEHAVIOUR),
            }
        ],
    }
    for layer, modules in _LAYERS.items():
        if modules:
            info[layer] = [{"integration-name": INTEGRATION, "python-modules": modules}]
    if _TRANSFERS:
        info["transfers"] = [
            {
                "source-integration-name": INTEGRATION,
                "target-integration-name": target,
                "python-module": module,
            }
            for target, module in _TRANSFERS
        ]
    if _EXTRA_LINKS:
        info["extra-links"] = list(_EXTRA_LINKS)
    return info
