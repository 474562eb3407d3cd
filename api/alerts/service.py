"""Alerts: raised on ingest and by PHQ-9 item 9, acknowledged by staff, resolved by retraction
(of the reading or the assessment that raised them).

Rules (which readings alert, and how severe) live in :mod:`api.clinical.alerts`; this module only
loads the session's pinned limits, stores decisions and answers queries. One reading raises at
most one alert: the UNIQUE constraint on ``alerts.observation_id`` with ON CONFLICT DO NOTHING,
so re-evaluating a reading (a back-dated transition, a retried batch) never raises it twice.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement
from sqlalchemy.ext.asyncio import AsyncSession

from api.alerts import repository
from api.alerts.events import publish_alerts, publish_patient_alerts
from api.audit import Audit
from api.clinical.alerts import AlertDecision, evaluate_reading
from api.clinical.labels import clinic_time
from api.clinical.overdue import OVERDUE_KIND
from api.clinical.phase import Phase, derive_phase
from api.config import clinic_zone
from api.errors import Conflict, NotFound, ValidationFailed, field_error
from api.people import add_names, names_of
from api.plans.limits import limits_in_force
from api.sessions.repository import get_session, readings_since
from api.types import parse_id
from models import Alert, TreatmentSession
from models.base import utcnow

_COLUMNS = [c.key for c in Alert.__table__.columns]


# A critical alert's acknowledgment says what was done (SPEC §1 reasons, §6).
CRITICAL_NOTE_MIN_LENGTH = 10
BP_CODES = ("systolic_bp", "diastolic_bp")


def alert_dict(alert: Alert, session: TreatmentSession | None = None) -> dict[str, Any]:
    out = {c: getattr(alert, c) for c in _COLUMNS}
    out["limit"] = out.pop("limit_value")
    out["location"] = session.location if session is not None else None
    return out


def _row(
    session: TreatmentSession | None,
    decision: AlertDecision,
    *,
    patient_id: uuid.UUID | None = None,
    **source: Any,
) -> dict[str, Any]:
    """An alert of ``session``, or (no session: an assessment between sessions) of the
    patient ``patient_id``."""
    return {
        "id": uuid.uuid4(),
        "session_id": session.id if session is not None else None,
        "patient_id": session.patient_id if session is not None else patient_id,
        "gap_started_at": None,
        "observation_id": source.get("observation_id"),
        "assessment_id": source.get("assessment_id"),
        "adverse_event_id": source.get("adverse_event_id"),
        "kind": decision.kind,
        "severity": decision.severity.value,
        "status": "open",
        "message": decision.message,
        "vital": decision.vital,
        "value": decision.value,
        "limit_value": decision.limit,
        "created_at": utcnow(),
    }


# A reading's phase (value or member) -> the member, without constructing the enum per reading.
_PHASES: dict[str, Phase] = {phase: phase for phase in Phase}


async def raise_alerts_for_readings(
    db: AsyncSession,
    session: TreatmentSession,
    readings: Sequence[dict[str, Any]],
    *,
    new_readings: bool = True,
    clinic_thresholds: Mapping[str, float] | None = None,
) -> list[dict[str, Any]]:
    """Evaluate newly stored readings of any phase (each with ``phase``) against the session's
    pinned limits; store one alert per reading outside them in one INSERT. A new blood pressure
    resolves the session's ``vitals_overdue`` alert of an earlier gap. Returns the alerts
    created. ``new_readings=False``: readings already stored, evaluated again (they close no
    gap)."""
    if not readings:
        return []
    if new_readings:
        await _resolve_overdue_by_bp(db, session, readings)
    thresholds = await limits_in_force(db, session, clinic_thresholds=clinic_thresholds)
    tz = clinic_zone()
    decided = []
    for reading in readings:
        decision = evaluate_reading(
            reading["code"], reading["value"], _PHASES[reading["phase"]], thresholds
        )
        if decision is not None:
            decided.append(reading)
    if not decided:
        return []
    names = {r["recorded_by"]: r["recorded_by_name"] for r in decided if r.get("recorded_by_name")}
    unnamed = {r.get("recorded_by") for r in decided} - set(names)
    if unnamed - {None}:
        names.update(await names_of(db, unnamed))
    rows = []
    for reading in decided:
        decision = evaluate_reading(
            reading["code"],
            reading["value"],
            _PHASES[reading["phase"]],
            thresholds,
            measured_at=reading.get("measured_at"),
            tz=tz,
            recorded_by_name=names.get(reading.get("recorded_by") or ""),
        )
        assert decision is not None
        rows.append(_row(session, decision, observation_id=reading["id"]))
    created = await repository.insert_reading_alerts(db, rows)
    new = [r for r in rows if r["id"] in created]
    publish_alerts(db, session, new)
    return new


async def _resolve_overdue_by_bp(
    db: AsyncSession, session: TreatmentSession, readings: Sequence[dict[str, Any]]
) -> None:
    """SPEC §6: the next blood pressure resolves the open ``vitals_overdue`` alert (of a gap that
    began before it was measured)."""
    times = [r["measured_at"] for r in readings if r.get("code") in BP_CODES]
    if not times:
        return
    latest = max(times)
    await _resolve(
        db,
        session,
        (Alert.session_id == session.id)
        & (Alert.kind == OVERDUE_KIND)
        & (Alert.gap_started_at < latest),
        f"blood pressure measured {clinic_time(latest, clinic_zone())}",
    )


async def resolve_overdue_of_ended_session(db: AsyncSession, session: TreatmentSession) -> None:
    """A session that ends resolves its own ``vitals_overdue`` alerts (SPEC §6)."""
    await _resolve(
        db,
        session,
        (Alert.session_id == session.id) & (Alert.kind == OVERDUE_KIND),
        f"session {session.status}",
    )


async def alerts_after_transition(
    db: AsyncSession,
    session: TreatmentSession,
    target: str,
    at: datetime,
    *,
    clinic_thresholds: Mapping[str, float] | None = None,
) -> None:
    """A session that ended resolves its ``vitals_overdue`` alerts. A back-dated move to dosing
    or monitoring re-labels readings already stored after ``at``: evaluate them again (those
    already alerted are skipped by the UNIQUE)."""
    if target in ("discharged", "cancelled", "transferred"):
        await resolve_overdue_of_ended_session(db, session)
        return
    if target not in ("dosing", "monitoring"):
        return
    stored = await readings_since(db, session.id, at)
    readings = [
        {
            "id": oid,
            "code": code,
            "value": value,
            "measured_at": measured_at,
            "phase": derive_phase(measured_at, session.dosing_started_at, session.dosing_ended_at),
        }
        for oid, code, value, measured_at in stored
    ]
    await raise_alerts_for_readings(
        db, session, readings, new_readings=False, clinic_thresholds=clinic_thresholds
    )


async def raise_assessment_alert(
    db: AsyncSession, session: TreatmentSession, assessment_id: uuid.UUID, decision: AlertDecision
) -> Alert:
    alert = Alert(**_row(session, decision, assessment_id=assessment_id))
    db.add(alert)
    await db.flush()
    publish_alerts(db, session, [alert])
    return alert


async def raise_patient_assessment_alert(
    db: AsyncSession, patient_id: uuid.UUID, assessment_id: uuid.UUID, decision: AlertDecision
) -> Alert:
    """An assessment taken between sessions (SPEC §12): the alert is the patient's, with no
    session; it shows on the board (``GET /v1/alerts``) and the clinic-wide stream."""
    alert = Alert(**_row(None, decision, patient_id=patient_id, assessment_id=assessment_id))
    db.add(alert)
    await db.flush()
    publish_patient_alerts(db, patient_id, [alert])
    return alert


async def raise_adverse_event_alert(
    db: AsyncSession,
    session: TreatmentSession,
    adverse_event_id: uuid.UUID,
    decision: AlertDecision,
) -> Alert:
    row = _row(session, decision, adverse_event_id=adverse_event_id)
    row.update(vital=None, value=None, limit_value=None)  # no reading behind it
    alert = Alert(**row)
    db.add(alert)
    await db.flush()
    publish_alerts(db, session, [alert])
    return alert


async def resolve_alerts_for_adverse_event(
    db: AsyncSession, session: TreatmentSession, adverse_event_id: uuid.UUID
) -> None:
    """A retracted adverse event no longer counts: its alert is resolved (kept on record)."""
    await _resolve(
        db, session, Alert.adverse_event_id == adverse_event_id, "adverse event retracted"
    )


async def resolve_alerts_for_observation(
    db: AsyncSession, session: TreatmentSession, observation_id: uuid.UUID
) -> None:
    """A retracted reading no longer counts: the alert it raised is resolved (kept on record),
    and the live streams hear of it."""
    await _resolve(db, session, Alert.observation_id == observation_id, "reading retracted")


async def resolve_alerts_for_assessment(
    db: AsyncSession, session: TreatmentSession, assessment_id: uuid.UUID
) -> None:
    """A retracted assessment (a mistyped PHQ-9 item 9) is resolved as a retracted reading's
    alert is."""
    await _resolve(db, session, Alert.assessment_id == assessment_id, "assessment retracted")


async def _resolve(
    db: AsyncSession,
    session: TreatmentSession | None,
    source: ColumnElement[bool],
    resolution: str,
    *,
    patient_id: uuid.UUID | None = None,
) -> None:
    changed = await add_names(db, await repository.resolve_where(db, source, resolution))
    if session is not None:
        publish_alerts(db, session, changed)
    elif patient_id is not None:
        publish_patient_alerts(db, patient_id, changed)


async def alert_counts_for_session(db: AsyncSession, session_id: uuid.UUID) -> dict[str, int]:
    counts = {"open": 0, "acknowledged": 0, "resolved": 0, "critical_open": 0}
    for status, severity, n in await repository.status_counts(db, session_id):
        counts[status] += n
        if status == "open" and severity == "critical":
            counts["critical_open"] += n
    return counts


async def alert_kinds_for_session(db: AsyncSession, session_id: uuid.UUID) -> list[str]:
    """Kinds of the session's alerts that still stand (resolved by retraction excluded)."""
    return await repository.standing_kinds(db, session_id)


async def list_alerts(
    db: AsyncSession,
    audit: Audit,
    *,
    status: Sequence[str] | None,
    severity: Sequence[str] | None,
    session_id: str | None,
    patient_id: str | None = None,
    limit: int,
    cursor: str | None,
) -> tuple[list[dict[str, Any]], str | None]:
    """The nursing-station board: newest first, keyset on (created_at, id) descending."""
    pairs, next_cursor = await repository.page_alerts(
        db,
        status=status,
        severity=severity,
        session_id=session_id,
        patient_id=patient_id,
        limit=limit,
        cursor=cursor,
    )
    for alert, _ in pairs:
        audit.record("read", "alert", alert.id, patient_id=alert.patient_id)
    return await add_names(db, [alert_dict(a, s) for a, s in pairs]), next_cursor


async def list_session_alerts(
    db: AsyncSession,
    audit: Audit,
    session_id: str,
    *,
    status: Sequence[str] | None,
    severity: Sequence[str] | None,
    limit: int,
    cursor: str | None,
) -> tuple[list[dict[str, Any]], str | None]:
    session = await get_session(db, session_id)
    rows, next_cursor = await list_alerts(
        db,
        audit,
        status=status,
        severity=severity,
        session_id=str(session.id),
        limit=limit,
        cursor=cursor,
    )
    if not rows:
        audit.record("read", "alert", None, patient_id=session.patient_id)
    return rows, next_cursor


async def acknowledge_alert(
    db: AsyncSession, audit: Audit, alert_id: str, note: str | None
) -> dict[str, Any]:
    aid = parse_id(alert_id)
    found = await repository.alert_with_session(db, aid) if aid else None
    if found is None:
        raise NotFound(f"No alert with id {alert_id}.")
    alert, session = found
    if alert.status != "open":
        raise Conflict(await _not_open_message(db, alert), alert_status=alert.status)
    if alert.severity == "critical" and len((note or "").strip()) < CRITICAL_NOTE_MIN_LENGTH:
        raise ValidationFailed(
            [
                field_error(
                    ["body", "note"],
                    f"a critical alert is acknowledged with a note of at least "
                    f"{CRITICAL_NOTE_MIN_LENGTH} characters saying what was done "
                    "(e.g. 'O2 given, SpO2 back to 97%')",
                )
            ]
        )
    if not await repository.acknowledge_if_open(db, alert, by=audit.actor.id, note=note):
        await db.refresh(alert)
        raise Conflict(await _not_open_message(db, alert), alert_status=alert.status)
    await db.refresh(alert)
    row = (await add_names(db, [alert_dict(alert, session)]))[0]
    if session is not None:
        publish_alerts(db, session, [row])
    else:
        publish_patient_alerts(db, alert.patient_id, [row])
    audit.record("acknowledge", "alert", alert.id, patient_id=alert.patient_id)
    return row


async def _not_open_message(db: AsyncSession, alert: Alert) -> str:
    if alert.status == "acknowledged":
        names = await names_of(db, {alert.acknowledged_by})
        who = names.get(alert.acknowledged_by or "", "someone")
        at = (
            clinic_time(alert.acknowledged_at, clinic_zone())
            if alert.acknowledged_at
            else "earlier"
        )
        return f"This alert was already acknowledged by {who} at {at}."
    why = alert.resolution or "its source was retracted"
    return f"This alert is resolved ({why}); there is nothing to acknowledge."
