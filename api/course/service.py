"""The treatment course of each plan of a patient (SPEC §12; rules in
:mod:`api.clinical.course`)."""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from api.audit import Audit
from api.clinical.course import CourseScore, CourseSession, summarize_course
from api.patients.service import get_patient
from models import (
    Administration,
    Assessment,
    DosingPlan,
    DosingPlanRevision,
    Screening,
    TreatmentSession,
)

COURSE_INSTRUMENTS = ("phq9", "gad7", "pcl5", "madrs", "ybocs")


def _screening_baselines(
    screenings: list[Screening], first_dosed: datetime | None
) -> dict[str, CourseScore]:
    """Per instrument, the baseline score the latest screening recorded, taken before the first
    dose."""
    out: dict[str, CourseScore] = {}
    for screening in sorted(screenings, key=lambda s: s.screened_at):
        for entry in screening.baseline or []:
            instrument = str(entry.get("instrument"))
            taken = datetime.fromisoformat(str(entry["administered_at"]))
            if instrument in COURSE_INSTRUMENTS and (first_dosed is None or taken < first_dosed):
                out[instrument] = CourseScore(
                    instrument=instrument,
                    total=int(entry["total"]),
                    administered_at=taken,
                    source="screening",
                )
    return out


async def patient_course(db: AsyncSession, audit: Audit, patient_id: str) -> dict[str, Any]:
    patient = await get_patient(db, patient_id)
    now = datetime.now(UTC)
    plans = (
        await db.execute(
            select(DosingPlan, DosingPlanRevision)
            .join(
                DosingPlanRevision,
                (DosingPlanRevision.plan_id == DosingPlan.id)
                & (DosingPlanRevision.revision == DosingPlan.current_revision),
            )
            .where(DosingPlan.patient_id == patient.id)
            .order_by(DosingPlan.created_at, DosingPlan.id)
        )
    ).all()
    sessions = list(
        await db.scalars(select(TreatmentSession).where(TreatmentSession.patient_id == patient.id))
    )
    given = dict(
        (
            await db.execute(
                select(Administration.session_id, func.sum(Administration.dose_mg))
                .join(TreatmentSession, TreatmentSession.id == Administration.session_id)
                .where(TreatmentSession.patient_id == patient.id, Administration.not_retracted())
                .group_by(Administration.session_id)
            )
        ).all()
    )
    assessments = list(
        await db.scalars(
            select(Assessment).where(
                Assessment.patient_id == patient.id,
                Assessment.not_retracted(),
                Assessment.instrument.in_(COURSE_INSTRUMENTS),
            )
        )
    )
    screenings = list(await db.scalars(select(Screening).where(Screening.patient_id == patient.id)))
    plan_of_session = {s.id: s.plan_id for s in sessions}
    by_plan: dict[uuid.UUID, list[TreatmentSession]] = defaultdict(list)
    for s in sessions:
        by_plan[s.plan_id].append(s)
    out = []
    for plan, revision in plans:
        plan_sessions = by_plan[plan.id]
        dosed = [s.dosing_started_at for s in plan_sessions if s.dosing_started_at is not None]
        # a score between sessions belongs to the plans running then: from the plan's writing
        # (or its first dose, when documented earlier) until it was discontinued
        since = min([plan.created_at, *dosed])
        until = plan.discontinued_at or now

        def belongs(
            a: Assessment, plan: DosingPlan = plan, since: datetime = since, until: datetime = until
        ) -> bool:
            if a.session_id is not None:
                return plan_of_session.get(a.session_id) == plan.id
            return since <= a.administered_at <= until

        scores = [
            CourseScore(
                instrument=a.instrument,
                total=a.total,
                administered_at=a.administered_at,
                source=a.source or "session",
            )
            for a in assessments
            if belongs(a)
        ]
        summary = summarize_course(
            plan_active=plan.status == "active",
            sessions_planned=revision.sessions_planned,
            sessions=[
                CourseSession(
                    status=s.status,
                    scheduled_at=s.scheduled_at,
                    dosing_started_at=s.dosing_started_at,
                    given_mg=float(given.get(s.id) or 0.0),
                )
                for s in plan_sessions
            ],
            scores=scores,
            screening_baselines=_screening_baselines(screenings, min(dosed) if dosed else None),
            now=now,
        )
        out.append(
            {
                "dosing_plan_id": plan.id,
                "status": plan.status,
                "medication": revision.medication,
                "route": revision.route,
                "indication": revision.indication,
                "course_phase": getattr(revision, "course_phase", None) or "induction",
                "sessions_planned": revision.sessions_planned,
                "schedule_note": revision.schedule_note,
                **summary,
            }
        )
    audit.record("read", "course", patient.id, patient_id=patient.id)
    return {"patient_id": patient.id, "plans": out}
