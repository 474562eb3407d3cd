"""The server prunes live events past VIGIL_LIVE_EVENT_RETENTION_DAYS by itself, in batches,
and nothing else (api/live/retention.py)."""

from __future__ import annotations

from collections.abc import Coroutine
from datetime import timedelta
from typing import Any

import pytest
from asgi_lifespan import LifespanManager
from sqlalchemy import func, insert, select

from api.live import retention
from api.main import create_app
from models import LiveEvent
from models.base import utcnow
from tests.conftest import Backend, make_settings
from tests.live import wait_until


async def test_the_server_prunes_old_live_events_in_the_background(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Ages here stay under the 7 days of the session-wide app's own pruner.
    monkeypatch.setattr(retention, "FIRST_PRUNE_AFTER_SECONDS", 0.0)
    monkeypatch.setattr(retention, "PRUNE_EVERY_SECONDS", 0.05)
    monkeypatch.setattr(retention, "PRUNE_BATCH", 2)  # five old rows: three batches
    app = create_app(make_settings(backend.url, live_event_retention_days=3))
    tag = {"test": "retention"}
    at = utcnow()  # one reading of the clock: the rows' ages count from it

    def row(age: timedelta) -> dict[str, object]:
        return {"kind": "status", "payload": tag, "created_at": at - age}

    async def kept() -> list[timedelta]:
        async with app.state.engine.connect() as conn:
            rows = await conn.execute(select(LiveEvent.created_at).where(LiveEvent.created_at < at))
            return [at - r[0] for r in rows]

    async def pruned() -> bool:
        return all(age < timedelta(days=3) for age in await kept())

    async with app.state.engine.begin() as conn:
        await conn.execute(
            insert(LiveEvent),
            [row(timedelta(days=4, minutes=i)) for i in range(5)] + [row(timedelta(days=2))],
        )
    async with LifespanManager(app):
        await wait_until(pruned, 10)
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
    # No pruner is started at all (rather than none seen to run within a guessed delay).
    started: list[object] = []
    prune_periodically = retention._prune_periodically

    def recording(*args: Any) -> Coroutine[Any, Any, None]:
        started.append(args)
        return prune_periodically(*args)

    monkeypatch.setattr(retention, "_prune_periodically", recording)
    app = create_app(make_settings(backend.url, live_event_retention_days=0))
    engine = app.state.engine
    at = utcnow()
    old = {"kind": "status", "payload": {}, "created_at": at - timedelta(days=5)}

    async def old_events() -> int:
        async with engine.connect() as conn:
            return int(
                await conn.scalar(
                    select(func.count())
                    .select_from(LiveEvent)
                    .where(LiveEvent.created_at < at - timedelta(days=4))
                )
            )

    async with engine.begin() as conn:
        await conn.execute(insert(LiveEvent), [old] * 3)
    async with LifespanManager(app):
        assert started == []
    assert await old_events() == 3
    # and `vigil events prune` (the same function) says how many it deleted
    assert await retention.prune_events(engine, timedelta(days=4)) == 3
    assert await old_events() == 0
    await engine.dispose()
