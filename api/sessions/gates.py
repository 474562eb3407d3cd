"""Loads what the pre-dose and discharge gates need and runs the pure gate rules."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api.clinical.gates import (
    GateReading,
    SedationScore,
    Unmet,
    evaluate_discharge_gate,
    evaluate_predose_gate,
)
from api.clinical.thresholds import effective_thresholds
from api.config import get_settings
from models import DosingPlanRevision, Observation, TreatmentSession

if TYPE_CHECKING:
    from api.plans.service import PinnedRevision

GATED_VITALS = ("systolic_bp", "diastolic_bp", "heart_rate", "spo2")


async def gate_readings(
    db: AsyncSession, session_id: object, *, until: datetime
) -> list[GateReading]:
    """Non-retracted readings of the gated vitals up to ``until`` (gates only look back)."""
    rows = await db.execute(
        select(Observation.code, Observation.value, Observation.measured_at)
        .where(
            Observation.session_id == session_id,
            Observation.status == "final",
            Observation.code.in_(GATED_VITALS),
            Observation.measured_at <= until,
            Observation.measured_at >= until - timedelta(hours=24),
        )
        # Two readings of one vital at one measured_at: the one recorded last counts (the
        # gate takes the later one in this order).
        .order_by(Observation.measured_at, Observation.recorded_at, Observation.id)
    )
    return [GateReading(code=c, value=v, measured_at=m) for c, v, m in rows]


async def sedation_scores(db: AsyncSession, session: TreatmentSession) -> list[SedationScore]:
    from api.assessments.service import sedation_scores_for_session

    return await sedation_scores_for_session(db, session.id)


async def open_critical_alert_ids(db: AsyncSession, session: TreatmentSession) -> list[str]:
    from api.alerts.service import open_critical_alert_ids_for_session

    return await open_critical_alert_ids_for_session(db, session.id)


def thresholds_for(revision: DosingPlanRevision | PinnedRevision) -> dict[str, float]:
    return effective_thresholds(get_settings().thresholds, revision.thresholds or None)


async def predose_unmet(
    db: AsyncSession, session: TreatmentSession, revision: DosingPlanRevision, at: datetime
) -> list[Unmet]:
    readings = await gate_readings(db, session.id, until=at)
    unmet = evaluate_predose_gate(at=at, readings=readings, thresholds=thresholds_for(revision))
    return unmet + await predose_safety_items(db, session, revision, at)


async def discharge_unmet(
    db: AsyncSession, session: TreatmentSession, revision: DosingPlanRevision, at: datetime
) -> list[Unmet]:
    readings = await gate_readings(db, session.id, until=at)
    unmet = evaluate_discharge_gate(
        at=at,
        dosing_started_at=session.dosing_started_at,
        readings=readings,
        sedation_scores=await sedation_scores(db, session),
        open_critical_alert_ids=await open_critical_alert_ids(db, session),
        thresholds=thresholds_for(revision),
        min_monitoring_minutes=revision.min_monitoring_minutes,
    )
    return unmet + await discharge_safety_items(db, session)


# SPEC §4/§11 items beyond vitals and scores (issue 21): the screening (eligible, not expired,
# REMS enrollment for esketamine) and the pre-session checklist; the discharge checklist.
async def predose_safety_items(
    db: AsyncSession, session: TreatmentSession, revision: DosingPlanRevision, at: datetime
) -> list[Unmet]:
    from api.checklists.service import predose_items

    return await predose_items(db, session, revision.medication, at)


async def discharge_safety_items(db: AsyncSession, session: TreatmentSession) -> list[Unmet]:
    from api.checklists.service import discharge_items

    return await discharge_items(db, session)


def as_dicts(unmet: Sequence[Unmet]) -> list[dict[str, object]]:
    return [u.as_dict() for u in unmet]
