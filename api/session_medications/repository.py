"""Queries on the other medications given in a session."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models import SessionMedication


async def medications_for_session(
    db: AsyncSession, session_id: uuid.UUID, *, include_retracted: bool = True
) -> list[SessionMedication]:
    stmt = select(SessionMedication).where(SessionMedication.session_id == session_id)
    if not include_retracted:
        stmt = stmt.where(SessionMedication.not_retracted())
    return list(await db.scalars(stmt.order_by(SessionMedication.given_at, SessionMedication.id)))
