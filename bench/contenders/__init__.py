"""The contenders: each module's ``prepare(spec)`` imports and configures, and returns the job to time.

A job returns ``(records, key)``: how many records it archived and the S3 key of its data object.
"""

from __future__ import annotations

from collections.abc import Callable

Job = Callable[[], tuple[int, str]]
