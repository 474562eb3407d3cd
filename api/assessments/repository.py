"""Queries on assessments that the gates and the REMS form read."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models import Assessment


async def cadss_totals_for_session(
    db: AsyncSession, session_id: uuid.UUID
) -> list[tuple[datetime, int]]:
    """(administered_at, total) of the session's CADSS assessments not retracted."""
    rows = await db.execute(
        select(Assessment.administered_at, Assessment.total).where(
            Assessment.session_id == session_id,
            Assessment.instrument == "cadss",
            Assessment.not_retracted(),
        )
    )
    return [(a, t) for a, t in rows]


async def cadss_totals_of_sessions(
    db: AsyncSession, session_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID | None, list[tuple[datetime, int]]]:
    """:func:`cadss_totals_for_session` of many sessions in one query (sessions with none are
    absent)."""
    out: dict[uuid.UUID | None, list[tuple[datetime, int]]] = {}
    for sid, administered_at, total in await db.execute(
        select(Assessment.session_id, Assessment.administered_at, Assessment.total).where(
            Assessment.session_id.in_(session_ids),
            Assessment.instrument == "cadss",
            Assessment.not_retracted(),
        )
    ):
        out.setdefault(sid, []).append((administered_at, total))
    return out
