"""``make bench``: Vigil's ingest and read paths against a live server on PostgreSQL.

Creates a fresh database on ``BENCH_DATABASE_URL``'s server, migrates it with ``vigil migrate``,
serves it with ``vigil serve --workers 2`` on 127.0.0.1, and measures (see bench/README.md):
batch ingest, single-reading posts, the session timeline and history reads, the raw database
limit for the same rows, and the reads again at each size in ``BENCH_SCALES`` with EXPLAIN
(ANALYZE) plans. Prints a table and writes ``bench/results/latest.json``; the database is
dropped afterwards (``BENCH_KEEP_DB=1`` keeps it).

This module only runs the jobs in order; each lives in its own module: ``bench.config`` (the
knobs), ``bench.server`` (database and server), ``bench.world`` (the setup through the API),
``bench.ingest`` and ``bench.reads`` (the scenarios), ``bench.raw`` (the raw-database
baseline), ``bench.seed`` (the scale runs' bulk history), ``bench.plans`` (EXPLAIN) and
``bench.report`` (machine, table, targets).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import sys
import time
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx

from bench.config import (
    BATCH_CONNECTIONS,
    BATCH_REQUESTS,
    BATCH_SIZE,
    READ_CONNECTIONS,
    READS,
    RESULTS,
    ROOT,
    SCALES,
    SECONDS,
    SERVER_URL,
    SINGLE_CONNECTIONS,
    WORKERS,
)
from bench.ingest import batch_phase, single_phases
from bench.load import LoadResult
from bench.plans import explain_reads
from bench.raw import bracketed, raw_copy, raw_executemany, settle_database
from bench.reads import read_phases
from bench.report import cpu_share, cpu_times, machine, table, targets
from bench.seed import seed_to
from bench.server import fresh_database, live_server, staff
from bench.world import create_patient_and_plan, create_session, reading, setup, to_dosing
from tests.factories import iso
from tests.live import asyncpg_dsn

# Names other bench modules import from here (bench.profile, bench.outbox_lock, ...): kept
# where they were before the split.
__all__ = [
    "BATCH_SIZE",
    "RESULTS",
    "ROOT",
    "SERVER_URL",
    "create_patient_and_plan",
    "create_session",
    "main",
    "reading",
    "run",
    "setup",
    "to_dosing",
]


async def run() -> dict[str, Any]:
    report: dict[str, Any] = {
        "started_at": iso(datetime.now(UTC)),
        "machine": machine(),
        "config": {
            "workers": WORKERS,
            "batch_connections": BATCH_CONNECTIONS,
            "single_connections": SINGLE_CONNECTIONS,
            "read_connections": READ_CONNECTIONS,
            "seconds_cap_per_phase": SECONDS,
            "scales": SCALES,
            "database_connection": "unix socket" if "host=/" in SERVER_URL else "tcp",
        },
    }
    loads: dict[str, LoadResult] = {}
    async with fresh_database() as url:
        conn = await asyncpg.connect(asyncpg_dsn(url))
        report["machine"]["postgresql"] = await conn.fetchval("SHOW server_version")
        await conn.close()
        async with live_server(url) as server:
            clinician, nurse = await staff(server.base_url)
            report["authenticated"] = bool(clinician)
            async with httpx.AsyncClient(
                base_url=server.base_url, headers=clinician, timeout=30
            ) as client:
                print("setting up sessions through the API ...", flush=True)
                world = await setup(client)
            # The raw limit brackets Vigil's batch phase: measured just before and just after
            # it, each from the same settled start, so that the ratio compares like moments.
            print("raw database limit, then batch ingest, then the raw limit again ...", flush=True)
            planned = BATCH_REQUESTS * BATCH_SIZE
            await settle_database(url)
            raw_before = await raw_executemany(url, world, planned)
            await settle_database(url)
            loads["batch_ingest"] = await batch_phase(server.base_url, nurse, world)
            stored = loads["batch_ingest"].ok * BATCH_SIZE
            await settle_database(url)
            raw_after = await raw_executemany(url, world, stored)
            await settle_database(url)
            report["raw_database"] = {
                "executemany": bracketed(raw_before, raw_after),
                "copy": await raw_copy(url, world, stored),
            }
            executemany = report["raw_database"]["executemany"]["rows_per_second"]
            copy = report["raw_database"]["copy"]["rows_per_second"]
            report["ingest_vs_executemany"] = loads["batch_ingest"].items_per_second / executemany
            report["ingest_vs_copy"] = loads["batch_ingest"].items_per_second / copy
            print("single posts ...", flush=True)
            await settle_database(url)
            loads.update(await single_phases(server.base_url, nurse, world))
            if READS:
                print("reads ...", flush=True)
                await settle_database(url)  # as the scale runs' seeding does
                loads.update(await read_phases(server.base_url, nurse, world, "fresh database"))
            report["explain_fresh"] = await explain_reads(url, world)
            report["scales"] = {}
            for scale in SCALES if READS else []:
                seeded, total = await seed_to(asyncpg_dsn(url), scale)
                reads = await read_phases(server.base_url, nurse, world, f"{scale:,} readings")
                loads.update({f"{k}@{scale}": v for k, v in reads.items()})
                report["scales"][str(scale)] = {
                    "readings_in_database": total,
                    "seed": seeded,
                    "reads": {k: v.summary() for k, v in reads.items()},
                    "explain": await explain_reads(url, world),
                }
    report["results"] = {k: v.summary() for k, v in loads.items()}
    report["targets"] = targets(report, loads)
    report["table"] = table(report, loads)
    report["finished_at"] = iso(datetime.now(UTC))
    return report


def main() -> int:
    random.seed(1)
    started = time.monotonic()
    load_before, ticks_before = os.getloadavg()[0], cpu_times()
    report = asyncio.run(run())
    report["wall_seconds"] = round(time.monotonic() - started, 1)
    report["machine"]["load_average_at_start"] = round(load_before, 2)
    report["machine"]["cpu_during_run"] = cpu_share(ticks_before, cpu_times())
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    for path in (RESULTS / "latest.json", RESULTS / f"{stamp}.json"):
        path.write_text(json.dumps(report, indent=2, default=str))
    print()
    print(report["table"])
    print()
    print("targets:", json.dumps(report["targets"]))
    print(
        f"machine: load average {report['machine']['load_average_at_start']} at start; "
        f"during the run {json.dumps(report['machine']['cpu_during_run'])}; PostgreSQL over "
        f"{report['config']['database_connection']}"
    )
    print(f"wall time {report['wall_seconds']} s; JSON in {RESULTS / 'latest.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
