"""Loading and locking treatment-session rows: the one place every domain reads a session from.

Below every service: it imports only the models, so a domain that needs a session (alerts,
administrations, readings, checklists...) does not import the session orchestrator.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import Select, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from api.errors import NotFound
from api.types import parse_id
from models import Observation, SessionTransition, TreatmentSession

# Built once: nearly every request reads its session, and building the statement and its cache
# key each time cost about as much as running it through SQLAlchemy.
_SESSION = (
    select(TreatmentSession)
    .where(TreatmentSession.id == bindparam("session_id"))
    .execution_options(populate_existing=True)
)
_SESSION_FOR_UPDATE = _SESSION.with_for_update()


async def get_session(
    db: AsyncSession, session_id: str | uuid.UUID, *, for_update: bool = False
) -> TreatmentSession:
    sid = session_id if isinstance(session_id, uuid.UUID) else parse_id(session_id)
    if sid is None:
        raise NotFound(f"No session with id {session_id}.")
    stmt = _SESSION_FOR_UPDATE if for_update else _SESSION
    session = await db.scalar(stmt, {"session_id": sid})
    if session is None:
        raise NotFound(f"No session with id {session_id}.")
    return session


async def lock_sessions(
    db: AsyncSession, session_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, TreatmentSession]:
    """Lock the rows of the sessions a request stores readings to, for the rest of its
    transaction, and re-read them.

    Every path that stores readings takes this lock before it checks anything against the
    session (timeline, phase, end, BP partners): a transition or an administration of the
    session (which lock it the same way) waits for the readings to commit, or the readings wait
    for the transition and then see its timeline; two posts to one session are serialized.
    FOR UPDATE, the same strength as the transition's, so it conflicts with it. Locked in id
    order, so two requests that each touch several sessions cannot deadlock. (SQLite: a no-op;
    every transaction there is BEGIN IMMEDIATE.)
    """
    return {sid: await get_session(db, sid, for_update=True) for sid in sorted(set(session_ids))}


def summary_readings_query(session_id: uuid.UUID) -> Select[str, float, datetime]:
    """The readings the vitals summary needs (served by ix_observations_session_measured)."""
    return (
        select(Observation.code, Observation.value, Observation.measured_at)
        .where(
            Observation.session_id == session_id,
            Observation.status == "final",
            Observation.code.in_(("systolic_bp", "diastolic_bp", "spo2")),
        )
        # ties at one measured_at: the reading recorded last comes last (and counts)
        .order_by(Observation.measured_at, Observation.recorded_at, Observation.id)
    )


async def summary_readings(
    db: AsyncSession, session_id: uuid.UUID
) -> list[tuple[str, float, datetime]]:
    return [(c, v, m) for c, v, m in await db.execute(summary_readings_query(session_id))]


async def session_transitions(db: AsyncSession, session_id: uuid.UUID) -> list[SessionTransition]:
    """The session's transitions in timeline order."""
    return list(
        (
            await db.scalars(
                select(SessionTransition)
                .where(SessionTransition.session_id == session_id)
                .order_by(SessionTransition.at, SessionTransition.recorded_at)
            )
        ).all()
    )
