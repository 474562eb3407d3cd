"""Publishing live events: rows in the ``live_events`` outbox, written by the changing
transaction itself.

Services call :func:`publish` (synchronous, cheap: it only queues the event on the database
session). Just before that transaction commits, the queued events are inserted in one statement;
on PostgreSQL under a transaction-level advisory lock, so event ids are handed out in commit
order (a reader that has seen id N never later finds a smaller id appear), followed by a
``NOTIFY`` that PostgreSQL delivers only if the transaction commits. After the commit the
in-process notifier wakes this process's streams at once. A rollback discards the queue, so an
event is never announced for a change that did not happen.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import event, insert, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from api.live.notifier import NOTIFY_CHANNEL, notifier
from models import LiveEvent
from models.base import utcnow

_PENDING = "vigil.live.pending"
_WRITTEN = "vigil.live.written"
# pg_advisory_xact_lock key for "assigning live event ids" (any constant unique to Vigil).
EVENT_ID_LOCK = 0x5649_4749_4C45_5654 & 0x7FFF_FFFF_FFFF_FFFF


def publish(
    db: AsyncSession,
    kind: str,
    payload: dict[str, Any],
    *,
    session_id: uuid.UUID | None,
    patient_id: uuid.UUID | None,
) -> None:
    """Queue one event (``reading``, ``alert`` or ``status``) for the current transaction."""
    db.info.setdefault(_PENDING, []).append(
        {
            "kind": kind,
            "payload": payload,
            "session_id": session_id,
            "patient_id": patient_id,
            "created_at": utcnow(),
        }
    )


@event.listens_for(Session, "before_commit")
def _write_pending(session: Session) -> None:
    pending: list[dict[str, Any]] | None = session.info.pop(_PENDING, None)
    if not pending:
        return
    connection = session.connection()
    postgres = connection.dialect.name == "postgresql"
    if postgres:
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": EVENT_ID_LOCK})
    connection.execute(insert(LiveEvent), pending)
    if postgres:
        connection.execute(text(f"NOTIFY {NOTIFY_CHANNEL}"))
    session.info[_WRITTEN] = True


@event.listens_for(Session, "after_commit")
def _wake_streams(session: Session) -> None:
    if session.info.pop(_WRITTEN, False):
        notifier.wake()


@event.listens_for(Session, "after_rollback")
def _discard(session: Session) -> None:
    session.info.pop(_PENDING, None)
    session.info.pop(_WRITTEN, None)
