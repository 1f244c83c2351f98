"""Apache Airflow provider for ScriptRunner Connect (SRC): archive SRC logs to S3 or GCS."""

from __future__ import annotations

__version__ = "0.1.0"
