"""Queries on adverse events."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from models import AdverseEvent


async def adverse_event_of_session(
    db: AsyncSession, session_id: uuid.UUID, ae_id: uuid.UUID
) -> AdverseEvent | None:
    return await db.scalar(
        select(AdverseEvent).where(AdverseEvent.id == ae_id, AdverseEvent.session_id == session_id)
    )


async def adverse_events_for_session(
    db: AsyncSession, session_id: uuid.UUID, *, include_retracted: bool = True
) -> list[AdverseEvent]:
    stmt = select(AdverseEvent).where(AdverseEvent.session_id == session_id)
    if not include_retracted:
        stmt = stmt.where(AdverseEvent.not_retracted())
    return list(await db.scalars(stmt.order_by(AdverseEvent.onset_at, AdverseEvent.id)))


async def adverse_events_for_patient(db: AsyncSession, patient_id: uuid.UUID) -> list[AdverseEvent]:
    stmt = select(AdverseEvent).where(AdverseEvent.patient_id == patient_id)
    return list(await db.scalars(stmt.order_by(AdverseEvent.onset_at, AdverseEvent.id)))


async def resolve_if_open(db: AsyncSession, row: AdverseEvent, resolved_at: datetime) -> bool:
    """Set ``resolved_at`` unless the event is resolved already (False)."""
    result = await db.execute(
        update(AdverseEvent)
        .where(AdverseEvent.id == row.id, AdverseEvent.resolved_at.is_(None))
        .values(resolved_at=resolved_at)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]
