"""A patient's course: vital trends per session and scale scores over the course (SPEC §7).

Each page costs a fixed number of queries however many sessions it covers: the page of
sessions (or assessments), then everything they need in one more query.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from api.audit import Audit
from api.clinical.scoring import course_response
from api.clinical.trends import TrendReading, session_trend
from api.clinical.vitals import VITALS, VitalCode
from api.errors import ValidationFailed, field_error
from api.pagination import cut_page, keyset
from api.patients.service import get_patient
from models import Assessment, Observation, TreatmentSession


async def trends(
    db: AsyncSession,
    audit: Audit,
    patient_id: str,
    *,
    code: str | None,
    instrument: str | None,
    limit: int,
    cursor: str | None,
) -> dict[str, Any]:
    if (code is None) == (instrument is None):
        raise ValidationFailed(
            [field_error(["query", "code"], "give exactly one of code or instrument")]
        )
    patient = await get_patient(db, patient_id)
    audit.record("read", "trend", None, patient_id=patient.id)
    if code is not None:
        try:
            vital = VitalCode(code)
        except ValueError:
            raise ValidationFailed(
                [field_error(["query", "code"], f"unknown vital sign code {code!r}")]
            ) from None
        items, next_cursor = await _vital_trend(db, patient.id, vital, limit, cursor)
        return {
            "patient_id": patient.id,
            "code": vital.value,
            "unit": VITALS[vital].unit,
            "items": items,
            "next_cursor": next_cursor,
        }
    assert instrument is not None
    items, next_cursor = await _score_trend(db, patient.id, instrument, limit, cursor)
    return {
        "patient_id": patient.id,
        "instrument": instrument,
        "items": items,
        "next_cursor": next_cursor,
    }


async def _vital_trend(
    db: AsyncSession, patient_id: uuid.UUID, code: VitalCode, limit: int, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    """One row per session, oldest scheduled first; keyset on (scheduled_at, id)."""
    stmt = select(TreatmentSession).where(TreatmentSession.patient_id == patient_id)
    stmt = keyset(
        stmt,
        cursor=cursor,
        limit=limit,
        sort=TreatmentSession.scheduled_at,
        tiebreak=TreatmentSession.id,
    )
    sessions, next_cursor = cut_page(
        list(await db.scalars(stmt)), limit, lambda r: (r.scheduled_at, r.id)
    )
    by_session: dict[uuid.UUID, list[TrendReading]] = {s.id: [] for s in sessions}
    if sessions:
        rows = await db.execute(
            select(Observation.session_id, Observation.value, Observation.measured_at).where(
                Observation.session_id.in_(list(by_session)),
                Observation.code == code.value,
                Observation.status == "final",
            )
        )
        for sid, value, measured_at in rows:
            by_session[sid].append(TrendReading(value, measured_at))
    items = [
        {
            "session_id": s.id,
            "scheduled_at": s.scheduled_at,
            "status": s.status,
            "dosing_started_at": s.dosing_started_at,
            **session_trend(
                by_session[s.id],
                dosing_started_at=s.dosing_started_at,
                dosing_ended_at=s.dosing_ended_at,
            ),
        }
        for s in sessions
    ]
    return items, next_cursor


async def _score_trend(
    db: AsyncSession, patient_id: uuid.UUID, instrument: str, limit: int, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    """Scores oldest first; response/remission against the first score of the course (the
    dosing plan the session belongs to); keyset on (administered_at, id). Retracted scores are
    neither listed nor a baseline."""
    base = (
        select(Assessment, TreatmentSession)
        .outerjoin(TreatmentSession, TreatmentSession.id == Assessment.session_id)
        .where(
            Assessment.patient_id == patient_id,
            Assessment.instrument == instrument,
            Assessment.not_retracted(),
        )
    )
    stmt = base
    stmt = keyset(
        stmt, cursor=cursor, limit=limit, sort=Assessment.administered_at, tiebreak=Assessment.id
    )
    rows, next_cursor = cut_page(
        list((await db.execute(stmt)).all()), limit, lambda r: (r[0].administered_at, r[0].id)
    )
    baselines = await _baselines(
        db, patient_id, instrument, {s.plan_id for _, s in rows if s is not None}
    )
    items = []
    for a, s in rows:
        if s is None:  # between sessions (SPEC §12): the course view relates it to a plan
            items.append(
                {
                    "assessment_id": a.id,
                    "session_id": None,
                    "dosing_plan_id": None,
                    "scheduled_at": None,
                    "source": a.source,
                    "administered_at": a.administered_at,
                    "total": a.total,
                    "band": a.band,
                    "baseline_total": None,
                    "change": None,
                    "percent_change": None,
                    "response": None,
                    "remission": None,
                }
            )
            continue
        course = course_response(instrument, baselines[s.plan_id], a.total)
        items.append(
            {
                "assessment_id": a.id,
                "session_id": s.id,
                "dosing_plan_id": s.plan_id,
                "scheduled_at": s.scheduled_at,
                "source": "session",
                "administered_at": a.administered_at,
                "total": a.total,
                "band": a.band,
                "baseline_total": course["baseline_total"],
                "change": course["change"],
                "percent_change": course["percent_change"],
                "response": course["response"],
                "remission": course["remission"],
            }
        )
    return items, next_cursor


async def _baselines(
    db: AsyncSession, patient_id: uuid.UUID, instrument: str, plan_ids: set[uuid.UUID]
) -> dict[uuid.UUID, int]:
    """The first score of each course (plan), in one query."""
    if not plan_ids:
        return {}
    ranked = (
        select(
            TreatmentSession.plan_id,
            Assessment.total,
            func.row_number()
            .over(
                partition_by=TreatmentSession.plan_id,
                order_by=(Assessment.administered_at, Assessment.id),
            )
            .label("n"),
        )
        .join(TreatmentSession, TreatmentSession.id == Assessment.session_id)
        .where(
            TreatmentSession.patient_id == patient_id,
            TreatmentSession.plan_id.in_(plan_ids),
            Assessment.instrument == instrument,
            Assessment.not_retracted(),
        )
        .subquery()
    )
    rows = await db.execute(select(ranked.c.plan_id, ranked.c.total).where(ranked.c.n == 1))
    return {plan_id: total for plan_id, total in rows}
