"""What a transaction writes just before it commits, in one round trip.

Two kinds of rows must commit together with a request's changes, and only if they commit: its
audit events (``api.audit``) and the live events that announce the changes
(``api.live.outbox``). Both are queued on the database session while the request runs and are
written by one ``before_commit`` hook:

- On PostgreSQL, when there are live events, the audit rows, the events and the ``NOTIFY`` are
  one statement (data-modifying CTEs always run in full; the NOTIFY is delivered at commit, only
  if it commits). A write costs one round trip fewer than with a statement for each. Audit rows
  alone (a read) are one executemany.
- On SQLite, one statement per table.

Audit rows are links of a hash chain (``api.audit_chain``): before they are written, the
chain's head is locked (one more round trip) and each row gets its place and hashes; the head
moves in the same write.

After the commit, the in-process notifier wakes this process's streams at once. A rollback
discards both queues, so no event is announced, and no success audited, for a change that did
not happen (``api.audit`` records failed requests separately).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event, insert, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, SessionTransaction

from api.audit_chain import CONTENT, lock_and_link, move_head
from api.db import json_dumps
from api.live.notifier import NOTIFY_CHANNEL, notifier
from models import AuditEvent, LiveEvent

_AUDIT = "vigil.precommit.audit"
_EVENTS = "vigil.precommit.events"
_WRITTEN = "vigil.precommit.events_written"


def queue_audit(db: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Audit rows (``api.audit.audit_values``) to insert with this transaction's commit."""
    _queue(db, _AUDIT).extend(rows)


def queue_event(db: AsyncSession, row: dict[str, Any]) -> None:
    """A ``live_events`` row to insert with this transaction's commit (``api.live.outbox``)."""
    _queue(db, _EVENTS).append(row)


def _queue(db: AsyncSession, key: str) -> list[dict[str, Any]]:
    session = db.sync_session
    if not session.in_transaction():
        # A transaction for the queue to belong to (no database work until one is needed), so
        # that a rollback before any query still discards it.
        session.begin()
    queue: list[dict[str, Any]] = session.info.setdefault(key, [])
    return queue


_INSERT_AUDIT = insert(AuditEvent.__table__)  # type: ignore[arg-type]
# Live event ids taken here are provisional: a deferred trigger gives each row its final id
# inside COMMIT, in commit order (migration 0005).
_PG_WRITE = text(
    """
    WITH audit AS (
        INSERT INTO audit_events (id, at, actor_id, role, action, resource_type, resource_id,
            patient_id, client_address, request_id, outcome, detail, seq, prev_hash, hash)
        SELECT * FROM unnest(
            CAST(:a_id AS uuid[]), CAST(:a_at AS timestamptz[]), CAST(:a_actor_id AS text[]),
            CAST(:a_role AS text[]), CAST(:a_action AS text[]),
            CAST(:a_resource_type AS text[]), CAST(:a_resource_id AS text[]),
            CAST(:a_patient_id AS uuid[]), CAST(:a_client_address AS text[]),
            CAST(:a_request_id AS text[]), CAST(:a_outcome AS text[]), CAST(:a_detail AS text[]),
            CAST(:a_seq AS bigint[]), CAST(:a_prev_hash AS text[]), CAST(:a_hash AS text[])
        )
    ), head AS (
        UPDATE audit_chain_head SET seq = CAST(:h_seq AS bigint), hash = CAST(:h_hash AS text)
        WHERE id = 1 AND CAST(:h_seq AS bigint) IS NOT NULL
    ), written AS (
        INSERT INTO live_events (kind, session_id, patient_id, payload, created_at)
        SELECT * FROM unnest(
            CAST(:e_kind AS text[]), CAST(:e_session_id AS uuid[]),
            CAST(:e_patient_id AS uuid[]), CAST(:e_payload AS json[]),
            CAST(:e_created_at AS timestamptz[])
        )
    )
    SELECT pg_notify(:channel, '')
    """
)
_AUDIT_COLUMNS = (*CONTENT, "seq", "prev_hash", "hash")  # what a row's hash covers, and the chain
_EVENT_COLUMNS = ("kind", "session_id", "patient_id", "created_at")


def _columns(rows: list[dict[str, Any]], columns: tuple[str, ...], prefix: str) -> dict[str, Any]:
    return {f"{prefix}{name}": [r[name] for r in rows] for name in columns}


@event.listens_for(Session, "before_commit")
def _write_queued(session: Session) -> None:
    audit: list[dict[str, Any]] = session.info.pop(_AUDIT, None) or []
    events: list[dict[str, Any]] = session.info.pop(_EVENTS, None) or []
    if not audit and not events:
        return
    connection = session.connection()
    head: tuple[int, str] | tuple[None, None] = (
        lock_and_link(connection, audit) if audit else (None, None)
    )
    if events and connection.dialect.name == "postgresql":
        params = _columns(audit, _AUDIT_COLUMNS, "a_") | _columns(events, _EVENT_COLUMNS, "e_")
        params["h_seq"], params["h_hash"] = head
        # The JSON column's own serializer, as SQLAlchemy uses it on SQLite.
        params["e_payload"] = [json_dumps(e["payload"]) for e in events]
        params["channel"] = NOTIFY_CHANNEL
        connection.execute(_PG_WRITE, params)
    else:
        if audit:
            connection.execute(_INSERT_AUDIT, audit)
            seq, hash_ = head
            assert seq is not None
            assert hash_ is not None
            move_head(connection, seq, hash_)
        if events:
            # SQLite: BEGIN IMMEDIATE already serializes writers, so ids follow commit order.
            connection.execute(insert(LiveEvent), events)
    if events:
        session.info[_WRITTEN] = True


@event.listens_for(Session, "after_commit")
def _wake_streams(session: Session) -> None:
    if session.info.pop(_WRITTEN, False):
        notifier.wake()


@event.listens_for(Session, "after_soft_rollback")
def _discard(session: Session, previous_transaction: SessionTransaction) -> None:
    if previous_transaction.parent is None:  # the transaction itself, not a savepoint in it
        for key in (_AUDIT, _EVENTS, _WRITTEN):
            session.info.pop(key, None)
