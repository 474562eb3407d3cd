"""The live streams: read the ``live_events`` outbox after an id, wait for wake-ups, repeat."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sse_starlette import ServerSentEvent

from api.audit import Audit
from api.db import detached_read
from api.errors import ValidationFailed, database_unavailable, field_error
from api.live.notifier import PgListener, notifier
from api.live.outbox import EVENTS_PER_ROW
from api.sessions.repository import get_session
from models import LiveEvent

log = logging.getLogger("vigil.live")

HEARTBEAT_SECONDS = 15.0
# Safety net: re-read the outbox this often even without a wake-up (e.g. a writer in another
# process on SQLite, or a NOTIFY lost while the listener reconnected).
POLL_SECONDS = 5.0
BATCH = 200
# How long opening the first stream of a process waits for its LISTEN connection.
LISTENER_WAIT_SECONDS = 2.0


def parse_last_event_id(header: str | None, query: str | None) -> int | None:
    raw = header or query
    if not raw:
        return None
    if not raw.strip().isdigit():
        raise ValidationFailed(
            [field_error(["header", "Last-Event-ID"], "must be an event id from this stream")]
        )
    return int(raw.strip())


async def open_stream(
    db: AsyncSession, audit: Audit, *, session_id: str | None, last_event_id: int | None
) -> tuple[uuid.UUID | None, int]:
    """Check the session exists, audit the subscription, and find where the stream starts:
    after ``Last-Event-ID``, else after the newest event (only what happens from now on)."""
    sid: uuid.UUID | None = None
    if session_id is not None:
        session = await get_session(db, session_id)
        sid = session.id
        audit.record("read", "live_events", session.id, patient_id=session.patient_id)
    else:
        audit.record("read", "live_events", None)
    if last_event_id is not None:
        return sid, last_event_id
    newest = await db.scalar(select(func.max(LiveEvent.id)))
    return sid, (int(newest) + 1) * EVENTS_PER_ROW - 1 if newest else 0


async def ensure_listener(app: FastAPI) -> None:
    """One LISTEN connection per process on PostgreSQL, started with the first stream.

    Waits (at most LISTENER_WAIT_SECONDS) until it listens, so a client that has its stream
    open is woken by every commit from then on, in any process. If PostgreSQL does not answer
    in time the stream opens anyway: it still polls, so it loses nothing, only latency.
    """
    if not app.state.settings.is_postgres:
        return
    listener: PgListener | None = getattr(app.state, "live_listener", None)
    if listener is None:
        listener = PgListener(app.state.settings.database_url)
        app.state.live_listener = listener

        async def _stop(_: FastAPI) -> None:
            await listener.stop()

        app.state.shutdown_hooks.append(_stop)
    listener.start()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(listener.connected.wait(), LISTENER_WAIT_SECONDS)


async def _fetch(
    factory: async_sessionmaker[AsyncSession], *, after: int, session_id: uuid.UUID | None
) -> tuple[list[tuple[int, str, Any]], bool]:
    """The events after event id ``after`` (up to BATCH outbox rows), and whether more rows
    may follow."""
    stmt = select(LiveEvent.id, LiveEvent.kind, LiveEvent.payload).where(
        LiveEvent.id >= after // EVENTS_PER_ROW  # the row ``after`` points into, and later
    )
    if session_id is not None:
        stmt = stmt.where(LiveEvent.session_id == session_id)

    async def read(db: AsyncSession) -> Sequence[Any]:
        return (await db.execute(stmt.order_by(LiveEvent.id).limit(BATCH))).all()

    rows = await detached_read(factory, read)
    events = [
        (event_id, str(kind), item)
        for row_id, kind, payload in rows
        for position, item in enumerate(payload if isinstance(payload, list) else [payload])
        if (event_id := int(row_id) * EVENTS_PER_ROW + position) > after
    ]
    return events, len(rows) == BATCH


def _heartbeat() -> ServerSentEvent:
    return ServerSentEvent(
        data=orjson.dumps({"at": datetime.now(UTC).isoformat().replace("+00:00", "Z")}).decode(),
        event="heartbeat",
    )


async def event_stream(
    factory: async_sessionmaker[AsyncSession],
    *,
    session_id: uuid.UUID | None,
    after: int,
    heartbeat_seconds: float = HEARTBEAT_SECONDS,
    poll_seconds: float = POLL_SECONDS,
    max_seconds: float | None = None,
    still_valid: Callable[[], Awaitable[bool]] | None = None,
) -> AsyncIterator[ServerSentEvent]:
    """Heartbeat at once, then every event after ``after`` as it commits, forever or until
    ``max_seconds`` have passed (0: what is there now, then the stream ends).

    ``still_valid`` is asked before every heartbeat after the first: once it says no (the
    caller's credentials expired or were ended), the stream ends without sending more.

    While the database is away (a restart, a failover) the stream stays open and keeps its
    heartbeats, and reads on from ``after`` once it is back: a browser's EventSource does not
    reconnect after a 503, so a stream that ended then would leave a monitoring screen dark.
    """
    waiter = notifier.subscribe()
    loop = asyncio.get_running_loop()
    deadline = None if max_seconds is None else loop.time() + max_seconds
    database_away = False
    try:
        yield _heartbeat()  # at once: the client knows it is connected
        next_heartbeat = loop.time() + heartbeat_seconds
        while True:
            waiter.clear()
            try:
                events, more = await _fetch(factory, after=after, session_id=session_id)
            except Exception as exc:
                if not database_unavailable(exc):
                    raise
                if not database_away:
                    log.warning("live stream: database unavailable (%s)", type(exc).__name__)
                database_away = True
                events, more = [], False  # try again at the next poll or wake-up
            else:
                database_away = False
            for event_id, kind, payload in events:
                after = event_id
                yield ServerSentEvent(
                    data=orjson.dumps(payload).decode(), event=kind, id=str(event_id)
                )
            if more:
                continue
            now = loop.time()
            if deadline is not None and now >= deadline:
                return
            if now >= next_heartbeat:
                if still_valid is not None and not await still_valid():
                    log.info("live stream ended: its credentials are no longer valid")
                    return
                yield _heartbeat()
                next_heartbeat = now + heartbeat_seconds
            timeout = max(0.0, min(poll_seconds, next_heartbeat - loop.time()))
            if deadline is not None:
                timeout = min(timeout, max(0.0, deadline - loop.time()))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(waiter.wait(), timeout)
    finally:
        notifier.unsubscribe(waiter)
