"""Publishing live events: rows in the ``live_events`` outbox, written by the changing
transaction itself.

Services call :func:`publish` (synchronous, cheap: it only queues the event on the database
session). Just before that transaction commits, the queued events are inserted in one statement;
on PostgreSQL with a ``NOTIFY`` that PostgreSQL delivers only if the transaction commits. Event
ids follow commit order (a reader that has seen id N never later finds a smaller id appear): on
PostgreSQL a deferred trigger gives each row its final id inside COMMIT, under a lock held only
for the commit itself (migration 0005); on SQLite, BEGIN IMMEDIATE already serializes writers.
After the commit the in-process notifier wakes this process's streams at once. A rollback
discards the queue, so an event is never announced for a change that did not happen.
"""

from __future__ import annotations

import uuid
from typing import Any

import orjson
from sqlalchemy import event, insert, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from api.live.notifier import NOTIFY_CHANNEL, notifier
from models import LiveEvent
from models.base import utcnow

_PENDING = "vigil.live.pending"
_WRITTEN = "vigil.live.written"
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
    db.info.setdefault(_PENDING, []).append(
        {
            "kind": kind,
            "payload": payload,
            "session_id": session_id,
            "patient_id": patient_id,
            "created_at": utcnow(),
        }
    )


# One statement: the insert (a data-modifying CTE always runs in full; the ids it takes are
# provisional, final ones come at COMMIT) and the NOTIFY, delivered at commit, only if it commits.
_PG_WRITE = text(
    """
    WITH written AS (
        INSERT INTO live_events (kind, session_id, patient_id, payload, created_at)
        SELECT e.kind, e.session_id, e.patient_id, e.payload, e.created_at
        FROM unnest(
            CAST(:kinds AS text[]), CAST(:session_ids AS uuid[]),
            CAST(:patient_ids AS uuid[]), CAST(:payloads AS json[]),
            CAST(:created AS timestamptz[])
        ) AS e(kind, session_id, patient_id, payload, created_at)
    )
    SELECT pg_notify(:channel, '')
    """
)


@event.listens_for(Session, "before_commit")
def _write_pending(session: Session) -> None:
    pending: list[dict[str, Any]] | None = session.info.pop(_PENDING, None)
    if not pending:
        return
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        connection.execute(
            _PG_WRITE,
            {
                "channel": NOTIFY_CHANNEL,
                "kinds": [e["kind"] for e in pending],
                "session_ids": [e["session_id"] for e in pending],
                "patient_ids": [e["patient_id"] for e in pending],
                "payloads": [_json(e["payload"]) for e in pending],
                "created": [e["created_at"] for e in pending],
            },
        )
    else:
        # SQLite: BEGIN IMMEDIATE already serializes writers, so ids follow commit order.
        connection.execute(insert(LiveEvent), pending)
    session.info[_WRITTEN] = True


def _json(payload: dict[str, Any] | orjson.Fragment) -> str:
    return orjson.dumps(payload, default=str, option=orjson.OPT_NON_STR_KEYS).decode()


@event.listens_for(Session, "after_commit")
def _wake_streams(session: Session) -> None:
    if session.info.pop(_WRITTEN, False):
        notifier.wake()


@event.listens_for(Session, "after_rollback")
def _discard(session: Session) -> None:
    session.info.pop(_PENDING, None)
    session.info.pop(_WRITTEN, None)
