"""Medicines other than ketamine/esketamine given in a session (SPEC §6): listed on the
session record, retractable like doses."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from api.audit import Audit
from api.clinical.adverse_events import is_study_drug
from api.errors import Conflict, ValidationFailed, field_error
from api.retraction import retract_record
from api.session_medications.repository import medications_for_session
from api.session_medications.schemas import SessionMedicationCreate
from api.sessions.repository import get_session
from models import SessionMedication

_COLUMNS = [c.key for c in SessionMedication.__table__.columns]


def medication_dict(row: SessionMedication) -> dict[str, Any]:
    return {c: getattr(row, c) for c in _COLUMNS}


async def record_medication(
    db: AsyncSession, audit: Audit, session_id: str, body: SessionMedicationCreate
) -> dict[str, Any]:
    session = await get_session(db, session_id)
    if is_study_drug(body.name):
        raise ValidationFailed(
            [
                field_error(
                    ["body", "name"],
                    "ketamine and esketamine are recorded as administrations "
                    f"(POST /v1/sessions/{session.id}/administrations), not as other medications",
                )
            ]
        )
    if session.checked_in_at is None:
        raise Conflict("The session has not been checked in; nothing can have been given yet.")
    if session.ended_at is not None and body.given_at > session.ended_at:
        raise Conflict("given_at is after the session ended.", field="given_at")
    row = SessionMedication(session_id=session.id, **body.model_dump(), recorded_by=audit.actor.id)
    db.add(row)
    await db.flush()
    audit.record("create", "session_medication", row.id, patient_id=session.patient_id)
    return medication_dict(row)


async def list_medications(
    db: AsyncSession, audit: Audit, session_id: str, *, include_retracted: bool
) -> list[dict[str, Any]]:
    session = await get_session(db, session_id)
    audit.record("read", "session_medication", None, patient_id=session.patient_id)
    rows = await medications_for_session(db, session.id, include_retracted=include_retracted)
    return [medication_dict(r) for r in rows]


async def retract_medication(
    db: AsyncSession, audit: Audit, session_id: str, medication_id: str, reason: str
) -> dict[str, Any]:
    session = await get_session(db, session_id)
    row = await retract_record(
        db,
        SessionMedication,
        session,
        medication_id,
        noun="medication",
        actor_id=audit.actor.id,
        reason=reason,
    )
    audit.record("retract", "session_medication", row.id, patient_id=session.patient_id)
    return medication_dict(row)
