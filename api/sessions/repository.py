"""Loading and locking treatment-session rows: the one place every domain reads a session from.

Below every service: it imports only the models, so a domain that needs a session (alerts,
administrations, readings, checklists...) does not import the session orchestrator.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from api.errors import NotFound
from api.types import parse_id
from models import TreatmentSession

# Built once: nearly every request reads its session, and building the statement and its cache
# key each time cost about as much as running it through SQLAlchemy.
_SESSION = (
    select(TreatmentSession)
    .where(TreatmentSession.id == bindparam("session_id"))
    .execution_options(populate_existing=True)
)
_SESSION_FOR_UPDATE = _SESSION.with_for_update()
_SESSION_FOR_SHARE = _SESSION.with_for_update(read=True)


def session_uuid(session_id: str | uuid.UUID) -> uuid.UUID:
    """The id a path names (404 when it cannot be one)."""
    sid = session_id if isinstance(session_id, uuid.UUID) else parse_id(session_id)
    if sid is None:
        raise NotFound(f"No session with id {session_id}.")
    return sid


async def get_session(
    db: AsyncSession,
    session_id: str | uuid.UUID,
    *,
    for_update: bool = False,
    for_share: bool = False,
) -> TreatmentSession:
    """The session row (404 when there is none); ``for_update``: locked against every other
    lock of it until commit; ``for_share``: locked against FOR UPDATE only (see
    :func:`share_sessions`)."""
    sid = session_uuid(session_id)
    stmt = _SESSION_FOR_UPDATE if for_update else _SESSION_FOR_SHARE if for_share else _SESSION
    session = await db.scalar(stmt, {"session_id": sid})
    if session is None:
        raise NotFound(f"No session with id {session_id}.")
    return session


async def lock_sessions(
    db: AsyncSession, session_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, TreatmentSession]:
    """Lock the rows of several sessions FOR UPDATE (as a transition locks its one), for the
    rest of the transaction, and re-read them: in id order, so two requests that each lock
    several sessions cannot deadlock. Readings take :func:`share_sessions` instead. (SQLite: a
    no-op; every transaction there is BEGIN IMMEDIATE.)
    """
    return {sid: await get_session(db, sid, for_update=True) for sid in sorted(set(session_ids))}


async def share_sessions(
    db: AsyncSession, session_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, TreatmentSession]:
    """Lock the rows of the sessions a request stores readings to against changes of them, for
    the rest of its transaction, and re-read them: FOR SHARE, in id order.

    What the readings pipeline takes before it checks anything against a session (timeline,
    phase, end): a transition, an administration or the overdue scan of the session (FOR
    UPDATE, which conflicts with FOR SHARE) waits for the readings to commit, or the readings
    wait for it and then see its timeline. Readings of one session do not wait for each other
    (FOR SHARE does not conflict with FOR SHARE); the two halves of one blood pressure are kept
    whole by their own lock (``api.readings.repository.lock_bp_readings``). Nothing that holds
    this lock may update the session row (two holders would deadlock). Id order: two requests
    that each touch several sessions cannot deadlock against a transition. (SQLite: no row
    locks; every transaction there is BEGIN IMMEDIATE.)
    """
    return {sid: await get_session(db, sid, for_share=True) for sid in sorted(set(session_ids))}
