"""The day board (SPEC §13): every session of one clinic day, with what a station shows per
chair, in a fixed number of queries however many sessions the day has.

Which sessions belong to a day: those scheduled in it or checked in during it (clinic time,
``VIGIL_CLINIC_TZ``), and on today's board every session still open (checked in, dosing or
monitoring) whenever it started, so that nobody in a chair drops off the screen at midnight.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from api.audit import Audit
from api.clinical.gates import Unmet
from api.clinical.overdue import DEFAULT_VITALS_INTERVAL_MINUTES, vitals_due_at
from api.clinical.vitals import VitalCode
from api.config import Settings
from api.plans.limits import thresholds_for
from api.plans.service import revision_in_force_sql
from api.sessions import gates
from models import (
    Administration,
    Alert,
    DosingPlan,
    DosingPlanRevision,
    Observation,
    Patient,
    TreatmentSession,
)

OPEN_STATUSES = ("checked_in", "dosing", "monitoring")


def day_bounds(day: date, tz: tzinfo) -> tuple[datetime, datetime]:
    """The clinic day ``day`` as a UTC interval [start, end) (23 or 25 hours around DST)."""
    start = datetime.combine(day, time(0), tzinfo=tz)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz)
    return start.astimezone(UTC), end.astimezone(UTC)


async def board(
    db: AsyncSession,
    audit: Audit,
    *,
    day: date | None,
    tz: tzinfo,
    settings: Settings,
    now: datetime | None = None,
) -> dict[str, Any]:
    now = now or datetime.now(UTC)
    today = now.astimezone(tz).date()
    day = day or today
    start, end = day_bounds(day, tz)

    in_day = or_(
        and_(TreatmentSession.scheduled_at >= start, TreatmentSession.scheduled_at < end),
        and_(TreatmentSession.checked_in_at >= start, TreatmentSession.checked_in_at < end),
    )
    if day == today:
        in_day = or_(in_day, TreatmentSession.status.in_(OPEN_STATUSES))
    # 1. the sessions, their patients and the plan revisions they use
    rows = (
        await db.execute(
            select(TreatmentSession, Patient, DosingPlanRevision)
            .join(Patient, Patient.id == TreatmentSession.patient_id)
            .join(DosingPlan, DosingPlan.id == TreatmentSession.plan_id)
            .join(
                DosingPlanRevision,
                and_(
                    DosingPlanRevision.plan_id == TreatmentSession.plan_id,
                    DosingPlanRevision.revision == revision_in_force_sql(),
                ),
            )
            .where(in_day)
            .order_by(TreatmentSession.scheduled_at, TreatmentSession.id)
        )
    ).all()
    ids = [s.id for s, _, _ in rows]
    latest = await _latest_vitals(db, ids)  # 2
    open_alerts = await _open_alerts_by_severity(db, ids)  # 3
    first_doses = await _first_doses(db, ids)  # 4
    monitoring = [(s, r) for s, _, r in rows if s.status == "monitoring"]
    discharge = await gates.discharge_unmet_many(db, monitoring, now, settings=settings)  # 5-7

    items = []
    for session, patient, revision in rows:
        audit.record("read", "session", session.id, patient_id=patient.id)
        vitals = latest.get(session.id, {})
        first_dose = first_doses.get(session.id) or session.dosing_started_at
        thresholds = thresholds_for(revision, settings.thresholds)
        bp = vitals.get(VitalCode.systolic_bp.value)
        items.append(
            {
                "session_id": session.id,
                "status": session.status,
                "location": session.location,
                "scheduled_at": session.scheduled_at,
                "checked_in_at": session.checked_in_at,
                "dosing_started_at": session.dosing_started_at,
                "ended_at": session.ended_at,
                "version": session.version,
                "patient": {
                    "id": patient.id,
                    "name": f"{patient.given_name} {patient.family_name}",
                    "given_name": patient.given_name,
                    "family_name": patient.family_name,
                    "mrn": patient.mrn,
                },
                "medication": revision.medication,
                "route": revision.route,
                "planned_dose_mg": session.planned_dose_mg,
                "first_dose_at": first_dose,
                "minutes_since_first_dose": (
                    int((now - first_dose).total_seconds() // 60)
                    if first_dose is not None and session.ended_at is None
                    else None
                ),
                "latest_vitals": vitals,
                "limits": thresholds,
                "open_alerts": open_alerts.get(session.id, {"critical": 0, "warning": 0}),
                "discharge": _discharge_summary(discharge.get(session.id)),
                "vitals_due_at": vitals_due_at(
                    status=session.status,
                    medication=revision.medication,
                    dosing_started_at=session.dosing_started_at,
                    first_administration_at=first_dose,
                    latest_bp_at=bp["measured_at"] if bp else None,
                    interval_minutes=float(
                        thresholds.get("vitals_interval_minutes", DEFAULT_VITALS_INTERVAL_MINUTES)
                    ),
                ),
            }
        )
    patient_alerts = await _patient_alerts(db, audit)  # 8
    return {
        "date": day,
        "time_zone": str(tz),
        "generated_at": now,
        "sessions": items,
        "patient_alerts": patient_alerts,
    }


def _discharge_summary(unmet: Sequence[Unmet] | None) -> dict[str, Any] | None:
    """Discharge readiness of a session in monitoring (None in any other status)."""
    if unmet is None:
        return None
    items = gates.as_dicts(unmet)
    earliest = next(
        (u.get("earliest_at") for u in items if u.get("code") == "min_monitoring"), None
    )
    return {
        "ready": not items,
        "first_unmet": str(items[0]["message"]) if items else None,
        "unmet_count": len(items),
        "earliest_at": earliest,
    }


async def _latest_vitals(
    db: AsyncSession, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, dict[str, dict[str, Any]]]:
    """The most recent non-retracted reading of each vital of each session (one query)."""
    if not ids:
        return {}
    ranked = (
        select(
            Observation.session_id,
            Observation.code,
            Observation.value,
            Observation.unit,
            Observation.measured_at,
            func.row_number()
            .over(
                partition_by=(Observation.session_id, Observation.code),
                order_by=(
                    Observation.measured_at.desc(),
                    Observation.recorded_at.desc(),
                    Observation.id.desc(),
                ),
            )
            .label("rank"),
        )
        .where(Observation.session_id.in_(ids), Observation.status == "final")
        .subquery()
    )
    out: dict[uuid.UUID, dict[str, dict[str, Any]]] = {}
    for sid, code, value, unit, measured_at in await db.execute(
        select(
            ranked.c.session_id, ranked.c.code, ranked.c.value, ranked.c.unit, ranked.c.measured_at
        ).where(ranked.c.rank == 1)
    ):
        out.setdefault(sid, {})[code] = {"value": value, "unit": unit, "measured_at": measured_at}
    return out


async def _open_alerts_by_severity(
    db: AsyncSession, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, dict[str, int]]:
    if not ids:
        return {}
    out: dict[uuid.UUID, dict[str, int]] = {}
    for sid, severity, count in await db.execute(
        select(Alert.session_id, Alert.severity, func.count())
        .where(Alert.session_id.in_(ids), Alert.status == "open")
        .group_by(Alert.session_id, Alert.severity)
    ):
        if sid is not None:  # filtered by session: never None here
            out.setdefault(sid, {"critical": 0, "warning": 0})[severity] = int(count)
    return out


async def _first_doses(db: AsyncSession, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, datetime]:
    if not ids:
        return {}
    rows = await db.execute(
        select(Administration.session_id, func.min(Administration.started_at))
        .where(Administration.session_id.in_(ids), Administration.not_retracted())
        .group_by(Administration.session_id)
    )
    return {sid: _aware(first) for sid, first in rows if first is not None}


def _aware(value: datetime) -> datetime:
    """``min()`` over a column comes back without its column type on SQLite (a naive UTC
    string parsed by the driver): label it UTC as the column type would."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


async def _patient_alerts(db: AsyncSession, audit: Audit) -> list[dict[str, Any]]:
    """Open alerts that belong to a patient and no session (a PHQ-9 between sessions, SPEC
    §12), with the patient's name and MRN. Empty while alerts cannot exist without a session
    (the schema before ``alerts.patient_id``)."""
    columns = Alert.__table__.c
    if "patient_id" not in columns or not columns["session_id"].nullable:
        return []
    patient_id = columns["patient_id"]
    rows = await db.execute(
        select(Alert, Patient)
        .join(Patient, Patient.id == patient_id)
        .where(columns["session_id"].is_(None), Alert.status == "open")
        .order_by(Alert.created_at.desc(), Alert.id)
        .limit(200)
    )
    out = []
    for alert, patient in rows:
        audit.record("read", "alert", alert.id, patient_id=patient.id)
        out.append(
            {
                "id": alert.id,
                "kind": alert.kind,
                "severity": alert.severity,
                "status": alert.status,
                "message": alert.message,
                "created_at": alert.created_at,
                "patient": {
                    "id": patient.id,
                    "name": f"{patient.given_name} {patient.family_name}",
                    "mrn": patient.mrn,
                },
            }
        )
    return out
