"""Adverse events of a session (SPEC §6): recorded during or after it (a follow-up call),
resolved, retracted; severe and life-threatening ones raise a critical alert; they feed the
REMS form and FHIR ``AdverseEvent``."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from api.adverse_events import repository
from api.adverse_events.repository import (
    adverse_events_for_patient as adverse_events_for_patient,
)
from api.adverse_events.repository import (
    adverse_events_for_session as adverse_events_for_session,
)
from api.adverse_events.schemas import AdverseEventCreate, ResolveRequest
from api.alerts.repository import alert_id_for_adverse_event
from api.alerts.service import raise_adverse_event_alert, resolve_alerts_for_adverse_event
from api.audit import Audit
from api.clinical.adverse_events import adverse_event_alert
from api.errors import Conflict, NotFound, ValidationFailed, field_error
from api.retraction import retract_record
from api.sessions.repository import get_session
from api.types import parse_id
from models import AdverseEvent

_COLUMNS = [c.key for c in AdverseEvent.__table__.columns]


def adverse_event_dict(row: AdverseEvent, alert_id: uuid.UUID | None = None) -> dict[str, Any]:
    return {**{c: getattr(row, c) for c in _COLUMNS}, "alert_id": alert_id}


async def _alert_id(db: AsyncSession, ae_id: uuid.UUID) -> uuid.UUID | None:
    return await alert_id_for_adverse_event(db, ae_id)


async def record_adverse_event(
    db: AsyncSession, audit: Audit, session_id: str, body: AdverseEventCreate
) -> dict[str, Any]:
    session = await get_session(db, session_id)
    errors = []
    if body.kind == "other" and not body.note:
        errors.append(field_error(["body", "note"], "an adverse event of kind other needs a note"))
    if body.resolved_at is not None and body.resolved_at < body.onset_at:
        errors.append(field_error(["body", "resolved_at"], "resolved_at is before onset_at"))
    if errors:
        raise ValidationFailed(errors)
    if session.checked_in_at is None:
        raise Conflict("The session has not been checked in; record the event once it is.")
    row = AdverseEvent(
        session_id=session.id,
        patient_id=session.patient_id,
        **body.model_dump(),
        recorded_by=audit.actor.id,
    )
    db.add(row)
    await db.flush()
    alert_id = None
    decision = adverse_event_alert(body.kind, body.severity)
    if decision is not None:
        alert = await raise_adverse_event_alert(db, session, row.id, decision)
        alert_id = alert.id
    audit.record("create", "adverse_event", row.id, patient_id=session.patient_id)
    return adverse_event_dict(row, alert_id)


async def _get(db: AsyncSession, session_id: uuid.UUID, ae_id: str) -> AdverseEvent:
    aid = parse_id(ae_id)
    row = await repository.adverse_event_of_session(db, session_id, aid) if aid else None
    if row is None:
        raise NotFound(f"Session {session_id} has no adverse event {ae_id}.")
    return row


async def resolve_adverse_event(
    db: AsyncSession, audit: Audit, session_id: str, ae_id: str, body: ResolveRequest
) -> dict[str, Any]:
    session = await get_session(db, session_id)
    row = await _get(db, session.id, ae_id)
    resolved_at = body.resolved_at or datetime.now(UTC)
    if row.status != "final":
        raise Conflict("This adverse event is retracted.")
    if resolved_at < row.onset_at:
        raise ValidationFailed([field_error(["body", "resolved_at"], "before onset_at")])
    if not await repository.resolve_if_open(db, row, resolved_at):
        raise Conflict("This adverse event is already resolved.")
    await db.refresh(row)
    audit.record("update", "adverse_event", row.id, patient_id=session.patient_id)
    return adverse_event_dict(row, await _alert_id(db, row.id))


async def retract_adverse_event(
    db: AsyncSession, audit: Audit, session_id: str, ae_id: str, reason: str
) -> dict[str, Any]:
    session = await get_session(db, session_id)
    row = await retract_record(
        db,
        AdverseEvent,
        session,
        ae_id,
        noun="adverse event",
        actor_id=audit.actor.id,
        reason=reason,
    )
    await resolve_alerts_for_adverse_event(db, session, row.id)
    audit.record("retract", "adverse_event", row.id, patient_id=session.patient_id)
    return adverse_event_dict(row, await _alert_id(db, row.id))


async def list_adverse_events(
    db: AsyncSession, audit: Audit, session_id: str, *, include_retracted: bool
) -> list[dict[str, Any]]:
    session = await get_session(db, session_id)
    audit.record("read", "adverse_event", None, patient_id=session.patient_id)
    rows = await adverse_events_for_session(db, session.id, include_retracted=include_retracted)
    return [adverse_event_dict(r, await _alert_id(db, r.id)) for r in rows]
