"""Retracting a dose or a score: the one conditional UPDATE both domains use (SPEC §1).

Readings have their own (``api.vitals.service.retract_observation``); this is the same step for
the ORM-mapped records that carry :class:`models.retraction.RetractableMixin`.
"""

from __future__ import annotations

import uuid

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from models import Administration, Assessment
from models.base import utcnow
from models.retraction import ENTERED_IN_ERROR

Retractable = type[Administration] | type[Assessment]


async def mark_entered_in_error(
    db: AsyncSession, model: Retractable, record_id: uuid.UUID, *, actor_id: str, reason: str
) -> bool:
    """Mark the record entered-in-error, only if it still counts; False when it was already
    retracted. The condition is in the UPDATE itself (``WHERE status = 'final'``), so of two
    concurrent retractions exactly one changes the row, on SQLite (writers serialized) and on
    PostgreSQL (the second UPDATE waits for the first and re-checks the condition)."""
    result = await db.execute(
        update(model)
        .where(model.id == record_id, model.not_retracted())
        .values(
            status=ENTERED_IN_ERROR,
            retracted_at=utcnow(),
            retracted_by=actor_id,
            retraction_reason=reason,
        )
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]
