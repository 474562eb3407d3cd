"""What the run prints and records besides the measurements: the machine, its CPU shares
during the run, and the results table."""

from __future__ import annotations

import os
import platform
import sys
from pathlib import Path
from typing import Any

from bench.config import BATCH_CONNECTIONS, P99_TARGET_MS, READS, SCALES
from bench.load import LoadResult


def machine() -> dict[str, Any]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = "unknown"
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f"{kb / 1024 / 1024:.1f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory": memory,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
    }


def cpu_times() -> list[int]:
    """The machine's CPU ticks (user, nice, system, idle, iowait, irq, softirq, steal)."""
    try:
        return [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    except (OSError, ValueError):
        return []


def cpu_share(before: list[int], after: list[int]) -> dict[str, float]:
    """Busy and hypervisor-stolen shares of all cores between two cpu_times() readings. Steal
    is time this VM was ready to run but its host ran something else: it slows everything
    measured here without showing in any process's CPU time."""
    if len(before) < 8 or len(after) < 8:
        return {}
    delta = [a - b for a, b in zip(after, before, strict=True)]
    total = sum(delta) or 1
    idle = delta[3] + delta[4]
    return {
        "busy_percent": round(100 * (total - idle - delta[7]) / total, 1),
        "steal_percent": round(100 * delta[7] / total, 1),
    }


def row(r: LoadResult, throughput: str) -> str:
    server = (
        f"{1000 * r.server_cpu_seconds / r.ok:.1f}"
        if r.ok and r.server_cpu_seconds is not None
        else ""
    )
    client = f"{1000 * r.client_cpu_seconds / r.ok:.1f}" if r.ok else ""
    database = (
        f"{1000 * r.database_cpu_seconds / r.ok:.1f}"
        if r.ok and r.database_cpu_seconds is not None
        else ""
    )
    return (
        f"| {r.name} | {r.connections} | {throughput} | {r.percentile(50):.1f} | "
        f"{r.percentile(99):.1f} | {server} | {database} | {client} | {r.ok}/{r.requests} |"
    )


def table(report: dict[str, Any], loads: dict[str, LoadResult]) -> str:
    lines = [
        "| scenario | conns | throughput | p50 ms | p99 ms | server CPU ms/req | "
        "PostgreSQL CPU ms/req | load-generator CPU ms/req | ok/sent |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    batch = loads["batch_ingest"]
    lines.append(row(batch, f"{batch.items_per_second:,.0f} readings/s"))
    single = loads["single_posts"]
    lines.append(row(single, f"{single.requests_per_second:,.0f} req/s"))
    for key, r in loads.items():
        if key not in ("batch_ingest", "single_posts"):
            lines.append(row(r, f"{r.requests_per_second:,.0f} req/s"))
    raw = report["raw_database"]
    runs = raw["executemany"]["runs"]
    lines.append(
        "| raw asyncpg executemany (batches of 100, same rows, just before and just after the "
        f"batch phase) | {BATCH_CONNECTIONS} | "
        f"{raw['executemany']['rows_per_second']:,.0f} rows/s | | | | "
        f"{raw['executemany']['database_cpu_ms_per_100_rows']:.1f} (per 100 rows) | | |"
    )
    lines.append(
        f"| raw COPY (same rows) | 1 | {raw['copy']['rows_per_second']:,.0f} rows/s | | | | | | |"
    )
    lines.append("")
    lines.append(
        f"Vigil batch ingest / raw executemany = **{report['ingest_vs_executemany']:.2f}** "
        f"(target ≥ 0.5); / COPY = {report['ingest_vs_copy']:.2f}. Raw executemany "
        f"{runs['before']['rows_per_second']:,.0f} rows/s just before the batch phase, "
        f"{runs['after']['rows_per_second']:,.0f} just after."
    )
    for scale, data in report.get("scales", {}).items():
        checks = ", ".join(
            f"{name}: {'index' if p['uses_index'] else 'NO INDEX'} ({', '.join(p['indexes'])}; "
            f"{p['execution_ms']} ms)"
            for name, p in data["explain"].items()
        )
        lines.append(f"\nPlans at {int(scale):,} readings: {checks}.")
    return "\n".join(lines)


def targets(report: dict[str, Any], loads: dict[str, LoadResult]) -> dict[str, bool]:
    """The run against the targets (bench/README.md)."""
    single = loads["single_posts"]
    closed_reads = {
        k: v.percentile(99)
        for k, v in loads.items()
        if ("timeline" in k or "record" in k) and "paced" not in k
    }
    paced_reads = {
        k: v.percentile(99) for k, v in loads.items() if "paced" in k and "timeline" in k
    }
    largest = str(max(SCALES)) if SCALES and READS else None
    return {
        "batch_ingest_at_least_half_of_executemany": report["ingest_vs_executemany"] >= 0.5,
        "single_post_p99_under_50ms": single.percentile(99) < P99_TARGET_MS,
        "single_post_p99_under_50ms_light_load": loads["single_posts_light"].percentile(99)
        < P99_TARGET_MS,
        "single_post_p99_under_50ms_paced": loads["single_posts_paced"].percentile(99)
        < P99_TARGET_MS,
        "timeline_read_p99_under_50ms": all(v < P99_TARGET_MS for v in closed_reads.values()),
        "timeline_read_p99_under_50ms_paced": bool(paced_reads)
        and all(v < P99_TARGET_MS for v in paced_reads.values()),
        # At small sizes the planner rightly scans a table of a few hundred sessions; what
        # matters is that the plans at the largest size go through the indexes.
        "plans_use_indexes_at_largest_scale": largest is not None
        and all(p["uses_index"] for p in report["scales"][largest]["explain"].values()),
    }
