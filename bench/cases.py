"""The cases of the benchmark: which window, how the sandbox serves it, who competes.

Windows are exact: ``[start, end)`` where ``end`` is the start time of the (n+1)-th invocation after
``start``, so a case of 10,000 records holds 10,000 records. Every window lies days in the past
(settled: no invocation still running) on the real clock.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from typing import Literal

from airflow_provider_srconnect import contract
from airflow_provider_srconnect.sandbox import SandboxConfig
from airflow_provider_srconnect.sandbox.data import HOUR_MS, ms_to_datetime
from airflow_provider_srconnect.sandbox.window import Dataset
from bench.spec import TEAM, ContenderName, OutputFormat

SEED = 5
#: The budget the client gets when the sandbox has no limit: far above what one process can send.
UNLIMITED_RATE = 10_000.0
UNLIMITED_BURST = 10_000


@dataclass(frozen=True)
class Window:
    start: dt.datetime
    end: dt.datetime
    records: int

    def text(self) -> tuple[str, str]:
        return contract.format_time(self.start), contract.format_time(self.end)


@dataclass(frozen=True)
class Case:
    """One row group of the table.

    ``rate`` None lifts the limit (sandbox and client); otherwise the sandbox enforces ``rate``/``burst``
    per user and our client gets exactly that as its budget, unless ``budget`` sets another one (a user
    who typed a rate above the plan's, as ``(rate, burst)``). ``output_format`` "parquet" is ours alone
    (the baselines write gzip NDJSON); its data is checked against ``reference``: the case, of the same
    window, whose JSONL export by ours it must hold the same records as.
    """

    name: str
    include_logs: Literal["none", "all"]
    records: int
    per_hour: int
    latency_ms: float
    rate: float | None
    burst: int
    contenders: tuple[ContenderName, ...]
    days_back: int
    log_workers: int = 8
    output_format: OutputFormat = "jsonl.gz"
    reference: str | None = None
    budget: tuple[float, int] | None = None

    def __post_init__(self) -> None:
        if self.output_format != "jsonl.gz" and self.contenders != ("ours",):
            raise ValueError(f"{self.name}: only ours writes {self.output_format}")

    @property
    def suffix(self) -> str:
        """The data object's suffix: ``.jsonl.gz`` or ``.parquet``."""
        return ".parquet" if self.output_format == "parquet" else ".jsonl.gz"

    def sandbox_config(self) -> SandboxConfig:
        return SandboxConfig(
            seed=SEED,
            invocations_per_hour=self.per_hour,
            rate_limit_per_second=self.rate or 0,
            burst=self.burst,
            latency_ms=self.latency_ms,
        )

    @property
    def client_rate(self) -> float:
        if self.budget is not None:
            return self.budget[0]
        return self.rate if self.rate is not None else UNLIMITED_RATE

    @property
    def client_burst(self) -> int:
        if self.budget is not None:
            return self.budget[1]
        return self.burst if self.rate is not None else UNLIMITED_BURST


def window_of(case: Case) -> tuple[Window, float]:
    """The case's exact window, and the seconds the sandbox spent generating its records (cold cache).

    Generation happens here, once, before any contender runs: a contender pays only for serving.
    """
    dataset = Dataset(case.sandbox_config())
    today = dt.datetime.now(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    start = today - dt.timedelta(days=case.days_back)
    hour = int(start.timestamp() * 1000) // HOUR_MS
    seen = 0
    began = time.perf_counter()
    while True:
        raws = dataset.invocation_hour(TEAM, hour)
        if seen + len(raws) > case.records:
            end_ms = raws[case.records - seen].start_ms
            inside = sum(1 for raw in raws if raw.start_ms < end_ms)
            generated = time.perf_counter() - began
            return Window(start, ms_to_datetime(end_ms), seen + inside), generated
        seen += len(raws)
        hour += 1
