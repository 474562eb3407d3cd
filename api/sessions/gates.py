"""Loads what the check-in, pre-dose and discharge gates need and runs the pure gate rules
(:mod:`api.clinical.gates`).

Each group of items has its own loader, so a group owned by another domain (screening and the
checklists, witnessed waste) slots into :func:`predose_unmet` / :func:`discharge_unmet` as one
more keyword argument of the pure gate.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, tzinfo
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from api.administrations.repository import (
    first_administration_at,
    first_administrations_at,
    sessions_with_pending_waste,
)
from api.administrations.service import unwitnessed_waste_for_session
from api.alerts.repository import open_alerts_of_session, open_alerts_of_sessions
from api.assessments.repository import cadss_totals_for_session, cadss_totals_of_sessions
from api.assessments.service import (
    sedation_scores_for_session,
    sedation_scores_for_sessions,
)
from api.checklists.service import discharge_items, discharge_items_for_sessions, predose_items
from api.clinical.dose import DoseInputMissing, compute_session_dose
from api.clinical.gates import (
    GATE_VITALS,
    CadssScore,
    DischargeInputs,
    GateReading,
    OpenAlert,
    PlanState,
    PredoseInputs,
    SedationScore,
    Unmet,
    earliest_discharge_at,
    evaluate_discharge_gate,
    evaluate_predose_gate,
)
from api.config import Settings
from api.patients.service import get_patient
from api.plans.limits import thresholds_for
from api.plans.service import PinnedRevision, get_plan, get_revision
from api.sessions import repository
from api.users.repository import display_name
from models import (
    DosingPlan,
    DosingPlanRevision,
    TreatmentSession,
)

GATED_VITALS = tuple(str(v) for v in GATE_VITALS)


def clinic_tz(settings: Settings) -> tzinfo:
    return ZoneInfo(settings.clinic_tz)


async def gate_readings(
    db: AsyncSession, session_id: object, *, until: datetime
) -> list[GateReading]:
    """Non-retracted readings of the gated vitals up to ``until`` (gates only look back)."""
    rows = await repository.gate_readings(db, session_id, GATED_VITALS, until=until)
    return [GateReading(code=c, value=v, measured_at=m) for c, v, m in rows]


async def sedation_scores(db: AsyncSession, session: TreatmentSession) -> list[SedationScore]:
    return await sedation_scores_for_session(db, session.id)


async def cadss_scores(db: AsyncSession, session: TreatmentSession) -> list[CadssScore]:
    return [
        CadssScore(total=t, administered_at=a)
        for a, t in await cadss_totals_for_session(db, session.id)
    ]


async def open_alerts(db: AsyncSession, session: TreatmentSession) -> list[OpenAlert]:
    """The session's alerts still open (warnings included; acknowledged ones do not block)."""
    return [
        OpenAlert(id=str(i), severity=s, message=m, created_at=c)
        for i, s, m, c in await open_alerts_of_session(db, session.id)
    ]


def session_baseline(session: TreatmentSession) -> dict[str, float]:
    values = {
        "systolic_bp": session.baseline_systolic_bp,
        "diastolic_bp": session.baseline_diastolic_bp,
        "heart_rate": session.baseline_heart_rate,
    }
    return {k: v for k, v in values.items() if v is not None}


def dose_from_revision(
    revision: DosingPlanRevision,
    *,
    weight_kg: float | None,
    height_cm: float | None,
    sex: str,
) -> float | None:
    """The dose a revision gives for this weight, None when it cannot be computed."""
    try:
        return compute_session_dose(
            dose_mg_per_kg=revision.dose_mg_per_kg,
            dose_mg=revision.dose_mg,
            weight_basis=revision.weight_basis,
            max_dose_mg=revision.max_dose_mg,
            weight_kg=weight_kg,
            height_cm=height_cm,
            sex=sex,
        ).planned_dose_mg
    except DoseInputMissing:
        return None


async def plan_state(
    db: AsyncSession, session: TreatmentSession, *, lock: bool = False
) -> PlanState:
    """How the session's plan stands against the revision it pinned. ``lock`` (the dosing
    transition) share-locks the plan row, so a revision or discontinuation written at the same
    moment either comes first and is seen, or waits for dosing to have started."""
    plan: DosingPlan = await get_plan(db, session.plan_id, lock="share" if lock else None)
    pinned = session.plan_revision if session.checked_in_at is not None else None
    current_dose: float | None = None
    revised_at = revised_by = None
    if pinned is not None and plan.current_revision != pinned:
        current = await get_revision(db, plan.id, plan.current_revision)
        patient = await get_patient(db, session.patient_id)
        current_dose = dose_from_revision(
            current, weight_kg=session.weight_kg, height_cm=patient.height_cm, sex=patient.sex
        )
        revised_at, revised_by = current.created_at, await display_name(db, current.created_by)
    return PlanState(
        discontinued=plan.status == "discontinued",
        pinned_revision=pinned if pinned is not None else plan.current_revision,
        current_revision=plan.current_revision,
        current_planned_dose_mg=current_dose,
        planned_dose_mg=session.planned_dose_mg,
        revised_at=revised_at,
        revised_by_name=revised_by,
        discontinued_at=plan.discontinued_at,
        discontinued_by_name=await display_name(db, plan.discontinued_by),
        discontinue_reason=plan.discontinue_reason,
    )


async def predose_unmet(
    db: AsyncSession,
    session: TreatmentSession,
    revision: DosingPlanRevision | PinnedRevision,
    at: datetime,
    *,
    settings: Settings,
    with_plan: bool = True,
    lock_plan: bool = False,
) -> list[Unmet]:
    """The pre-dose gate's unmet items as of ``at`` (``settings``: the app's: the clinic's
    limits, time zone and fasting minutes)."""
    readings = await gate_readings(db, session.id, until=at)
    inputs = PredoseInputs(
        at=at,
        readings=readings,
        thresholds=thresholds_for(revision, settings.thresholds),
        plan=await plan_state(db, session, lock=lock_plan) if with_plan else None,
        tz=clinic_tz(settings),
        session_id=str(session.id),
    )
    # the screening, then the pre-session checklist (SPEC §4 order)
    return evaluate_predose_gate(
        inputs,
        eligibility_items=await predose_safety_items(db, session, revision, at, npo=settings.npo),
    )


async def discharge_inputs(
    db: AsyncSession,
    session: TreatmentSession,
    revision: DosingPlanRevision | PinnedRevision,
    at: datetime,
    *,
    settings: Settings,
) -> DischargeInputs:
    return DischargeInputs(
        at=at,
        dosing_started_at=session.dosing_started_at,
        medication=revision.medication,
        min_monitoring_minutes=revision.min_monitoring_minutes,
        readings=await gate_readings(db, session.id, until=at),
        thresholds=thresholds_for(revision, settings.thresholds),
        first_administration_at=await first_administration_at(db, session.id),
        baseline=session_baseline(session),
        sedation_scores=await sedation_scores(db, session),
        cadss_scores=await cadss_scores(db, session),
        open_alerts=await open_alerts(db, session),
        tz=clinic_tz(settings),
    )


async def discharge_unmet(
    db: AsyncSession,
    session: TreatmentSession,
    revision: DosingPlanRevision | PinnedRevision,
    at: datetime,
    *,
    settings: Settings,
) -> list[Unmet]:
    inputs = await discharge_inputs(db, session, revision, at, settings=settings)
    return evaluate_discharge_gate(
        inputs,
        checklist_items=await discharge_safety_items(db, session),
        waste_items=await waste_unmet(db, session, tz=inputs.tz),
    )


async def earliest_discharge(
    db: AsyncSession, session: TreatmentSession, revision: DosingPlanRevision | PinnedRevision
) -> datetime | None:
    return earliest_discharge_at(
        dosing_started_at=session.dosing_started_at,
        first_administration_at=await first_administration_at(db, session.id),
        min_monitoring_minutes=revision.min_monitoring_minutes,
    )


# SPEC §4/§11 items beyond vitals and scores (issue 21): the screening (eligible, not expired,
# REMS enrollment for esketamine) and the pre-session checklist; the discharge checklist.
async def predose_safety_items(
    db: AsyncSession,
    session: TreatmentSession,
    revision: DosingPlanRevision | PinnedRevision,
    at: datetime,
    *,
    npo: Mapping[str, Mapping[str, int]],
) -> list[Unmet]:
    return await predose_items(db, session, revision.medication, at, npo=npo)


async def discharge_safety_items(db: AsyncSession, session: TreatmentSession) -> list[Unmet]:
    return await discharge_items(db, session)


async def waste_unmet(db: AsyncSession, session: TreatmentSession, *, tz: tzinfo) -> list[Unmet]:
    """``waste_unwitnessed``: every waste of the session still waiting for its witness."""
    return await unwitnessed_waste_for_session(db, session.id, tz=tz)


def as_dicts(unmet: Sequence[Unmet]) -> list[dict[str, object]]:
    return [u.as_dict() for u in unmet]


async def discharge_unmet_many(
    db: AsyncSession,
    sessions: Sequence[tuple[TreatmentSession, DosingPlanRevision]],
    at: datetime,
    *,
    settings: Settings,
) -> dict[object, list[Unmet]]:
    """:func:`discharge_unmet` for many sessions at once, in a fixed number of queries (the day
    board): the same :class:`DischargeInputs`, loaded for all the sessions together, and the
    same pure rule. ``tests/station/test_board.py`` checks that it agrees with ``/readiness``
    item for item, so a new gate input added to :func:`discharge_inputs` must be loaded here
    too."""
    ids = [s.id for s, _ in sessions]
    if not ids:
        return {}
    readings = {
        sid: [GateReading(code=c, value=v, measured_at=m) for c, v, m in rows]
        for sid, rows in (
            await repository.gate_readings_of_sessions(db, ids, GATED_VITALS, until=at)
        ).items()
    }
    scores = await sedation_scores_for_sessions(db, ids)
    cadss = {
        sid: [CadssScore(total=t, administered_at=a) for a, t in rows]
        for sid, rows in (await cadss_totals_of_sessions(db, ids)).items()
    }
    alerts = {
        sid: [OpenAlert(id=str(i), severity=s, message=m, created_at=c) for i, s, m, c in rows]
        for sid, rows in (await open_alerts_of_sessions(db, ids)).items()
    }
    first_doses = await first_administrations_at(db, ids)
    pending_waste = await sessions_with_pending_waste(db, ids)
    checklists = await discharge_items_for_sessions(db, ids)
    tz = clinic_tz(settings)
    out: dict[object, list[Unmet]] = {}
    for session, revision in sessions:
        inputs = DischargeInputs(
            at=at,
            dosing_started_at=session.dosing_started_at,
            medication=revision.medication,
            min_monitoring_minutes=revision.min_monitoring_minutes,
            readings=readings[session.id],
            thresholds=thresholds_for(revision, settings.thresholds),
            first_administration_at=first_doses.get(session.id),
            baseline=session_baseline(session),
            sedation_scores=scores.get(session.id, []),
            cadss_scores=cadss.get(session.id, []),
            open_alerts=alerts.get(session.id, []),
            tz=tz,
        )
        # waste is rare: only a session that has some waiting for its witness costs a query
        waste = await waste_unmet(db, session, tz=tz) if session.id in pending_waste else []
        out[session.id] = evaluate_discharge_gate(
            inputs, checklist_items=checklists.get(session.id, []), waste_items=waste
        )
    return out
