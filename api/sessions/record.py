"""The session read model: everything ``GET /v1/sessions/{id}`` returns, the session's own
columns and the parts other domains own (administrations, alerts, checklists, adverse events,
other medications).

An orchestrator-tier module: it reads several domains, so only the session orchestrator, the
session router, the REMS form and the session's live ``status`` event (built by the caller and
handed to :mod:`api.sessions.events`) use it; no domain below imports it.

The record shows every administration, retracted ones too (with their status): it is the
whole history of the session.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from api.administrations.repository import first_administration_at
from api.administrations.schemas import AdministrationRead
from api.administrations.service import administrations_for_session
from api.adverse_events.repository import adverse_events_for_session
from api.adverse_events.service import adverse_event_dict
from api.alerts.overdue import vitals_due_at
from api.alerts.service import alert_counts_for_session
from api.checklists.service import checklists_for_record
from api.clinical.summary import SummaryReading, summarize_vitals
from api.people import add_names
from api.plans.service import get_plan, pinned_revision
from api.session_medications.repository import medications_for_session
from api.session_medications.service import medication_dict
from api.sessions.repository import session_transitions, summary_readings
from api.users.repository import display_name
from models import TreatmentSession


async def session_record(db: AsyncSession, session: TreatmentSession) -> dict[str, Any]:
    """Everything GET /v1/sessions/{id} returns, as plain data.

    ``plan_revision`` is the revision the session uses: the one pinned at check-in
    (``pinned_revision``), or while it is not checked in the plan's current one (it pins that
    at check-in)."""
    revision_number = session.plan_revision
    if session.checked_in_at is None:
        revision_number = (await get_plan(db, session.plan_id)).current_revision
    revision = await pinned_revision(db, session.plan_id, revision_number)
    transitions = await session_transitions(db, session.id)
    readings = await summary_readings(db, session.id)
    summary = summarize_vitals(
        [SummaryReading(code=c, value=v, measured_at=m) for c, v, m in readings],
        dosing_started_at=session.dosing_started_at,
        dosing_ended_at=session.dosing_ended_at,
        ended_at=session.ended_at,
        first_administration_at=await first_administration_at(db, session.id),
    )
    record: dict[str, Any] = {
        **{c.key: getattr(session, c.key) for c in TreatmentSession.__table__.columns},
        "plan_revision": revision_number,
        "pinned_revision": session.plan_revision if session.checked_in_at is not None else None,
        "baseline": {
            "systolic_bp": session.baseline_systolic_bp,
            "diastolic_bp": session.baseline_diastolic_bp,
            "heart_rate": session.baseline_heart_rate,
        },
        "responsible_clinician": session.responsible_clinician_id,
        "responsible_clinician_name": await display_name(db, session.responsible_clinician_id),
        "medication": revision.medication,
        "route": revision.route,
        "min_monitoring_minutes": revision.min_monitoring_minutes,
        "transitions": transitions,
        "vitals_summary": summary,
    }
    record.update(await extra_record_parts(db, session))
    return record


async def extra_record_parts(db: AsyncSession, session: TreatmentSession) -> dict[str, Any]:
    """The parts of the record other domains own."""
    administrations = await add_names(
        db,
        [
            AdministrationRead.model_validate(a).model_dump()
            for a in await administrations_for_session(db, session.id, include_retracted=True)
        ],
    )
    return {
        "administrations": administrations,
        "alert_counts": await alert_counts_for_session(db, session.id),
        "vitals_due_at": await vitals_due_at(db, session),
        **await checklists_for_record(db, session.id),
        "adverse_events": [
            adverse_event_dict(a) for a in await adverse_events_for_session(db, session.id)
        ],
        "other_medications": [
            medication_dict(m) for m in await medications_for_session(db, session.id)
        ],
    }
