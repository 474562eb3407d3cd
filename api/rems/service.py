"""The Spravato REMS Patient Monitoring Form, assembled from the session record (SPEC §6), its
submissions, and the list of forms due / overdue / submitted.

The assembly rules are in :mod:`api.clinical.rems`; this loads what it needs.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, time, timedelta, tzinfo
from typing import Any

from sqlalchemy import Select, exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from api.administrations.service import administrations_for_session
from api.adverse_events.repository import adverse_events_for_session
from api.alerts.service import alert_kinds_for_session
from api.assessments.service import cadss_totals_for_session, sedation_scores_for_session
from api.audit import Audit
from api.checklists.service import discharge_ready_at
from api.clinical.rems import (
    REMS_FORM_VERSION,
    assemble_rems_form,
    concomitant_from_list,
    minutes_until_ready,
)
from api.config import Settings
from api.errors import Conflict
from api.medications.service import medication_list_as_of
from api.pagination import cut_page, keyset
from api.patients.service import get_patient
from api.plans.service import session_revision
from api.sessions.record import session_record
from api.sessions.repository import get_session
from models import (
    DosingPlanRevision,
    Observation,
    Patient,
    RemsSubmission,
    SessionTransition,
    TreatmentSession,
    User,
)

VITAL_CODES = frozenset(
    {"missing_reading", "stale_reading", "above_limit", "below_limit", "not_near_baseline"}
)
DUE_DAYS = 7


async def _acceptable_at_transition(
    db: AsyncSession, session: TreatmentSession, to_status: str
) -> bool | None:
    """Yes when the session moved to ``to_status`` with its vital items met; no when a vital
    item went ahead unmet (a clinician's override, or a discharge against advice); None
    before the transition (for the clinician to answer)."""
    transition = await db.scalar(
        select(SessionTransition).where(
            SessionTransition.session_id == session.id, SessionTransition.to_status == to_status
        )
    )
    if transition is None:
        return None
    went_ahead = [*(transition.overridden or []), *(transition.unmet or [])]
    if any(item.get("code") in VITAL_CODES for item in went_ahead):
        return False
    return not (to_status == "discharged" and session.discharge_type == "against_advice")


async def _provider(db: AsyncSession, session: TreatmentSession) -> dict[str, object] | None:
    """The session's responsible clinician: name and the user's optional phone and email."""
    ref = session.responsible_clinician_id
    if not ref:
        return None
    try:
        user = await db.get(User, uuid.UUID(str(ref)))
    except ValueError:
        user = None
    if user is None:
        return None
    return {
        "name": user.display_name,
        "phone": getattr(user, "phone", None),
        "email": getattr(user, "email", None),
    }


def _setting(settings: Settings) -> dict[str, object] | None:
    if not settings.clinic_name and not settings.clinic_address:
        return None
    return {"name": settings.clinic_name, "address": settings.clinic_address}


async def _require_esketamine(db: AsyncSession, session: TreatmentSession) -> None:
    revision = await session_revision(db, session)
    if revision.medication != "esketamine":
        raise Conflict(
            "The Spravato REMS Patient Monitoring Form applies to esketamine sessions; this "
            f"session's plan is {revision.medication}.",
            medication=revision.medication,
        )


async def build_form(
    db: AsyncSession, session: TreatmentSession, *, clinic_tz: tzinfo, settings: Settings
) -> dict[str, Any]:
    patient = await get_patient(db, session.patient_id)
    record = await session_record(db, session)
    administrations = await administrations_for_session(db, session.id, include_retracted=False)
    starts = [a["started_at"] for a in administrations if a.get("started_at") is not None]
    first_device = min(starts) if starts else session.dosing_started_at
    # the version in force on the session's date: the last one recorded by the end of that
    # clinic day (a list updated at the chair-side during the visit counts)
    day = (session.dosing_started_at or session.scheduled_at).astimezone(clinic_tz).date()
    end_of_day = datetime.combine(day + timedelta(days=1), time(), clinic_tz).astimezone(UTC)
    medications = await medication_list_as_of(db, patient.id, end_of_day)
    respiratory_rate = (
        session.dosing_started_at is not None
        and await db.scalar(
            select(
                exists().where(
                    Observation.session_id == session.id,
                    Observation.code == "respiratory_rate",
                    Observation.status == "final",
                    Observation.measured_at >= session.dosing_started_at,
                )
            )
        )
        is True
    )
    events = [
        {
            "id": e.id,
            "kind": e.kind,
            "severity": e.severity,
            "onset_at": e.onset_at,
            "resolved_at": e.resolved_at,
            "action_taken": e.action_taken,
        }
        for e in await adverse_events_for_session(db, session.id, include_retracted=False)
    ]
    previous = (
        await db.scalar(
            select(
                exists().where(
                    TreatmentSession.patient_id == patient.id,
                    TreatmentSession.id != session.id,
                    TreatmentSession.dosing_started_at.is_not(None),
                    TreatmentSession.dosing_started_at < session.dosing_started_at,
                )
            )
        )
        if session.dosing_started_at is not None
        else None
    )
    form = assemble_rems_form(
        patient={
            "first_name": patient.given_name,
            "last_name": patient.family_name,
            "birth_date": patient.birth_date,
            "sex": patient.sex,
        },
        session={"dosing_started_at": session.dosing_started_at, "ended_at": session.ended_at},
        administrations=administrations,
        vitals_summary=record["vitals_summary"],
        sedation_scores=await sedation_scores_for_session(db, session.id),
        cadss_totals=await cadss_totals_for_session(db, session.id),
        alert_kinds=await alert_kinds_for_session(db, session.id),
        concomitant_medications=concomitant_from_list(medications),
        monitoring_provider=await _provider(db, session),
        healthcare_setting=_setting(settings),
        minutes_until_ready=minutes_until_ready(
            first_device, await discharge_ready_at(db, session.id)
        ),
        vitals_acceptable_before_dosing=await _acceptable_at_transition(db, session, "dosing"),
        vitals_acceptable_before_completion=await _acceptable_at_transition(
            db, session, "discharged"
        ),
        adverse_events=events,
        respiratory_rate_recorded=respiratory_rate,
        clinic_tz=clinic_tz,
    )
    submission = await db.scalar(
        select(RemsSubmission).where(RemsSubmission.session_id == session.id)
    )
    return {
        "session_id": session.id,
        "patient_id": patient.id,
        "first_treatment": None if previous is None else not previous,
        "submission": _submission_dict(submission) if submission else None,
        **form,
    }


async def rems_form(
    db: AsyncSession, audit: Audit, session_id: str, *, clinic_tz: tzinfo, settings: Settings
) -> dict[str, Any]:
    session = await get_session(db, session_id)
    await _require_esketamine(db, session)
    form = await build_form(db, session, clinic_tz=clinic_tz, settings=settings)
    audit.record("read", "rems_form", session.id, patient_id=session.patient_id)
    return form


def _submission_dict(row: RemsSubmission) -> dict[str, Any]:
    return {c.key: getattr(row, c.key) for c in RemsSubmission.__table__.columns}


async def submit(
    db: AsyncSession,
    audit: Audit,
    session_id: str,
    *,
    submitted_at: datetime | None,
    reference: str | None,
) -> dict[str, Any]:
    session = await get_session(db, session_id, for_update=True)
    await _require_esketamine(db, session)
    if session.dosing_started_at is None:
        raise Conflict("No dose was given in this session: there is no form to file.")
    row = RemsSubmission(
        session_id=session.id,
        submitted_at=submitted_at or datetime.now(UTC),
        reference=reference,
        form_version=REMS_FORM_VERSION,
        recorded_by=audit.actor.id,
    )
    db.add(row)
    try:
        async with db.begin_nested():
            await db.flush()
    except IntegrityError:
        raise Conflict("This session's REMS form is already recorded as submitted.") from None
    audit.record("create", "rems_submission", row.id, patient_id=session.patient_id)
    return _submission_dict(row)


def _forms_query(
    status: str | None, cutoff: datetime
) -> Select[TreatmentSession, Patient, RemsSubmission]:
    """Esketamine sessions that were dosed, with their patient and submission (if any)."""
    stmt = (
        select(TreatmentSession, Patient, RemsSubmission)
        .join(
            DosingPlanRevision,
            (DosingPlanRevision.plan_id == TreatmentSession.plan_id)
            & (DosingPlanRevision.revision == TreatmentSession.plan_revision),
        )
        .join(Patient, Patient.id == TreatmentSession.patient_id)
        .outerjoin(RemsSubmission, RemsSubmission.session_id == TreatmentSession.id)
        .where(
            DosingPlanRevision.medication == "esketamine",
            TreatmentSession.dosing_started_at.is_not(None),
        )
    )
    if status == "submitted":
        stmt = stmt.where(RemsSubmission.id.is_not(None))
    elif status == "due":
        stmt = stmt.where(RemsSubmission.id.is_(None), TreatmentSession.dosing_started_at >= cutoff)
    elif status == "overdue":
        stmt = stmt.where(RemsSubmission.id.is_(None), TreatmentSession.dosing_started_at < cutoff)
    return stmt


async def list_forms(
    db: AsyncSession,
    audit: Audit,
    *,
    status: str | None,
    limit: int,
    cursor: str | None,
    clinic_tz: tzinfo,
) -> tuple[list[dict[str, Any]], str | None]:
    """Oldest treatment first; keyset on (dosing_started_at, id). A form is due within
    :data:`DUE_DAYS` days of the treatment date (the clinic's day), overdue after."""
    today = datetime.now(UTC).astimezone(clinic_tz).date()
    # treated on or after this clinic midnight: still due today
    cutoff = datetime.combine(today - timedelta(days=DUE_DAYS), time(), clinic_tz).astimezone(UTC)
    stmt = keyset(
        _forms_query(status, cutoff),
        cursor=cursor,
        limit=limit,
        sort=TreatmentSession.dosing_started_at,
        tiebreak=TreatmentSession.id,
    )
    rows, next_cursor = cut_page(
        list((await db.execute(stmt)).all()), limit, lambda r: (r[0].dosing_started_at, r[0].id)
    )
    items = []
    for session, patient, submission in rows:
        started = session.dosing_started_at
        assert started is not None  # the query selects dosed sessions only
        treated = started.astimezone(clinic_tz).date()
        due_by = treated + timedelta(days=DUE_DAYS)
        state = "submitted" if submission else ("overdue" if today > due_by else "due")
        items.append(
            {
                "session_id": session.id,
                "patient_id": patient.id,
                "patient_name": f"{patient.given_name} {patient.family_name}",
                "mrn": patient.mrn,
                "treatment_date": treated,
                "due_by": due_by,
                "status": state,
                "submitted_at": submission.submitted_at if submission else None,
                "reference": submission.reference if submission else None,
            }
        )
        audit.record("read", "rems_form", session.id, patient_id=patient.id)
    return items, next_cursor
