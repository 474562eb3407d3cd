"""Follow-up contacts after a session (SPEC §12): due within VIGIL_FOLLOW_UP_HOURS of
discharge."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from api.audit import Audit
from api.errors import Conflict, ValidationFailed, field_error
from api.pagination import cut_page, keyset
from api.sessions.repository import get_session
from models import FollowUp, Patient, TreatmentSession


def follow_up_dict(row: FollowUp) -> dict[str, Any]:
    return {c.key: getattr(row, c.key) for c in FollowUp.__table__.columns}


async def record_follow_up(
    db: AsyncSession,
    audit: Audit,
    session_id: str,
    *,
    contacted_at: datetime,
    method: str,
    outcome: str,
    note: str | None,
) -> dict[str, Any]:
    session = await get_session(db, session_id)
    if session.status != "discharged" or session.ended_at is None:
        raise Conflict(
            f"A follow-up comes after discharge; this session is {session.status}.",
        )
    if contacted_at < session.ended_at:
        raise ValidationFailed(
            [field_error(["body", "contacted_at"], "before the patient was discharged")]
        )
    row = FollowUp(
        session_id=session.id,
        contacted_at=contacted_at,
        method=method,
        outcome=outcome,
        note=note,
        recorded_by=audit.actor.id,
    )
    db.add(row)
    await db.flush()
    audit.record("create", "follow_up", row.id, patient_id=session.patient_id)
    return follow_up_dict(row)


async def list_due(
    db: AsyncSession, audit: Audit, *, follow_up_hours: int, limit: int, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    """Discharged sessions nobody has followed up yet, oldest discharge first (keyset on
    (ended_at, id)); each is due by discharge + VIGIL_FOLLOW_UP_HOURS and ``overdue`` once that
    has passed. A follow-up recorded late still ends the entry: the patient was reached."""
    window = timedelta(hours=follow_up_hours)
    now = datetime.now(UTC)
    followed = exists().where(FollowUp.session_id == TreatmentSession.id)
    stmt = keyset(
        select(TreatmentSession, Patient)
        .join(Patient, Patient.id == TreatmentSession.patient_id)
        .where(TreatmentSession.status == "discharged", ~followed),
        cursor=cursor,
        limit=limit,
        sort=TreatmentSession.ended_at,
        tiebreak=TreatmentSession.id,
    )
    rows, next_cursor = cut_page(
        list((await db.execute(stmt)).all()), limit, lambda r: (r[0].ended_at, r[0].id)
    )
    items = []
    for session, patient in rows:
        ended = session.ended_at
        assert ended is not None
        items.append(
            {
                "session_id": session.id,
                "patient_id": patient.id,
                "patient_name": f"{patient.given_name} {patient.family_name}",
                "mrn": patient.mrn,
                "discharged_at": ended,
                "due_by": ended + window,
                "overdue": now > ended + window,
            }
        )
        audit.record("read", "follow_up", session.id, patient_id=patient.id)
    return items, next_cursor
