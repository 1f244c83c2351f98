"""What the orchestrator tells a contender to do, and what the contender reports back (both JSON)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

ContenderName = Literal["ours", "sequential", "http_operator"]
#: What the data object is: gzip NDJSON (every contender) or Parquet (ours only).
OutputFormat = Literal["jsonl.gz", "parquet"]
CONTENDERS: tuple[ContenderName, ...] = ("ours", "sequential", "http_operator")
#: The sandbox's default user, team and bucket layout every contender uses.
EMAIL = "sandbox@example.com"
API_KEY = "sandbox-api-key"
TEAM = "team-sandbox"
REGION = "us-east-1"


@dataclass(frozen=True)
class Spec:
    """One job: export ``[start, end)`` of the sandbox at ``sandbox_url`` into ``bucket`` on ``s3_url``.

    ``rate`` and ``burst`` are the client budget (ours: the connection extras; the baselines have
    none). ``log_workers`` and ``output_format`` "parquet" are ours only.
    """

    contender: ContenderName
    sandbox_url: str
    s3_url: str
    bucket: str
    key: str
    start: str
    end: str
    include_logs: Literal["none", "all"]
    rate: float
    burst: int
    log_workers: int = 8
    output_format: OutputFormat = "jsonl.gz"

    def dump(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self)))

    @classmethod
    def load(cls, path: Path) -> Spec:
        return cls(**json.loads(path.read_text()))


@dataclass
class Outcome:
    """What a contender process measured about itself.

    ``wall_s`` times the job only (first request to the uploaded object), not the interpreter start
    or imports; ``rss_before_mb`` is the resident size just before the job, ``peak_rss_mb`` the
    process's peak (``VmHWM``).
    """

    contender: str
    ok: bool
    wall_s: float = 0.0
    #: Epoch seconds when the job started and ended (to line up with the servers' clocks).
    started_at: float = 0.0
    ended_at: float = 0.0
    records: int = 0
    key: str = ""
    rss_before_mb: float = 0.0
    #: What importing the output format's library (pyarrow, for Parquet) added before the job.
    library_mb: float = 0.0
    peak_rss_mb: float = 0.0
    cpu_s: float = 0.0
    error: str = ""
    rate_limit_errors_surfaced: int = 0

    def dump(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self)))

    @classmethod
    def load(cls, path: Path) -> Outcome:
        return cls(**json.loads(path.read_text()))
