from __future__ import annotations

from datetime import datetime

from sqlalchemy import false, select
from sqlalchemy.ext.asyncio import AsyncSession

from api.pagination import cut_page, keyset
from api.types import parse_id
from models import AuditEvent


async def page_audit_events(
    db: AsyncSession,
    *,
    patient_id: str | None,
    actor_id: str | None,
    from_: datetime | None,
    to: datetime | None,
    limit: int,
    cursor: str | None,
) -> tuple[list[AuditEvent], str | None]:
    """Newest first; keyset on (at, id) descending (a ``patient_id`` that is no id matches
    nothing)."""
    stmt = select(AuditEvent)
    if patient_id is not None:
        pid = parse_id(patient_id)
        stmt = stmt.where(AuditEvent.patient_id == pid) if pid else stmt.where(false())
    if actor_id is not None:
        stmt = stmt.where(AuditEvent.actor_id == actor_id)
    if from_ is not None:
        stmt = stmt.where(AuditEvent.at >= from_)
    if to is not None:
        stmt = stmt.where(AuditEvent.at < to)
    stmt = keyset(
        stmt,
        cursor=cursor,
        limit=limit,
        sort=AuditEvent.at,
        tiebreak=AuditEvent.id,
        descending=True,
    )
    return cut_page(list((await db.scalars(stmt)).all()), limit, lambda r: (r.at, r.id))
