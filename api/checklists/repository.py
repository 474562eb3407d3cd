"""Queries on session checklists (one row per session and kind: ``pre``, ``discharge``)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from models import SessionChecklist
from models.base import utcnow


async def get_checklist(
    db: AsyncSession, session_id: uuid.UUID, kind: str
) -> SessionChecklist | None:
    return await db.scalar(
        select(SessionChecklist).where(
            SessionChecklist.session_id == session_id, SessionChecklist.kind == kind
        )
    )


async def checklists_of_sessions(
    db: AsyncSession, session_ids: Sequence[uuid.UUID], kind: str
) -> dict[uuid.UUID, SessionChecklist]:
    """The ``kind`` checklist of each of the sessions that has one, in one query."""
    return {
        row.session_id: row
        for row in await db.scalars(
            select(SessionChecklist).where(
                SessionChecklist.session_id.in_(session_ids), SessionChecklist.kind == kind
            )
        )
    }


async def update_if_version(
    db: AsyncSession, existing: SessionChecklist, *, content: dict[str, Any], recorded_by: str
) -> bool:
    """Replace the content, only if the row is still at ``existing.version`` (False: changed
    at the same time)."""
    result = await db.execute(
        update(SessionChecklist)
        .where(SessionChecklist.id == existing.id, SessionChecklist.version == existing.version)
        .values(
            content=content,
            version=existing.version + 1,
            recorded_by=recorded_by,
            recorded_at=utcnow(),
        )
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]
