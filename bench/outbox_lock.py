"""How many writes a second the live-event commit-order lock lets through, before and after
migration 0005 (``python -m bench.outbox_lock``).

Live event ids must follow commit order, so ids are drawn under one PostgreSQL advisory lock
held until COMMIT. Before 0005 the outbox statement took the lock and the writer's COMMIT came
one client round trip later; now a deferred trigger takes it inside COMMIT. This measures both
on two fresh databases (one migrated to 0004 with the old statement, one to head with the
current one): 32 connections, each in a loop of BEGIN, the outbox statement, some time spent by
the application before its COMMIT (0, 1 and 3 ms: a loaded event loop, another host), COMMIT.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid

import asyncpg

from bench.run import ROOT, SERVER_URL
from tests.live import asyncpg_dsn, create_database, drop_database

CONNECTIONS = 32
SECONDS = 5.0
BEFORE_0005 = """
    WITH event_id_lock AS MATERIALIZED (SELECT pg_advisory_xact_lock(6217579140699477588) AS held),
    written AS (
        INSERT INTO live_events (kind, payload, created_at)
        SELECT 'status', '{}'::json, now() FROM event_id_lock RETURNING id
    )
    SELECT pg_notify('vigil_bench', '')
"""
NOW = """
    WITH written AS (
        INSERT INTO live_events (kind, payload, created_at)
        VALUES ('status', '{}'::json, now()) RETURNING id
    )
    SELECT pg_notify('vigil_bench', '')
"""


async def writes_per_second(url: str, statement: str, app_seconds: float) -> float:
    pool = await asyncpg.create_pool(asyncpg_dsn(url), min_size=CONNECTIONS, max_size=CONNECTIONS)
    done = 0
    stop = time.monotonic() + SECONDS

    async def writer() -> None:
        nonlocal done
        async with pool.acquire() as conn:
            while time.monotonic() < stop:
                async with conn.transaction():
                    await conn.execute(statement)
                    await asyncio.sleep(app_seconds)
                done += 1

    try:
        await asyncio.gather(*(writer() for _ in range(CONNECTIONS)))
    finally:
        await pool.close()
    return done / SECONDS


async def main() -> None:
    databases: dict[str, tuple[str, str]] = {}
    try:
        for revision in ("0004", "head"):
            name = f"vigil_bench_lock_{uuid.uuid4().hex[:8]}"
            url = await create_database(SERVER_URL, name)
            databases[revision] = (name, url)
            await asyncio.to_thread(
                subprocess.run,
                [sys.executable, "-m", "alembic", "upgrade", revision],
                cwd=ROOT,
                env={**os.environ, "DATABASE_URL": url},
                check=True,
                capture_output=True,
            )
        print("| app time before COMMIT | lock in the statement (before 0005) | lock in COMMIT |")
        print("|---|---|---|")
        for app_ms in (0, 1, 3):
            before = await writes_per_second(databases["0004"][1], BEFORE_0005, app_ms / 1000)
            now = await writes_per_second(databases["head"][1], NOW, app_ms / 1000)
            print(f"| {app_ms} ms | {before:,.0f} writes/s | {now:,.0f} writes/s |")
    finally:
        for name, _ in databases.values():
            await drop_database(SERVER_URL, name)


if __name__ == "__main__":
    asyncio.run(main())
