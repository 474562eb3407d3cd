"""Loads what the pre-dose and discharge gates need and runs the pure gate rules."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

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
    return evaluate_predose_gate(at=at, readings=readings, thresholds=thresholds_for(revision))


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
    return unmet + await waste_unmet(db, session)


async def waste_unmet(db: AsyncSession, session: TreatmentSession) -> list[Unmet]:
    """``waste_unwitnessed``: every waste of the session still waiting for its witness."""
    from api.administrations.service import unwitnessed_waste_for_session

    return await unwitnessed_waste_for_session(
        db, session.id, tz=ZoneInfo(get_settings().clinic_tz)
    )


def as_dicts(unmet: Sequence[Unmet]) -> list[dict[str, object]]:
    return [u.as_dict() for u in unmet]


async def discharge_unmet_many(
    db: AsyncSession,
    sessions: Sequence[tuple[TreatmentSession, DosingPlanRevision]],
    at: datetime,
) -> dict[object, list[Unmet]]:
    """:func:`discharge_unmet` for many sessions at once, in a fixed number of queries (the day
    board): the same inputs, loaded for all the sessions together, and the same pure rule.
    ``tests/api/test_board.py`` checks that it agrees with ``/readiness`` item for item, so
    a new gate input added to :func:`discharge_unmet` must be loaded here too."""
    from api.alerts.service import open_critical_alert_ids_for_sessions
    from api.assessments.service import sedation_scores_for_sessions

    ids = [s.id for s, _ in sessions]
    if not ids:
        return {}
    rows = await db.execute(
        select(Observation.session_id, Observation.code, Observation.value, Observation.measured_at)
        .where(
            Observation.session_id.in_(ids),
            Observation.status == "final",
            Observation.code.in_(GATED_VITALS),
            Observation.measured_at <= at,
            Observation.measured_at >= at - timedelta(hours=24),
        )
        .order_by(Observation.measured_at, Observation.recorded_at, Observation.id)
    )
    readings: dict[object, list[GateReading]] = {sid: [] for sid in ids}
    for sid, code, value, measured_at in rows:
        readings[sid].append(GateReading(code=code, value=value, measured_at=measured_at))
    scores = await sedation_scores_for_sessions(db, ids)
    alerts = await open_critical_alert_ids_for_sessions(db, ids)
    return {
        session.id: evaluate_discharge_gate(
            at=at,
            dosing_started_at=session.dosing_started_at,
            readings=readings[session.id],
            sedation_scores=scores.get(session.id, []),
            open_critical_alert_ids=alerts.get(session.id, []),
            thresholds=thresholds_for(revision),
            min_monitoring_minutes=revision.min_monitoring_minutes,
        )
        for session, revision in sessions
    }
