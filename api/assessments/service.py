"""Rating scales scored on the server (SPEC §6; scoring rules in :mod:`api.clinical.scoring`).

MOAA/S and RASS scores feed the discharge gate; PHQ-9 item 9 above 0 raises a critical alert.
A mistaken score is retracted (entered-in-error): it stays on record and no longer counts.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api.alerts.service import (
    raise_assessment_alert,
    raise_patient_assessment_alert,
    resolve_alerts_for_assessment,
)
from api.assessments.repository import cadss_totals_for_session as cadss_totals_for_session
from api.audit import Audit
from api.clinical.alerts import phq9_self_harm_alert
from api.clinical.gates import SEDATION_INSTRUMENTS, SedationScore
from api.clinical.scoring import ScoringError, score_assessment
from api.errors import Conflict, ValidationFailed, field_error
from api.pagination import cut_page, keyset
from api.patients.service import get_patient
from api.retraction import retract_record
from api.sessions.repository import get_session
from models import Alert, Assessment

_COLUMNS = [c.key for c in Assessment.__table__.columns]


def assessment_dict(row: Assessment, alert_id: uuid.UUID | None = None) -> dict[str, Any]:
    return {**{c: getattr(row, c) for c in _COLUMNS}, "alert_id": alert_id}


async def sedation_scores_for_session(
    db: AsyncSession, session_id: uuid.UUID
) -> list[SedationScore]:
    """MOAA/S and RASS scores that count (retracted ones left out): the discharge gate's and the
    REMS form's."""
    rows = await db.execute(
        select(Assessment.instrument, Assessment.total, Assessment.administered_at)
        .where(
            Assessment.session_id == session_id,
            Assessment.instrument.in_(tuple(SEDATION_INSTRUMENTS)),
            Assessment.not_retracted(),
        )
        .order_by(Assessment.administered_at, Assessment.recorded_at)
    )
    return [SedationScore(instrument=i, score=t, administered_at=a) for i, t, a in rows]


async def sedation_scores_for_sessions(
    db: AsyncSession, session_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[SedationScore]]:
    """:func:`sedation_scores_for_session` for many sessions in one query (the day board)."""
    rows = await db.execute(
        select(
            Assessment.session_id,
            Assessment.instrument,
            Assessment.total,
            Assessment.administered_at,
        )
        .where(
            Assessment.session_id.in_(session_ids),
            Assessment.instrument.in_(tuple(SEDATION_INSTRUMENTS)),
            Assessment.not_retracted(),
        )
        .order_by(Assessment.administered_at, Assessment.recorded_at)
    )
    out: dict[uuid.UUID, list[SedationScore]] = {}
    for sid, i, t, a in rows:
        if sid is not None:  # filtered by session: never None here
            out.setdefault(sid, []).append(SedationScore(instrument=i, score=t, administered_at=a))
    return out


async def record_assessment(
    db: AsyncSession,
    audit: Audit,
    session_id: str,
    *,
    instrument: str,
    items: list[int] | None,
    score: int | None,
    administered_at: datetime,
) -> dict[str, Any]:
    session = await get_session(db, session_id)
    try:
        result = score_assessment(instrument, items=items, score=score)
    except ScoringError as err:
        raise ValidationFailed([field_error(["body", *_loc(err.field)], err.message)]) from None
    if session.ended_at is not None and administered_at > session.ended_at:
        raise Conflict(
            f"The session ended at {session.ended_at.isoformat()}; an assessment administered "
            "after that belongs to another session.",
            field="administered_at",
        )
    row = Assessment(
        session_id=session.id,
        patient_id=session.patient_id,
        instrument=result.instrument,
        items=list(items) if items is not None else None,
        total=result.total,
        band=result.band,
        details=result.details,
        administered_at=administered_at,
        recorded_by=audit.actor.id,
    )
    db.add(row)
    await db.flush()
    alert_id = None
    if result.instrument == "phq9" and items is not None:
        decision = phq9_self_harm_alert(items[8])
        if decision is not None:
            alert_id = (await raise_assessment_alert(db, session, row.id, decision)).id
    audit.record("create", "assessment", row.id, patient_id=session.patient_id)
    return assessment_dict(row, alert_id)


def _loc(field: str) -> list[str | int]:
    """``items.3`` → ``["items", 3]``."""
    return [int(p) if p.isdigit() else p for p in field.split(".")]


async def list_assessments(
    db: AsyncSession,
    audit: Audit,
    session_id: str,
    *,
    instrument: str | None,
    include_retracted: bool,
    limit: int,
    cursor: str | None,
) -> tuple[list[dict[str, Any]], str | None]:
    """Oldest first (the order they were administered); keyset on (administered_at, id)."""
    session = await get_session(db, session_id)
    stmt = (
        select(Assessment, Alert.id)
        .outerjoin(Alert, Alert.assessment_id == Assessment.id)
        .where(Assessment.session_id == session.id)
    )
    if not include_retracted:
        stmt = stmt.where(Assessment.not_retracted())
    if instrument is not None:
        stmt = stmt.where(Assessment.instrument == instrument)
    stmt = keyset(
        stmt, cursor=cursor, limit=limit, sort=Assessment.administered_at, tiebreak=Assessment.id
    )
    rows, next_cursor = cut_page(
        list((await db.execute(stmt)).all()), limit, lambda r: (r[0].administered_at, r[0].id)
    )
    audit.record("read", "assessment", None, patient_id=session.patient_id)
    return [assessment_dict(a, alert_id) for a, alert_id in rows], next_cursor


async def retract_assessment(
    db: AsyncSession, audit: Audit, session_id: str, assessment_id: str, reason: str
) -> dict[str, Any]:
    """SPEC §1: a mistaken score is retracted, never deleted. It stays on record and stops
    counting (discharge gate, trends, REMS form); the alert it raised (PHQ-9 item 9) is resolved
    as a retracted reading's is, and the live streams hear of that."""
    session = await get_session(db, session_id)
    row = await retract_record(
        db,
        Assessment,
        session,
        assessment_id,
        noun="assessment",
        actor_id=audit.actor.id,
        reason=reason,
    )
    await resolve_alerts_for_assessment(db, session, row.id)
    audit.record("retract", "assessment", row.id, patient_id=session.patient_id)
    alert_id = await db.scalar(select(Alert.id).where(Alert.assessment_id == row.id))
    return assessment_dict(row, alert_id)


BETWEEN_SESSION_INSTRUMENTS = frozenset({"phq9", "gad7", "pcl5", "madrs", "ybocs"})


async def record_patient_assessment(
    db: AsyncSession,
    audit: Audit,
    patient_id: str,
    *,
    instrument: str,
    items: list[int] | None,
    score: int | None,
    administered_at: datetime,
    source: str,
) -> dict[str, Any]:
    """An assessment between sessions (SPEC §12): scored like a session's, part of the course;
    PHQ-9 item 9 above 0 raises a critical alert of the patient (no session)."""
    patient = await get_patient(db, patient_id)
    if instrument not in BETWEEN_SESSION_INSTRUMENTS:
        raise ValidationFailed(
            [
                field_error(
                    ["body", "instrument"],
                    f"{instrument} is scored during a session; between sessions: "
                    + ", ".join(sorted(BETWEEN_SESSION_INSTRUMENTS)),
                )
            ]
        )
    try:
        result = score_assessment(instrument, items=items, score=score)
    except ScoringError as err:
        raise ValidationFailed([field_error(["body", *_loc(err.field)], err.message)]) from None
    row = Assessment(
        session_id=None,
        patient_id=patient.id,
        source=source,
        instrument=result.instrument,
        items=list(items) if items is not None else None,
        total=result.total,
        band=result.band,
        details=result.details,
        administered_at=administered_at,
        recorded_by=audit.actor.id,
    )
    db.add(row)
    await db.flush()
    alert_id = None
    if result.instrument == "phq9" and items is not None:
        decision = phq9_self_harm_alert(items[8])
        if decision is not None:
            alert_id = (await raise_patient_assessment_alert(db, patient.id, row.id, decision)).id
    audit.record("create", "assessment", row.id, patient_id=patient.id)
    return assessment_dict(row, alert_id)
