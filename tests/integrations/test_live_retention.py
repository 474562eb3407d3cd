"""The server prunes live events past VIGIL_LIVE_EVENT_RETENTION_DAYS by itself, in batches,
and nothing else (api/live/retention.py)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from asgi_lifespan import LifespanManager
from sqlalchemy import func, insert, select

from api.live import retention
from api.main import create_app
from models import LiveEvent
from models.base import utcnow
from tests.conftest import Backend, make_settings


async def test_the_server_prunes_old_live_events_in_the_background(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Ages here stay under the 7 days of the session-wide app's own pruner.
    monkeypatch.setattr(retention, "FIRST_PRUNE_AFTER_SECONDS", 0.0)
    monkeypatch.setattr(retention, "PRUNE_EVERY_SECONDS", 0.05)
    monkeypatch.setattr(retention, "PRUNE_BATCH", 2)  # five old rows: three batches
    app = create_app(make_settings(backend.url, live_event_retention_days=3))
    tag = {"test": "retention"}

    def row(age: timedelta) -> dict[str, object]:
        return {"kind": "status", "payload": tag, "created_at": utcnow() - age}

    async def kept() -> list[timedelta]:
        async with app.state.engine.connect() as conn:
            rows = await conn.execute(
                select(LiveEvent.created_at).where(LiveEvent.created_at < utcnow())
            )
            return [utcnow() - r[0] for r in rows]

    async with app.state.engine.begin() as conn:
        await conn.execute(
            insert(LiveEvent),
            [row(timedelta(days=4, minutes=i)) for i in range(5)] + [row(timedelta(days=2))],
        )
    async with LifespanManager(app):
        for _ in range(200):
            if all(age < timedelta(days=3) for age in await kept()):
                break
            await asyncio.sleep(0.05)
    ages = await kept()
    assert ages
    assert all(age < timedelta(days=3) for age in ages)
    assert any(age > timedelta(days=1) for age in ages)  # the two-day-old event stays
    await app.state.engine.dispose()


async def test_retention_zero_keeps_every_event(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Ages here stay under the 7 days of the session-wide app's own pruner.
    monkeypatch.setattr(retention, "FIRST_PRUNE_AFTER_SECONDS", 0.0)
    monkeypatch.setattr(retention, "PRUNE_EVERY_SECONDS", 0.05)
    app = create_app(make_settings(backend.url, live_event_retention_days=0))
    engine = app.state.engine
    old = {"kind": "status", "payload": {}, "created_at": utcnow() - timedelta(days=5)}

    async def old_events() -> int:
        async with engine.connect() as conn:
            return int(
                await conn.scalar(
                    select(func.count())
                    .select_from(LiveEvent)
                    .where(LiveEvent.created_at < utcnow() - timedelta(days=4))
                )
            )

    async with engine.begin() as conn:
        await conn.execute(insert(LiveEvent), [old] * 3)
    async with LifespanManager(app):
        await asyncio.sleep(0.3)
    assert await old_events() == 3
    # and `vigil events prune` (the same function) says how many it deleted
    assert await retention.prune_events(engine, timedelta(days=4)) == 3
    assert await old_events() == 0
    await engine.dispose()
