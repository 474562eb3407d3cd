"""Queries on alerts that the session gates read."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models import Alert

OpenAlertRow = tuple[uuid.UUID, str, str, datetime]  # id, severity, message, created_at


async def open_alerts_of_session(db: AsyncSession, session_id: uuid.UUID) -> list[OpenAlertRow]:
    """The session's alerts still open, oldest first."""
    rows = await db.execute(
        select(Alert.id, Alert.severity, Alert.message, Alert.created_at)
        .where(Alert.session_id == session_id, Alert.status == "open")
        .order_by(Alert.created_at, Alert.id)
    )
    return [(i, s, m, c) for i, s, m, c in rows.all()]


async def open_alerts_of_sessions(
    db: AsyncSession, session_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID | None, list[OpenAlertRow]]:
    """:func:`open_alerts_of_session` of many sessions in one query (sessions with none are
    absent)."""
    out: dict[uuid.UUID | None, list[OpenAlertRow]] = {}
    for sid, alert_id, severity, message, created_at in await db.execute(
        select(Alert.session_id, Alert.id, Alert.severity, Alert.message, Alert.created_at)
        .where(Alert.session_id.in_(session_ids), Alert.status == "open")
        .order_by(Alert.created_at, Alert.id)
    ):
        out.setdefault(sid, []).append((alert_id, severity, message, created_at))
    return out


async def alert_id_for_adverse_event(db: AsyncSession, ae_id: uuid.UUID) -> uuid.UUID | None:
    """The alert an adverse event raised, if any."""
    return await db.scalar(select(Alert.id).where(Alert.adverse_event_id == ae_id))
