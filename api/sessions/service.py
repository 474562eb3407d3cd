from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from api.alerts.overdue import vitals_due_at
from api.alerts.service import alerts_after_transition
from api.audit import Audit
from api.clinical.dose import DoseComputation, DoseInputMissing, compute_session_dose
from api.clinical.gates import (
    OVERRIDE_ROLES,
    PlanState,
    Unmet,
    interval_item,
    plan_discontinued_item,
    predose_baseline,
    session_open_item,
)
from api.clinical.labels import utc_iso
from api.clinical.status_machine import (
    REASON_REQUIRED,
    allowed_next,
    infusion_ended_early,
    is_allowed,
)
from api.config import Settings
from api.devices.lifecycle import release_bindings_of_ended_session
from api.errors import (
    Conflict,
    Forbidden,
    ValidationFailed,
    coded_refusal,
    field_error,
    refusal,
)
from api.etag import check_if_match
from api.patients.service import get_patient
from api.people import find_staff
from api.plans.service import get_plan, get_revision, session_revision
from api.sessions import gates, repository
from api.sessions.events import publish_status
from api.sessions.record import session_record
from api.sessions.repository import get_session

# bench/run.py reads these two statements from here
from api.sessions.schemas import RepinRequest, SessionCreate, TransitionRequest
from api.users.repository import display_name
from models import (
    DosingPlan,
    DosingPlanRevision,
    Patient,
    SessionTransition,
    TreatmentSession,
    User,
)
from models.session import ONE_OPEN_SESSION_INDEX


async def create_session(
    db: AsyncSession, audit: Audit, body: SessionCreate, *, settings: Settings
) -> TreatmentSession:
    patient = await get_patient(db, body.patient_id)
    # Shared lock: a discontinue (FOR UPDATE) waits for this session to commit, or this
    # waits for the discontinue and then sees the plan discontinued (409).
    plan = await get_plan(db, body.dosing_plan_id, lock="share")
    if plan.patient_id != patient.id:
        raise Conflict("The dosing plan belongs to another patient.", field="dosing_plan_id")
    if plan.status != "active":
        item = plan_discontinued_item(
            await _discontinued_state(db, plan), tz=gates.clinic_tz(settings), doing="be booked"
        )
        raise refusal(item.message, [item.as_dict()])
    clinician = await _responsible_clinician(db, body.responsible_clinician)
    session = TreatmentSession(
        patient_id=patient.id,
        plan_id=plan.id,
        # provisional: the session pins the revision current at its check-in (SPEC §3)
        plan_revision=plan.current_revision,
        scheduled_at=body.scheduled_at,
        location=body.location,
        responsible_clinician_id=str(clinician.id) if clinician is not None else None,
        created_by=audit.actor.id,
    )
    db.add(session)
    await db.flush()
    audit.record("create", "session", session.id, patient_id=patient.id)
    # a new session appears on the live boards at once
    await publish_status(db, session, await session_record(db, session))
    return session


async def _responsible_clinician(db: AsyncSession, ref: str | None) -> User | None:
    """The user ``ref`` names (id or username), who must be an active clinician (422)."""
    if ref is None:
        return None
    user = await find_staff(db, ref)
    loc = ["body", "responsible_clinician"]
    if user is None:
        raise ValidationFailed([field_error(loc, f"{ref!r} names no member of staff")])
    if user.role != "clinician":
        raise ValidationFailed(
            [
                field_error(
                    loc,
                    f"the responsible clinician must be a clinician; {user.display_name} is "
                    f"{user.role}",
                )
            ]
        )
    if user.disabled:
        raise ValidationFailed(
            [field_error(loc, f"{user.display_name}'s account is disabled; name another")]
        )
    return user


async def _discontinued_state(db: AsyncSession, plan: DosingPlan) -> PlanState:
    return PlanState(
        discontinued=True,
        pinned_revision=plan.current_revision,
        current_revision=plan.current_revision,
        discontinued_at=plan.discontinued_at,
        discontinued_by_name=await display_name(db, plan.discontinued_by),
        discontinue_reason=plan.discontinue_reason,
    )


async def read_session(db: AsyncSession, audit: Audit, session_id: str) -> dict[str, Any]:
    session = await get_session(db, session_id)
    audit.record("read", "session", session.id, patient_id=session.patient_id)
    return await session_record(db, session)


async def list_sessions(
    db: AsyncSession,
    audit: Audit,
    *,
    limit: int,
    cursor: str | None,
    **filters: Any,
) -> tuple[list[TreatmentSession], str | None]:
    """Newest ``scheduled_at`` first; keyset on (scheduled_at, id) descending."""
    rows, next_cursor = await repository.page_sessions(db, limit=limit, cursor=cursor, **filters)
    for row in rows:
        audit.record("read", "session", row.id, patient_id=row.patient_id)
    return rows, next_cursor


def _last_timeline_at(session: TreatmentSession) -> datetime | None:
    stamps = [
        s
        for s in (
            session.checked_in_at,
            session.dosing_started_at,
            session.dosing_ended_at,
            session.ended_at,
        )
        if s is not None
    ]
    return max(stamps) if stamps else None


def _require_override_role(audit: Audit) -> None:
    if audit.actor.role not in OVERRIDE_ROLES:
        raise Forbidden(
            "Only a clinician may give an override_reason; ask the responsible clinician to "
            "review and override."
        )


def _dose_for(revision: DosingPlanRevision, patient: Patient, weight_kg: float | None) -> Any:
    return compute_session_dose(
        dose_mg_per_kg=revision.dose_mg_per_kg,
        dose_mg=revision.dose_mg,
        weight_basis=revision.weight_basis,
        max_dose_mg=revision.max_dose_mg,
        weight_kg=weight_kg,
        height_cm=patient.height_cm,
        sex=patient.sex,
    )


def _dose_values(dose: DoseComputation) -> dict[str, Any]:
    return {
        "weight_kg": dose.weight_kg,
        "weight_basis": dose.weight_basis,
        "basis_weight_kg": dose.basis_weight_kg,
        "dose_mg_per_kg": dose.dose_mg_per_kg,
        "uncapped_dose_mg": dose.uncapped_dose_mg,
        "planned_dose_mg": dose.planned_dose_mg,
        "dose_capped": dose.capped,
        "basis_limited_to_actual": dose.basis_limited_to_actual,
    }


def _missing_dose_item(missing: DoseInputMissing) -> Unmet:
    return Unmet(code=missing.code, message=missing.message)


async def _check_in(
    db: AsyncSession, session: TreatmentSession, body: TransitionRequest, at: datetime, tz: tzinfo
) -> tuple[list[Unmet], dict[str, Any]]:
    """The check-in items (SPEC §4 ``checked_in``) and, when the dose can be computed, the
    values check-in stores: the plan's current revision pinned, the dose computed."""
    # Shared lock: a revision or discontinue (FOR UPDATE) waits for this check-in, or this
    # waits for it and then pins what it wrote.
    plan = await get_plan(db, session.plan_id, lock="share")
    unmet: list[Unmet] = []
    if plan.status != "active":
        unmet.append(
            plan_discontinued_item(await _discontinued_state(db, plan), tz=tz, doing="check in")
        )
    other = await repository.other_open_session(db, session)
    if other is not None:
        unmet.append(
            session_open_item(
                status=other.status,
                checked_in_at=other.checked_in_at,
                location=other.location,
                tz=tz,
            )
        )
    revision = await get_revision(db, plan.id, plan.current_revision)
    interval = interval_item(
        at=at,
        last_dosed_at=await repository.last_dosed_at(db, session),
        min_interval_hours=revision.min_interval_hours,
        tz=tz,
    )
    if interval is not None:
        unmet.append(interval)
    patient = await get_patient(db, session.patient_id)
    values: dict[str, Any] = {"checked_in_at": at, "plan_revision": revision.revision}
    try:
        values.update(_dose_values(_dose_for(revision, patient, body.weight_kg)))
    except DoseInputMissing as missing:
        unmet.append(_missing_dose_item(missing))
    return unmet, values


def _check_discharge_type(body: TransitionRequest) -> None:
    if body.discharge_type is None:
        return
    if body.to != "discharged":
        raise ValidationFailed(
            [field_error(["body", "discharge_type"], "only a discharge has a discharge_type")]
        )
    if body.discharge_type == "against_advice" and not body.reason:
        raise ValidationFailed(
            [
                field_error(
                    ["body", "reason"],
                    "a discharge against advice needs a reason (what the patient was told)",
                )
            ]
        )


async def transition(
    db: AsyncSession,
    audit: Audit,
    session_id: str,
    body: TransitionRequest,
    if_match: str | None,
    *,
    settings: Settings,
) -> TreatmentSession:
    session = await get_session(db, session_id, for_update=True)
    if body.override_reason is not None:
        _require_override_role(audit)  # 403 wherever it appears (SPEC §4)
    check_if_match(if_match, session.version)
    current, target = session.status, body.to
    if not is_allowed(current, target):
        allowed = allowed_next(current)
        raise Conflict(
            f"A session that is {current} cannot move to {target}; allowed next: "
            f"{', '.join(allowed) or 'none (the session has ended)'}.",
            allowed=allowed,
        )
    at = body.at or datetime.now(UTC)
    previous = _last_timeline_at(session)
    if previous is not None and at < previous:
        raise Conflict(
            f"The transition time {at.isoformat()} is before the previous step "
            f"({previous.isoformat()}).",
            allowed=allowed_next(current),
        )
    if target in REASON_REQUIRED and not body.reason:
        raise ValidationFailed(
            [field_error(["body", "reason"], f"a reason is required to move to {target}")]
        )
    _check_discharge_type(body)
    revision = await session_revision(db, session)
    values: dict[str, Any] = {"status": target}
    overridden: list[dict[str, object]] | None = None
    went_ahead_unmet: list[dict[str, object]] | None = None

    if target == "checked_in":
        unmet, check_in_values = await _check_in(db, session, body, at, gates.clinic_tz(settings))
        overridden = _gate(body, unmet, "Check-in is refused")
        values.update(check_in_values)
    elif target == "dosing":
        readings = await gates.gate_readings(db, session.id, until=at)
        overridden = _gate(
            body,
            await gates.predose_unmet(db, session, revision, at, settings=settings, lock_plan=True),
            "Pre-dose checks are not met",
        )
        baseline = predose_baseline(at=at, readings=readings)
        values.update(
            dosing_started_at=at,
            baseline_systolic_bp=baseline.get("systolic_bp"),
            baseline_diastolic_bp=baseline.get("diastolic_bp"),
            baseline_heart_rate=baseline.get("heart_rate"),
        )
    elif target == "monitoring":
        started = session.dosing_started_at or at
        if (
            infusion_ended_early(
                route=revision.route,
                infusion_minutes=revision.infusion_minutes,
                dosing_minutes=(at - started).total_seconds() / 60,
            )
            and not body.reason
        ):
            raise ValidationFailed(
                [
                    field_error(
                        ["body", "reason"],
                        f"the infusion ran less than its planned {revision.infusion_minutes} "
                        "minutes: give a reason for ending it early",
                    )
                ]
            )
        values["dosing_ended_at"] = at
    elif target == "discharged":
        unmet = await gates.discharge_unmet(db, session, revision, at, settings=settings)
        if body.discharge_type == "against_advice":
            # Recorded, never blocking: the patient has left (SPEC §4).
            went_ahead_unmet = gates.as_dicts(unmet)
        else:
            overridden = _gate(body, unmet, "Discharge criteria are not met")
        values.update(ended_at=at, discharge_type=body.discharge_type or "regular")
    else:  # cancelled, transferred
        values["ended_at"] = at
        if current == "dosing":
            values["dosing_ended_at"] = at

    try:
        written = await repository.update_if_version(db, session, values)
    except IntegrityError as error:
        if ONE_OPEN_SESSION_INDEX in str(error.orig) or "treatment_sessions.patient_id" in str(
            error.orig
        ):
            # Two check-ins of one patient at once: the database lets one through.
            item = session_open_item(
                status="checked_in",
                checked_in_at=None,
                location=None,
                tz=gates.clinic_tz(settings),
            )
            raise refusal(item.message, [item.as_dict()]) from None
        raise
    if not written:
        raise Conflict(
            "The session was changed at the same time; reload and try again.",
            allowed=allowed_next(current),
        )
    db.add(
        SessionTransition(
            session_id=session.id,
            from_status=current,
            to_status=target,
            at=at,
            reason=body.reason,
            override_reason=body.override_reason if overridden else None,
            overridden=overridden,
            unmet=went_ahead_unmet or None,
            recorded_by=audit.actor.id,
        )
    )
    await db.flush()
    await db.refresh(session)
    await alerts_after_transition(db, session, target, at, clinic_thresholds=settings.thresholds)
    await release_bindings_of_ended_session(db, session)
    await publish_status(db, session, await session_record(db, session))
    audit.record("transition", "session", session.id, patient_id=session.patient_id)
    if overridden:
        audit.record("override", "session", session.id, patient_id=session.patient_id)
    return session


def _gate(
    body: TransitionRequest, unmet: list[Unmet], title: str
) -> list[dict[str, object]] | None:
    """None when nothing is unmet; the items the override passed when a clinician's
    ``override_reason`` passes every one of them (the caller checked the role); else 409 with
    every item, and nothing recorded."""
    if not unmet:
        return None
    items = gates.as_dicts(unmet)
    if body.override_reason and all(u.overridable for u in unmet):
        return items
    detail = f"{title}: " + "; ".join(str(u["message"]) for u in items)
    if body.override_reason:
        blocking = [u.code for u in unmet if not u.overridable]
        detail += f" (an override cannot pass: {', '.join(dict.fromkeys(blocking))})"
    raise refusal(detail, items)


async def repin(
    db: AsyncSession,
    audit: Audit,
    session_id: str,
    body: RepinRequest,
    if_match: str | None,
    *,
    settings: Settings,
) -> TreatmentSession:
    """SPEC §4 "Repin": a checked-in session moves to the plan's current revision and its dose
    is recomputed (the check-in weight unless ``weight_kg`` is given)."""
    session = await get_session(db, session_id, for_update=True)
    check_if_match(if_match, session.version)
    if session.status != "checked_in":
        raise Conflict(
            f"Only a checked-in session can be re-pinned; this one is "
            f"{session.status.replace('_', ' ')}"
            + (
                " (check it in: that pins the plan's current revision)."
                if session.status == "scheduled"
                else "."
            ),
            session_status=session.status,
        )
    plan = await get_plan(db, session.plan_id, lock="share")
    if plan.status != "active":
        item = plan_discontinued_item(
            await _discontinued_state(db, plan), tz=gates.clinic_tz(settings), doing="be re-pinned"
        )
        raise refusal(item.message, [item.as_dict()])
    if plan.current_revision == session.plan_revision:
        return session  # already current: nothing to do
    revision = await get_revision(db, plan.id, plan.current_revision)
    patient = await get_patient(db, session.patient_id)
    weight = body.weight_kg if body.weight_kg is not None else session.weight_kg
    try:
        dose = _dose_for(revision, patient, weight)
    except DoseInputMissing as missing:
        raise coded_refusal(missing.code, missing.message) from None
    written = await repository.update_if_version(
        db, session, {"plan_revision": revision.revision, **_dose_values(dose)}
    )
    if not written:
        raise Conflict("The session was changed at the same time; reload and try again.")
    await db.flush()
    await db.refresh(session)
    await publish_status(db, session, await session_record(db, session))
    audit.record(
        "repin",
        "session",
        session.id,
        patient_id=session.patient_id,
    )
    return session


async def readiness(
    db: AsyncSession, audit: Audit, session_id: str, *, settings: Settings
) -> dict[str, Any]:
    session = await get_session(db, session_id)
    revision = await session_revision(db, session)
    now = datetime.now(UTC)
    dosing = gates.as_dicts(
        await gates.predose_unmet(db, session, revision, now, settings=settings)
    )
    discharge = gates.as_dicts(
        await gates.discharge_unmet(db, session, revision, now, settings=settings)
    )
    earliest = await gates.earliest_discharge(db, session, revision)
    audit.record("read", "session", session.id, patient_id=session.patient_id)
    return {
        "dosing": {"ready": not dosing, "unmet": dosing},
        "discharge": {
            "ready": not discharge,
            "unmet": discharge,
            "earliest_at": utc_iso(earliest) if earliest is not None else None,
        },
        "vitals_due_at": await vitals_due_at(db, session, settings.thresholds),
    }
