"""``[core] hostname_callable`` of the Celery test: each worker's own name, though all run on one machine.

Kept free of imports beyond the standard library: every Airflow process of the test imports it.
"""

from __future__ import annotations

import os
import socket

#: Set per Celery worker by ``tests/e2e/test_celery_scale.py``; other processes fall back to the FQDN.
VARIABLE = "SRCONNECT_TEST_HOSTNAME"


def hostname() -> str:
    """The worker's name from ``SRCONNECT_TEST_HOSTNAME``, else the machine's FQDN (Airflow's default)."""
    return os.environ.get(VARIABLE) or socket.getfqdn()
