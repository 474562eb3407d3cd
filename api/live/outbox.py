"""Publishing live events: rows in the ``live_events`` outbox, written by the changing
transaction itself.

Services call :func:`publish` (synchronous, cheap: it only queues the event on the database
session). ``api.precommit`` inserts the queued events just before that transaction commits (on
PostgreSQL in one statement with the request's audit rows, and with a ``NOTIFY`` that
PostgreSQL delivers only if the transaction commits), then wakes this process's streams. Event
ids follow commit order (a reader that has seen id N never later finds a smaller id appear): on
PostgreSQL a deferred trigger gives each row its final id inside COMMIT, under a lock held only
for the commit itself (migration 0005); on SQLite, BEGIN IMMEDIATE already serializes writers.
A rollback discards the queue, so an event is never announced for a change that did not happen.
"""

from __future__ import annotations

import uuid
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from api.precommit import queue_event
from models.base import utcnow

# The SSE id of an event is ``row id * EVENTS_PER_ROW + position``: a row holds one event, or
# (a batch of readings) a JSON list of up to EVENTS_PER_ROW of them. Ids keep increasing in
# commit order, and Last-Event-ID can point into the middle of a batch.
EVENTS_PER_ROW = 1000


def publish(
    db: AsyncSession,
    kind: str,
    payload: dict[str, Any] | orjson.Fragment,
    *,
    session_id: uuid.UUID | None,
    patient_id: uuid.UUID | None,
) -> None:
    """Queue one event (``reading``, ``alert`` or ``status``) for the current transaction; a
    ``payload`` that is a list (here: already serialized JSON) is that many events of ``kind``
    (at most EVENTS_PER_ROW)."""
    queue_event(
        db,
        {
            "kind": kind,
            "payload": payload,
            "session_id": session_id,
            "patient_id": patient_id,
            "created_at": utcnow(),
        },
    )
