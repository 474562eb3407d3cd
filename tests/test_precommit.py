"""Audit rows and live events are written with the commit, together, and only if it commits
(api/precommit.py)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import event, func, select
from sqlalchemy.exc import IntegrityError

from api.live.outbox import publish
from api.precommit import queue_audit
from models import AuditEvent, LiveEvent
from models.base import utcnow
from tests.conftest import Backend


def audit_row(marker: str) -> dict[str, Any]:
    return {
        "id": uuid.uuid4(),
        "at": utcnow(),
        "actor_id": "tests",
        "role": "system",
        "action": "read",
        "resource_type": "precommit-test",
        "resource_id": marker,
        "patient_id": None,
        "client_address": None,
        "request_id": None,
        "outcome": "success",
        "detail": None,
    }


async def stored(app: FastAPI, marker: str, topic: uuid.UUID) -> tuple[int, int]:
    async with app.state.session_factory() as db:
        audits = await db.scalar(
            select(func.count()).where(AuditEvent.resource_id == marker)  # type: ignore[arg-type]
        )
        events = await db.scalar(
            select(func.count()).where(LiveEvent.session_id == topic)  # type: ignore[arg-type]
        )
        return int(audits or 0), int(events or 0)


@contextmanager
def statements(app: FastAPI) -> Iterator[list[str]]:
    seen: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append(statement)

    engine = app.state.engine.sync_engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


@pytest.mark.parametrize("rows", [1, 3])
async def test_audit_rows_and_events_commit_together(
    app: FastAPI, backend: Backend, rows: int
) -> None:
    marker, topic = uuid.uuid4().hex, uuid.uuid4()
    async with app.state.session_factory() as db:
        queue_audit(db, [audit_row(marker) for _ in range(rows)])
        publish(db, "status", {"marker": marker}, session_id=topic, patient_id=None)
        publish(db, "status", {"marker": marker, "n": 2}, session_id=topic, patient_id=None)
        with statements(app) as seen:
            await db.commit()
    assert await stored(app, marker, topic) == (rows, 2)
    if backend.is_postgres:
        # the audit chain's head locked, then audit rows, events, the head and NOTIFY in one
        # statement: two round trips
        assert len(seen) == 2, seen
        assert "FOR UPDATE" in seen[0]


async def test_audit_rows_alone_commit(app: FastAPI) -> None:
    marker, topic = uuid.uuid4().hex, uuid.uuid4()
    async with app.state.session_factory() as db:
        queue_audit(db, [audit_row(marker), audit_row(marker)])
        await db.commit()
    assert await stored(app, marker, topic) == (2, 0)


async def test_a_rollback_writes_neither(app: FastAPI) -> None:
    marker, topic = uuid.uuid4().hex, uuid.uuid4()
    async with app.state.session_factory() as db:
        queue_audit(db, [audit_row(marker)])
        publish(db, "status", {"marker": marker}, session_id=topic, patient_id=None)
        await db.rollback()
        await db.commit()  # nothing left queued to write
    assert await stored(app, marker, topic) == (0, 0)


async def test_a_failed_commit_writes_neither_and_leaves_nothing_queued(app: FastAPI) -> None:
    marker, topic = uuid.uuid4().hex, uuid.uuid4()
    twice = audit_row(marker)  # the same primary key twice: the insert fails
    async with app.state.session_factory() as db:
        queue_audit(db, [twice, twice])
        publish(db, "status", {"marker": marker}, session_id=topic, patient_id=None)
        with pytest.raises(IntegrityError):
            await db.commit()
        await db.rollback()
        await db.commit()
    assert await stored(app, marker, topic) == (0, 0)


async def test_a_rolled_back_savepoint_keeps_what_was_queued_before_it(app: FastAPI) -> None:
    """E.g. a duplicate MRN is caught in a savepoint and the request goes on."""
    marker, topic = uuid.uuid4().hex, uuid.uuid4()
    async with app.state.session_factory() as db:
        queue_audit(db, [audit_row(marker)])
        publish(db, "status", {"marker": marker}, session_id=topic, patient_id=None)
        savepoint = await db.begin_nested()
        await savepoint.rollback()
        await db.commit()
    assert await stored(app, marker, topic) == (1, 1)
