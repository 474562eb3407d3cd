"""Retracting a reading, a dose or a score: the one step all three use (SPEC §1: nothing
clinical is ever deleted; a mistake becomes ``entered-in-error`` with who, when and why).

Each service then does what retracting its record means (resolving the alert it raised,
auditing, announcing it).
"""

from __future__ import annotations

from typing import TypeVar

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from api.errors import Conflict, NotFound
from api.types import parse_id
from models import (
    Administration,
    AdverseEvent,
    Assessment,
    Observation,
    SessionMedication,
    TreatmentSession,
)
from models.base import utcnow
from models.retraction import ENTERED_IN_ERROR, FINAL

Record = TypeVar("Record", Observation, Administration, Assessment, AdverseEvent, SessionMedication)


async def retract_record(
    db: AsyncSession,
    model: type[Record],
    session: TreatmentSession,
    record_id: str,
    *,
    noun: str,
    actor_id: str,
    reason: str,
) -> Record:
    """Mark the ``noun`` ``record_id`` of ``session`` entered-in-error and return it re-read.

    404 when the session has no such record; 409 when it is already retracted. The condition
    is in the UPDATE itself (``WHERE status = 'final'``), so of two concurrent retractions
    exactly one changes the row, on SQLite (writers serialized) and on PostgreSQL (the second
    UPDATE waits for the first's row lock, re-checks the condition and changes nothing): the
    first one's reason and author stay.
    """
    rid = parse_id(record_id)
    row = (
        await db.scalar(select(model).where(model.id == rid, model.session_id == session.id))
        if rid
        else None
    )
    if row is None:
        raise NotFound(f"Session {session.id} has no {noun} {record_id}.")
    retracted = False
    if row.status == FINAL:
        result = await db.execute(
            update(model)
            .where(model.id == row.id, model.status == FINAL)
            .values(
                status=ENTERED_IN_ERROR,
                retracted_at=utcnow(),
                retracted_by=actor_id,
                retraction_reason=reason,
            )
            .execution_options(synchronize_session=False)
        )
        retracted = result.rowcount == 1  # type: ignore[attr-defined]
    if not retracted:
        raise Conflict(f"This {noun} is already retracted.")
    await db.refresh(row)
    return row
