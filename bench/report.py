"""The results: one Markdown table, the targets of issue 5 checked against it, and the JSON of the run."""

from __future__ import annotations

import json
import os
import platform
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from bench.runner import Run
    from bench.spec import Outcome

LABELS = {"ours": "ours", "sequential": "(a) sequential loop", "http_operator": "(b) HttpOperator"}
#: The targets of issues 5 and 15: wall / T_min when logs dominate, when the listing does, and when the
#: client's budget is twice the server's limit (the budget must learn the real one).
MAX_RATIO = 1.10
MAX_LISTING_RATIO = 1.15
MAX_LEARNING_RATIO = 1.30
MAX_RSS_MB = 150.0
#: "Flat": peak RSS at the largest case within this much of the smallest's.
FLAT_RSS_MB = 10.0
MIN_SERIALISE_RATE = 100_000.0


def machine() -> dict[str, Any]:
    """What the run ran on; ``load`` tells whether others shared the cores."""
    model = platform.processor() or "?"
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            model = next((line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")), model)
    except OSError:
        pass
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_average": os.getloadavg(),
    }


def _num(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def _speedups(runs: list[Run]) -> dict[int, float]:
    """Per run: how many times faster than baseline (a) on the same case (``id(run)`` → factor)."""
    base = {r.case.name: r.outcome.wall_s for r in runs if r.outcome.contender == "sequential" and r.outcome.ok}
    return {
        id(r): base[r.case.name] / r.outcome.wall_s
        for r in runs
        if r.case.name in base and r.outcome.ok and r.outcome.wall_s > 0
    }


def _same_data(run: Run, ours: dict[str, Run]) -> str:
    """Whether ``run`` landed the data ours did: the same NDJSON bytes, or for Parquet the same record ids.

    A Parquet object is checked against ours' JSONL of its ``reference`` case (the same window): the
    same records, in the same order, by invocation id; its columns are not compared value by value.
    """
    name = run.case.reference or run.case.name
    reference = ours.get(name)
    if run.landed is None:
        return "✗"
    if reference is None or reference.landed is None:
        return f"n/a (no JSONL run of '{name}')"
    if run.case.output_format == "parquet":
        return "✓ (ids)" if reference.landed.ids_sha256 == run.landed.ids_sha256 else "✗ (ids)"
    return "✓" if reference.landed.content_sha256 == run.landed.content_sha256 else "✗"


def table(runs: list[Run]) -> str:
    """The results as Markdown, one row per contender run."""
    speedups = _speedups(runs)
    ours = {r.case.name: r for r in runs if r.outcome.contender == "ours" and r.case.output_format == "jsonl.gz"}
    head = (
        "| case | contender | records | P | k·N | T_min s | wall s | wall / T_min | x faster than (a) "
        "| 429 at server / surfaced | peak RSS MB (job adds) | records/s | same data as ours |"
    )
    rows = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in runs:
        o = r.outcome
        t_min = r.t_min_s
        if not o.ok:
            error = o.error[:120].replace("|", "/")
            rows.append(f"| {r.case.name} | {LABELS[o.contender]} | failed: {error} |" + " |" * 10)
            continue
        ratio = o.wall_s / t_min if t_min else None
        same = _same_data(r, ours)
        rows.append(
            f"| {r.case.name} | {LABELS[o.contender]} | {o.records:,} | {r.calls.pages:,} | {r.calls.log_calls:,} "
            f"| {_num(t_min)} | {_num(o.wall_s)} | {_num(ratio, 3)} | {_num(speedups.get(id(r)), 2)} "
            f"| {r.calls.throttled} / {o.rate_limit_errors_surfaced} "
            f"| {_rss_cell(o)} "
            f"| {o.records / o.wall_s:,.0f} | {same} |"
        )
    return "\n".join(rows)


def _rss_cell(o: Outcome) -> str:
    """Peak RSS MB (what the job added; pyarrow's import, for Parquet, counted apart before it)."""
    library = f"pyarrow {o.library_mb:+,.0f}, job " if o.library_mb else ""
    return f"{o.peak_rss_mb:,.0f} ({library}{o.peak_rss_mb - o.rss_before_mb:+,.0f})"


def phases_table(runs: list[Run]) -> str:
    """Where our wall time goes in the rate-limited cases, from the sandbox's clock.

    ``to first call``: connection, hooks and the first request; ``calls``: first to last rate-limited
    call, at an achieved rate of (calls - burst) / that span; ``after last call``: the last answers,
    the gzip trailer, the upload and the manifest.
    """
    rows = [
        "| case | T_min s | wall s | to first call s | first to last call s | achieved req/s (budget) "
        "| after last call s |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in runs:
        o, c = r.outcome, r.calls
        if o.contender != "ours" or not o.ok or r.case.rate is None or not c.first_api_at:
            continue
        span = c.last_api_at - c.first_api_at
        achieved = (c.api_calls - r.case.burst) / span if span > 0 else 0.0
        rows.append(
            f"| {r.case.name} | {_num(r.t_min_s)} | {o.wall_s:.1f} | {c.first_api_at - o.started_at:.2f} "
            f"| {span:.1f} | {achieved:.2f} ({r.case.rate:g}) | {o.ended_at - c.last_api_at:.2f} |"
        )
    return "\n".join(rows) if len(rows) > 2 else ""


def _format_cells(run: Run | None) -> list[str]:
    """Wall s, peak RSS MB (job adds), records/s and MiB landed of one run; dashes for none."""
    if run is None or run.landed is None:
        return ["-"] * 4
    o = run.outcome
    return [
        f"{o.wall_s:.1f}",
        _rss_cell(o),
        f"{o.records / o.wall_s:,.0f}",
        f"{run.landed.compressed_bytes / 2**20:,.1f}",
    ]


def formats_table(runs: list[Run]) -> str:
    """Ours without a rate limit, JSONL and Parquet side by side per size (issue 7); empty with no Parquet run."""
    by_size: dict[int, dict[str, Run]] = {}
    for r in runs:
        if r.outcome.contender == "ours" and r.outcome.ok and r.case.rate is None:
            by_size.setdefault(r.window.records, {})[r.case.output_format] = r
    if not any("parquet" in formats for formats in by_size.values()):
        return ""
    rows = [
        "| records | wall s JSONL | wall s Parquet | peak RSS MB (job adds) JSONL | peak RSS MB (job adds) Parquet "
        "| records/s JSONL | records/s Parquet | MiB landed JSONL | MiB landed Parquet |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for records, formats in sorted(by_size.items()):
        jsonl, parquet = (_format_cells(formats.get(name)) for name in ("jsonl.gz", "parquet"))
        rows.append(f"| {records:,} | " + " | ".join(f"{j} | {q}" for j, q in zip(jsonl, parquet, strict=True)) + " |")
    return "\n".join(rows)


def serialise_table(result: dict[str, Any]) -> str:
    stages = result["stages_cpu_s"]
    per = 1e6 / result["records"]
    return "\n".join(
        [
            "| records | CPU s (best of 3) | records/s | MB/s (NDJSON) | encode µs/rec | gzip -9 µs/rec "
            "| sha256 µs/rec |",
            "|---|---|---|---|---|---|---|",
            f"| {result['records']:,} | {result['cpu_s_best']:.3f} | {result['records_per_s']:,.0f} "
            f"| {result['mb_per_s']:.1f} | {stages['encode'] * per:.2f} | {stages['gzip'] * per:.2f} "
            f"| {stages['sha256'] * per:.2f} |",
        ]
    )


def targets(runs: list[Run], serialise: dict[str, Any] | None) -> list[tuple[str, bool | None, str]]:
    """Each target of issue 5: (target, met?, the numbers)."""
    ours = [r for r in runs if r.outcome.contender == "ours" and r.outcome.ok]
    checks: list[tuple[str, bool | None, str]] = [
        (f"{r.case.name}: ours finishes", False, r.outcome.error[:200])
        for r in runs
        if r.outcome.contender == "ours" and not r.outcome.ok
    ]
    for r in (r for r in ours if r.t_min_s):
        ratio = r.outcome.wall_s / r.t_min_s if r.t_min_s else 0.0
        if r.case.budget is not None:
            limit, what = MAX_LEARNING_RATIO, f"budget {r.case.client_rate:g} req/s at a limit of {r.case.rate:g}"
        else:
            limit, what = (MAX_RATIO, "logs") if r.case.include_logs != "none" else (MAX_LISTING_RATIO, "listing")
        checks.append(
            (
                f"{r.case.name}: wall / T_min ≤ {limit} ({what}), no 429 surfaced",
                ratio <= limit and r.outcome.rate_limit_errors_surfaced == 0,
                f"{ratio:.3f}; 429s: {r.calls.throttled} at the server, "
                f"{r.outcome.rate_limit_errors_surfaced} surfaced",
            )
        )
    # Issue 15 retired "≥ 4x faster than (a)": at 150 ms a call the loop makes 6.7 calls/s, so no client
    # at 20 req/s can be more than 3x faster. Reported, not a target: ours vs the loop, and that bound.
    speedups = _speedups(runs)
    for r in ours:
        if r.case.rate is None or r.case.rate < 20 or id(r) not in speedups:
            continue
        seq = next(x for x in runs if x.case.name == r.case.name and x.outcome.contender == "sequential")
        bound = seq.outcome.wall_s / r.t_min_s if r.t_min_s else float("inf")
        checks.append(
            (
                f"{r.case.name}: ours vs (a)",
                None,
                f"{speedups[id(r)]:.2f}x faster; a client finishing at T_min would be {bound:.2f}x faster",
            )
        )
    volume = sorted((r for r in ours if r.case.rate is None), key=lambda r: r.outcome.records)
    jsonl = [r for r in volume if r.case.output_format == "jsonl.gz"]
    parquet = [r for r in volume if r.case.output_format == "parquet"]
    if jsonl:
        checks.append(
            (
                f"ours: peak RSS ≤ {MAX_RSS_MB:g} MB and flat (within {FLAT_RSS_MB:g} MB) from "
                f"{jsonl[0].outcome.records:,} to {jsonl[-1].outcome.records:,} records",
                max(_peaks(jsonl)) <= MAX_RSS_MB and _flat(jsonl),
                _sizes(jsonl, lambda o: f"{o.peak_rss_mb:.0f} MB"),
            )
        )
    # Issue 7: Parquet keeps the same flat memory as JSONL: it does not grow with the records either.
    if parquet:
        checks.append(
            (
                f"ours, Parquet: flat like JSONL (within {FLAT_RSS_MB:g} MB) from {parquet[0].outcome.records:,} "
                f"to {parquet[-1].outcome.records:,} records",
                _flat(parquet),
                _sizes(parquet, lambda o: f"{o.peak_rss_mb:.0f} MB"),
            )
        )
    by_size = {r.outcome.records: r.outcome for r in jsonl}
    beside = [r for r in parquet if r.outcome.records in by_size]
    if beside:
        checks.append(
            (
                "ours, Parquet: peak RSS above JSONL's (of it, importing pyarrow)",
                None,
                _sizes(
                    beside,
                    lambda o: f"{o.peak_rss_mb - by_size[o.records].peak_rss_mb:+.0f} MB ({o.library_mb:.0f} MB)",
                ),
            )
        )
    if volume:
        for name in ("sequential", "http_operator"):
            mine = sorted(
                (r for r in runs if r.outcome.contender == name and r.case.rate is None and r.outcome.ok),
                key=lambda r: r.outcome.records,
            )
            if len(mine) >= 2:
                checks.append(
                    (
                        f"{LABELS[name]}: peak RSS grows with N",
                        mine[-1].outcome.peak_rss_mb > mine[0].outcome.peak_rss_mb + FLAT_RSS_MB,
                        ", ".join(f"{r.outcome.records:,}: {r.outcome.peak_rss_mb:.0f} MB" for r in mine),
                    )
                )
    if serialise is not None:
        rate = serialise["records_per_s"]
        what = f"serialise + gzip ≥ {MIN_SERIALISE_RATE:,.0f} records/s on one core"
        checks.append((what, rate >= MIN_SERIALISE_RATE, f"{rate:,.0f}"))
    return checks


def _peaks(runs: list[Run]) -> list[float]:
    return [r.outcome.peak_rss_mb for r in runs]


def _flat(runs: list[Run]) -> bool:
    """Peak RSS at every size within ``FLAT_RSS_MB`` of the smallest size's."""
    peaks = _peaks(runs)
    return max(peaks) - peaks[0] <= FLAT_RSS_MB


def _sizes(runs: list[Run], cell: Callable[[Outcome], str]) -> str:
    return ", ".join(f"{r.outcome.records:,}: {cell(r.outcome)}" for r in runs)


def targets_text(checks: list[tuple[str, bool | None, str]]) -> str:
    verdict = {True: "met", False: "NOT met", None: "info"}
    return "\n".join(f"- {verdict[ok]}: {what} ({numbers})" for what, ok, numbers in checks)


def write_json(path: Path, runs: list[Run], serialise: dict[str, Any] | None, extra: dict[str, Any]) -> None:
    body = {
        **extra,
        "serialise": serialise,
        "runs": [
            {
                "case": asdict(r.case),
                "window": {"start": r.window.start.isoformat(), "end": r.window.end.isoformat()},
                "outcome": asdict(r.outcome),
                "calls": {
                    "by_route": {
                        route: {str(status): n for status, n in statuses.items()}
                        for route, statuses in r.calls.by_route.items()
                    },
                    "pages": r.calls.pages,
                    "log_calls": r.calls.log_calls,
                    "throttled": r.calls.throttled,
                    "first_api_at": r.calls.first_api_at,
                    "last_api_at": r.calls.last_api_at,
                },
                "t_min_s": r.t_min_s,
                "sandbox_cpu_s": r.sandbox_cpu_s,
                "landed": asdict(r.landed) if r.landed else None,
            }
            for r in runs
        ],
        "targets": [{"target": t, "met": ok, "numbers": n} for t, ok, n in targets(runs, serialise)],
    }
    path.write_text(json.dumps(body, indent=2) + "\n")
