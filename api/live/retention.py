"""Trimming the live-event outbox, by the server itself and by ``vigil events prune``.

The outbox only feeds the live streams (and their Last-Event-ID resume): every reading, alert
and status change it announced stays in its own table, so nothing clinical goes. Kept forever,
it would grow by a copy of every reading until the disk fills. Each server process prunes
events older than ``VIGIL_LIVE_EVENT_RETENTION_DAYS`` once an hour; several processes doing so
at once only find less to delete. A stream resuming from an event older than the cut-off
continues with the oldest event still kept.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta

from fastapi import FastAPI
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncEngine

from api.live.tickets import prune_expired_tickets
from models import LiveEvent
from models.base import utcnow

log = logging.getLogger("vigil.live")

# Rows deleted per transaction: short transactions, so SQLite's write lock and PostgreSQL's
# row locks are held briefly even when a first prune finds a large backlog.
PRUNE_BATCH = 5000
PRUNE_EVERY_SECONDS = 3600.0
# The first prune waits a little after start-up (not while a fleet restarts all at once).
FIRST_PRUNE_AFTER_SECONDS = 60.0


async def prune_events(engine: AsyncEngine, older_than: timedelta) -> int:
    """Delete live events created more than ``older_than`` ago; how many were deleted."""
    cut_off = utcnow() - older_than
    # Old events have the smallest ids: the primary key finds each batch without a scan.
    oldest = (
        select(LiveEvent.id)
        .where(LiveEvent.created_at < cut_off)
        .order_by(LiveEvent.id)
        .limit(PRUNE_BATCH)
    )
    removed = 0
    while True:
        async with engine.begin() as conn:
            result = await conn.execute(
                delete(LiveEvent).where(LiveEvent.id.in_(oldest.scalar_subquery()))
            )
        removed += int(result.rowcount or 0)
        if (result.rowcount or 0) < PRUNE_BATCH:
            return removed


async def _prune_periodically(engine: AsyncEngine, older_than: timedelta) -> None:
    await asyncio.sleep(FIRST_PRUNE_AFTER_SECONDS)
    while True:
        try:
            removed = await prune_events(engine, older_than)
            if removed:
                log.info("pruned %d live events older than %s", removed, older_than)
            await prune_expired_tickets(engine)
        except Exception as exc:  # the database may be away; try again next time
            log.warning("pruning live events failed: %s", type(exc).__name__)
        await asyncio.sleep(PRUNE_EVERY_SECONDS)


def install_retention(app: FastAPI) -> None:
    """Prune the outbox in the background while the app runs (unless retention is 0)."""
    days = app.state.settings.live_event_retention_days
    if not days:
        return
    tasks: list[asyncio.Task[None]] = []

    async def start(app: FastAPI) -> None:
        tasks.append(
            asyncio.create_task(
                _prune_periodically(app.state.engine, timedelta(days=days)),
                name="vigil-live-retention",
            )
        )

    async def stop(_: FastAPI) -> None:
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        tasks.clear()

    app.state.startup_hooks.append(start)
    app.state.shutdown_hooks.append(stop)
