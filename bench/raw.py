"""The database's own limit for the batch phase's rows: the same readings inserted straight
into ``observations`` with asyncpg ``executemany`` (batches of 100, one transaction each, as many
connections) and once with ``COPY``; each run's rows are deleted again afterwards."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg

from bench.config import BATCH_CONNECTIONS, BATCH_SIZE
from bench.load import postgres_cpu_seconds
from bench.seed import settle
from bench.world import reading
from tests.live import asyncpg_dsn

INSERT_SQL = """
INSERT INTO observations (id, session_id, code, value, unit, original_value, original_unit,
  measured_at, status, external_id, source, recorded_by, recorded_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'final', $9, $10, $11, $12)
ON CONFLICT (source, external_id) DO NOTHING
"""
COPY_COLUMNS = [
    "id",
    "session_id",
    "code",
    "value",
    "unit",
    "original_value",
    "original_unit",
    "measured_at",
    "status",
    "external_id",
    "source",
    "recorded_by",
    "recorded_at",
]


def raw_rows(world: dict[str, Any], count: int, tag: str) -> list[tuple[Any, ...]]:
    sessions = [uuid.UUID(s) for s in world["ingest_sessions"]]
    now = datetime.now(UTC)
    rows = []
    for i in range(count):
        r = reading(i, world["dosing_at"], world["now"], f"{tag}-{i}")
        measured = datetime.fromisoformat(r["measured_at"])
        rows.append(
            (
                uuid.uuid4(),
                sessions[(i // BATCH_SIZE) % len(sessions)],
                r["code"],
                r["value"],
                r["unit"],
                r["value"],
                r["unit"],
                measured,
                r["external_id"],
                "user:bench-raw",
                "bench-raw",
                now,
            )
        )
    return rows


async def settle_database(url: str) -> None:
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        await settle(conn)
    finally:
        await conn.close()


async def _remove_raw_rows(conn: asyncpg.Connection) -> None:
    # The raw rows are only a yardstick: remove them, so that what follows (Vigil's ingest, the
    # scale runs) meets only the readings Vigil itself stored.
    await conn.execute("DELETE FROM observations WHERE source = 'user:bench-raw'")
    await conn.execute("VACUUM ANALYZE observations")


async def raw_executemany(url: str, world: dict[str, Any], count: int) -> dict[str, Any]:
    """``count`` readings shaped like the batch phase's, by asyncpg ``executemany`` in batches
    of 100 (one transaction each) on as many connections; then removed again."""
    dsn = asyncpg_dsn(url)
    rows = raw_rows(world, count, f"raw-{uuid.uuid4().hex[:6]}")
    batches = [rows[i : i + BATCH_SIZE] for i in range(0, len(rows), BATCH_SIZE)]
    pool = await asyncpg.create_pool(dsn, min_size=BATCH_CONNECTIONS, max_size=BATCH_CONNECTIONS)
    try:
        queue = list(reversed(batches))

        async def worker() -> None:
            async with pool.acquire() as conn:
                while queue:
                    batch = queue.pop()
                    async with conn.transaction():  # one transaction per batch, like a request
                        await conn.executemany(INSERT_SQL, batch)

        database_before = postgres_cpu_seconds()
        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(BATCH_CONNECTIONS)))
        executemany_seconds = time.perf_counter() - started
        executemany_db_cpu = postgres_cpu_seconds() - database_before
    finally:
        await pool.close()
    conn = await asyncpg.connect(dsn)
    try:
        await _remove_raw_rows(conn)
    finally:
        await conn.close()
    return {
        "rows": count,
        "connections": BATCH_CONNECTIONS,
        "batch": BATCH_SIZE,
        "seconds": round(executemany_seconds, 3),
        "rows_per_second": round(count / executemany_seconds, 1),
        "database_cpu_ms_per_100_rows": round(100_000 * executemany_db_cpu / count, 2),
    }


def bracketed(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """The raw executemany limit of the batch phase's moment: the runs just before and just
    after it, together (a VM whose speed drifts during the run moves both sides alike)."""
    rows = before["rows"] + after["rows"]
    seconds = before["seconds"] + after["seconds"]
    cpu_ms = (
        before["database_cpu_ms_per_100_rows"] * before["rows"]
        + after["database_cpu_ms_per_100_rows"] * after["rows"]
    ) / rows
    return {
        "rows": rows,
        "connections": BATCH_CONNECTIONS,
        "batch": BATCH_SIZE,
        "seconds": round(seconds, 3),
        "rows_per_second": round(rows / seconds, 1),
        "database_cpu_ms_per_100_rows": round(cpu_ms, 2),
        "runs": {"before": before, "after": after},
    }


async def raw_copy(url: str, world: dict[str, Any], count: int) -> dict[str, Any]:
    """The same readings in one ``COPY``; then removed again."""
    dsn = asyncpg_dsn(url)
    copy_rows = [
        (r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], "final", None, *r[9:])
        for r in raw_rows(world, count, "copy")
    ]
    conn = await asyncpg.connect(dsn)
    try:
        started = time.perf_counter()
        await conn.copy_records_to_table("observations", records=copy_rows, columns=COPY_COLUMNS)
        copy_seconds = time.perf_counter() - started
        await _remove_raw_rows(conn)
    finally:
        await conn.close()
    return {
        "rows": count,
        "connections": 1,
        "seconds": round(copy_seconds, 3),
        "rows_per_second": round(count / copy_seconds, 1),
    }
