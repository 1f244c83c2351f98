"""Fixtures of the tests of issue #14's task faces: the unit fixtures of the hook and sensor tests, and the
real servers of the end-to-end tests (started once for this folder when a test asks for them)."""

from __future__ import annotations

from tests.e2e.conftest import e2e, gcs_endpoint, s3_endpoint, sandbox
from tests.hooks.conftest import log_text, make_hook, sleeps
from tests.sensors.conftest import clock, src_conn

__all__ = ["clock", "e2e", "gcs_endpoint", "log_text", "make_hook", "s3_endpoint", "sandbox", "sleeps", "src_conn"]
