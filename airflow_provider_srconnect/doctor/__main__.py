"""``python -m airflow_provider_srconnect.doctor``."""

from __future__ import annotations

from airflow_provider_srconnect.doctor import main

raise SystemExit(main())
