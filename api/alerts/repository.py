"""Queries on alerts: storing, resolving, acknowledging, counting and listing them."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, false, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from api.pagination import cut_page, keyset
from api.types import parse_id
from models import Alert, TreatmentSession
from models.base import utcnow

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


def _insert_alerts(insert: Any) -> Any:
    table = Alert.__table__
    return (
        insert(table)
        .on_conflict_do_nothing(index_elements=["observation_id"])
        .returning(table.c.id)
    )


_INSERT_ALERTS = {
    "postgresql": _insert_alerts(postgresql.insert),
    "sqlite": _insert_alerts(sqlite.insert),
}


async def insert_reading_alerts(db: AsyncSession, rows: Sequence[dict[str, Any]]) -> set[uuid.UUID]:
    """Store alerts of readings, at most one per reading (``ON CONFLICT (observation_id) DO
    NOTHING``); the ids actually stored. A list of rows against one cached statement
    (insertmanyvalues: still one multi-row INSERT per round trip) rather than .values(rows),
    which is compiled afresh for every batch."""
    stmt = _INSERT_ALERTS[db.get_bind().dialect.name]
    return {r[0] for r in await db.execute(stmt, list(rows))}


async def resolve_where(
    db: AsyncSession, source: ColumnElement[bool], resolution: str
) -> list[dict[str, Any]]:
    """Resolve the alerts ``source`` selects that are not resolved yet; the changed rows."""
    resolved = await db.execute(
        update(Alert)
        .where(source, Alert.status != "resolved")
        .values(status="resolved", resolved_at=utcnow(), resolution=resolution)
        .returning(*Alert.__table__.c)
        .execution_options(synchronize_session=False)
    )
    return [dict(row) for row in resolved.mappings()]


async def acknowledge_if_open(db: AsyncSession, alert: Alert, *, by: str, note: str | None) -> bool:
    """Acknowledge ``alert`` unless it is no longer open (False)."""
    result = await db.execute(
        update(Alert)
        .where(Alert.id == alert.id, Alert.status == "open")
        .values(
            status="acknowledged",
            acknowledged_at=utcnow(),
            acknowledged_by=by,
            acknowledge_note=note,
        )
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


async def alert_with_session(
    db: AsyncSession, alert_id: uuid.UUID
) -> tuple[Alert, TreatmentSession | None] | None:
    found = (
        await db.execute(
            select(Alert, TreatmentSession)
            .outerjoin(TreatmentSession, TreatmentSession.id == Alert.session_id)
            .where(Alert.id == alert_id)
        )
    ).first()
    return (found[0], found[1]) if found is not None else None


async def status_counts(db: AsyncSession, session_id: uuid.UUID) -> list[tuple[str, str, int]]:
    """(status, severity, how many) of the session's alerts."""
    rows = await db.execute(
        select(Alert.status, Alert.severity, func.count())
        .where(Alert.session_id == session_id)
        .group_by(Alert.status, Alert.severity)
    )
    return [(s, v, n) for s, v, n in rows]


async def standing_kinds(db: AsyncSession, session_id: uuid.UUID) -> list[str]:
    """Kinds of the session's alerts that still stand (resolved by retraction excluded)."""
    rows = await db.scalars(
        select(Alert.kind).where(Alert.session_id == session_id, Alert.status != "resolved")
    )
    return list(rows)


async def page_alerts(
    db: AsyncSession,
    *,
    status: Sequence[str] | None,
    severity: Sequence[str] | None,
    session_id: str | None,
    patient_id: str | None,
    limit: int,
    cursor: str | None,
) -> tuple[list[tuple[Alert, TreatmentSession | None]], str | None]:
    """Newest first, keyset on (created_at, id) descending; each with its session (None: a
    patient's alert)."""
    stmt: Select[Alert, TreatmentSession] = select(Alert, TreatmentSession).outerjoin(
        TreatmentSession, TreatmentSession.id == Alert.session_id
    )
    if status:
        stmt = stmt.where(Alert.status.in_(status))
    if severity:
        stmt = stmt.where(Alert.severity.in_(severity))
    if session_id is not None:
        sid = parse_id(session_id)
        stmt = stmt.where(Alert.session_id == sid) if sid else stmt.where(false())
    if patient_id is not None:
        pid = parse_id(patient_id)
        stmt = stmt.where(Alert.patient_id == pid) if pid else stmt.where(false())
    stmt = keyset(
        stmt,
        cursor=cursor,
        limit=limit,
        sort=Alert.created_at,
        tiebreak=Alert.id,
        descending=True,
    )
    return cut_page(
        [(a, s) for a, s in (await db.execute(stmt)).all()],
        limit,
        lambda pair: (pair[0].created_at, pair[0].id),
    )
