"""Live event ids follow commit order: a reader that has seen id N never later finds a smaller
id appear, however writers interleave (api/live/outbox.py, migration 0005)."""

from __future__ import annotations

import asyncio
import uuid

import orjson
import pytest
from fastapi import FastAPI

from api.live.outbox import publish
from api.live.service import event_stream
from tests.conftest import Backend
from tests.live import asyncpg_dsn

WRITERS = 8
EACH = 15


async def test_a_reader_sees_every_event_once_in_id_order_under_concurrent_writers(
    app: FastAPI,
) -> None:
    factory = app.state.session_factory
    topic = uuid.uuid4()  # events of this test only

    async def writer(w: int) -> None:
        for n in range(EACH):
            async with factory() as db:
                publish(db, "status", {"w": w, "n": n}, session_id=topic, patient_id=None)
                await asyncio.sleep(0)  # let the other writers interleave
                await db.commit()

    seen: list[tuple[int, tuple[int, int]]] = []

    async def reader() -> None:
        async for event in event_stream(
            factory, session_id=topic, after=0, heartbeat_seconds=60, poll_seconds=0.05
        ):
            if event.event == "status":
                data = orjson.loads(str(event.data))
                seen.append((int(str(event.id)), (data["w"], data["n"])))
                if len(seen) == WRITERS * EACH:
                    return

    reading = asyncio.create_task(reader())
    await asyncio.gather(*(writer(w) for w in range(WRITERS)))
    await asyncio.wait_for(reading, 30)
    ids = [i for i, _ in seen]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    assert {e for _, e in seen} == {(w, n) for w in range(WRITERS) for n in range(EACH)}


async def test_a_transaction_that_commits_later_gets_the_larger_id(backend: Backend) -> None:
    """The id is given at COMMIT, not at INSERT: T1 inserts first, T2 inserts and commits,
    then T1 commits: T1's event must come after T2's, or a reader that saw T2's would skip
    it."""
    if not backend.is_postgres:
        pytest.skip("SQLite's BEGIN IMMEDIATE lets no second writer in before the first commits")
    import asyncpg

    sql = "INSERT INTO live_events (kind, payload, created_at) VALUES ('status', $1, now())"
    first = await asyncpg.connect(asyncpg_dsn(backend.url))
    second = await asyncpg.connect(asyncpg_dsn(backend.url))
    try:
        t1 = first.transaction()
        await t1.start()
        await first.execute(sql, '"t1"')
        async with second.transaction():
            await second.execute(sql, '"t2"')
        t2_id = await second.fetchval("SELECT id FROM live_events WHERE payload::text = '\"t2\"'")
        await t1.commit()
        t1_id = await second.fetchval("SELECT id FROM live_events WHERE payload::text = '\"t1\"'")
        assert t1_id > t2_id
        await second.execute("DELETE FROM live_events WHERE payload::text IN ('\"t1\"', '\"t2\"')")
    finally:
        await first.close()
        await second.close()
