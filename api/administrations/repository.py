"""Queries on administrations that other domains read (the monitoring clock starts at the
first dose)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from models import Administration


def _aware(started: datetime) -> datetime:
    # SQLite aggregates lose the type
    return started if started.tzinfo is not None else started.replace(tzinfo=UTC)


async def first_administration_at(db: AsyncSession, session_id: uuid.UUID) -> datetime | None:
    """The start of the session's first non-retracted administration: the monitoring clock."""
    started: datetime | None = await db.scalar(
        select(func.min(Administration.started_at)).where(
            Administration.session_id == session_id, Administration.not_retracted()
        )
    )
    return _aware(started) if started is not None else None


async def first_administrations_at(
    db: AsyncSession, session_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, datetime]:
    """:func:`first_administration_at` of many sessions in one query (sessions with none are
    absent)."""
    out: dict[uuid.UUID, datetime] = {}
    for sid, started in await db.execute(
        select(Administration.session_id, func.min(Administration.started_at))
        .where(Administration.session_id.in_(session_ids), Administration.not_retracted())
        .group_by(Administration.session_id)
    ):
        if started is not None:
            out[sid] = _aware(started)
    return out


async def sessions_with_pending_waste(
    db: AsyncSession, session_ids: Sequence[uuid.UUID]
) -> set[uuid.UUID]:
    """Which of the sessions have a waste still waiting for its witness."""
    return set(
        await db.scalars(
            select(Administration.session_id)
            .where(
                Administration.session_id.in_(session_ids),
                Administration.witness_status == "pending",
                Administration.not_retracted(),
            )
            .distinct()
        )
    )
