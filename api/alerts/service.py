"""Alerts: raised on ingest and by PHQ-9 item 9, acknowledged by staff, resolved by retraction
(of the reading or the assessment that raised them).

Rules (which readings alert, and how severe) live in :mod:`api.clinical.alerts`; this module only
loads the session's pinned limits, stores decisions and answers queries. One reading raises at
most one alert: the UNIQUE constraint on ``alerts.observation_id`` with ON CONFLICT DO NOTHING,
so re-evaluating a reading (a back-dated transition, a retried batch) never raises it twice.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, false, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from api.audit import Audit
from api.clinical.alerts import AlertDecision, evaluate_reading
from api.clinical.phase import Phase, derive_phase
from api.errors import Conflict, NotFound
from api.live.publishers import publish_alerts, publish_patient_alerts
from api.pagination import cut_page, keyset
from api.plans.service import pinned_revision
from api.sessions.gates import thresholds_for
from api.types import parse_id
from models import Alert, Observation, TreatmentSession
from models.base import utcnow

_COLUMNS = [c.key for c in Alert.__table__.columns]


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


async def pinned_limits(db: AsyncSession, session: TreatmentSession) -> dict[str, float]:
    """The alert limits of the plan revision ``session`` pinned (never the plan's current one)."""
    return thresholds_for(await pinned_revision(db, session.plan_id, session.plan_revision))


# A reading's phase (value or member) -> the member, without constructing the enum per reading.
_PHASES: dict[str, Phase] = {phase: phase for phase in Phase}


async def raise_alerts_for_readings(
    db: AsyncSession, session: TreatmentSession, readings: Sequence[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Evaluate newly stored readings (each with ``phase``) against the session's pinned limits;
    store one alert per reading outside them in one INSERT. Returns the alerts created."""
    candidates = [r for r in readings if r.get("phase") in (Phase.intra, Phase.post)]
    if not candidates:
        return []
    thresholds = await pinned_limits(db, session)
    rows = []
    for reading in candidates:
        decision = evaluate_reading(
            reading["code"], reading["value"], _PHASES[reading["phase"]], thresholds
        )
        if decision is not None:
            rows.append(_row(session, decision, observation_id=reading["id"]))
    if not rows:
        return []
    # A list of rows against one cached statement (insertmanyvalues: still one multi-row INSERT
    # per round trip) rather than .values(rows), which is compiled afresh for every batch.
    stmt = _INSERT_ALERTS[db.get_bind().dialect.name]
    created = {r[0] for r in await db.execute(stmt, rows)}
    new = [r for r in rows if r["id"] in created]
    publish_alerts(db, session, new)
    return new


def _insert_alerts(insert: Any) -> Any:
    table = Alert.__table__
    return (
        insert(table)
        .on_conflict_do_nothing(index_elements=["observation_id"])
        .returning(table.c.id)
    )


_INSERT_ALERTS = {
    "postgresql": _insert_alerts(postgresql.insert),
    "sqlite": _insert_alerts(sqlite.insert),
}


async def alerts_after_transition(
    db: AsyncSession, session: TreatmentSession, target: str, at: datetime
) -> None:
    """A back-dated move to dosing or monitoring turns readings already stored after ``at`` into
    intra/post readings: evaluate them now (those already alerted are skipped by the UNIQUE)."""
    if target not in ("dosing", "monitoring"):
        return
    stored = await db.execute(
        select(Observation.id, Observation.code, Observation.value, Observation.measured_at).where(
            Observation.session_id == session.id,
            Observation.status == "final",
            Observation.measured_at >= at,
        )
    )
    readings = [
        {
            "id": oid,
            "code": code,
            "value": value,
            "phase": derive_phase(measured_at, session.dosing_started_at, session.dosing_ended_at),
        }
        for oid, code, value, measured_at in stored
    ]
    await raise_alerts_for_readings(db, session, readings)


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
    resolved = await db.execute(
        update(Alert)
        .where(source, Alert.status != "resolved")
        .values(status="resolved", resolved_at=utcnow(), resolution=resolution)
        .returning(*Alert.__table__.c)
        .execution_options(synchronize_session=False)
    )
    changed = [dict(row) for row in resolved.mappings()]
    if session is not None:
        publish_alerts(db, session, changed)
    elif patient_id is not None:
        publish_patient_alerts(db, patient_id, changed)


async def open_critical_alert_ids_for_session(db: AsyncSession, session_id: uuid.UUID) -> list[str]:
    rows = await db.scalars(
        select(Alert.id)
        .where(
            Alert.session_id == session_id,
            Alert.status == "open",
            Alert.severity == "critical",
        )
        .order_by(Alert.created_at, Alert.id)
    )
    return [str(r) for r in rows]


async def alert_counts_for_session(db: AsyncSession, session_id: uuid.UUID) -> dict[str, int]:
    counts = {"open": 0, "acknowledged": 0, "resolved": 0, "critical_open": 0}
    rows = await db.execute(
        select(Alert.status, Alert.severity, func.count())
        .where(Alert.session_id == session_id)
        .group_by(Alert.status, Alert.severity)
    )
    for status, severity, n in rows:
        counts[status] += n
        if status == "open" and severity == "critical":
            counts["critical_open"] += n
    return counts


async def alert_kinds_for_session(db: AsyncSession, session_id: uuid.UUID) -> list[str]:
    """Kinds of the session's alerts that still stand (resolved by retraction excluded)."""
    rows = await db.scalars(
        select(Alert.kind).where(Alert.session_id == session_id, Alert.status != "resolved")
    )
    return list(rows)


def _filtered(
    stmt: Select[Alert, TreatmentSession],
    *,
    status: str | None,
    severity: str | None,
    session_id: str | None,
) -> Select[Alert, TreatmentSession]:
    if status is not None:
        stmt = stmt.where(Alert.status == status)
    if severity is not None:
        stmt = stmt.where(Alert.severity == severity)
    if session_id is not None:
        sid = parse_id(session_id)
        stmt = stmt.where(Alert.session_id == sid) if sid else stmt.where(false())
    return stmt


async def list_alerts(
    db: AsyncSession,
    audit: Audit,
    *,
    status: str | None,
    severity: str | None,
    session_id: str | None,
    limit: int,
    cursor: str | None,
    patient_id: str | None = None,
) -> tuple[list[dict[str, Any]], str | None]:
    """The nursing-station board: newest first, keyset on (created_at, id) descending."""
    stmt: Select[Alert, TreatmentSession] = select(Alert, TreatmentSession).outerjoin(
        TreatmentSession, TreatmentSession.id == Alert.session_id
    )
    stmt = _filtered(stmt, status=status, severity=severity, session_id=session_id)
    if patient_id is not None:
        pid = parse_id(patient_id)
        stmt = stmt.where(Alert.patient_id == pid) if pid else stmt.where(false())
    stmt = keyset(
        stmt,
        cursor=cursor,
        limit=limit,
        sort=Alert.created_at,
        tiebreak=Alert.id,
        descending=True,
    )
    pairs, next_cursor = cut_page(
        [(a, s) for a, s in (await db.execute(stmt)).all()],
        limit,
        lambda pair: (pair[0].created_at, pair[0].id),
    )
    for alert, _ in pairs:
        audit.record("read", "alert", alert.id, patient_id=alert.patient_id)
    return [alert_dict(a, s) for a, s in pairs], next_cursor


async def list_session_alerts(
    db: AsyncSession,
    audit: Audit,
    session_id: str,
    *,
    status: str | None,
    severity: str | None,
    limit: int,
    cursor: str | None,
) -> tuple[list[dict[str, Any]], str | None]:
    from api.sessions.service import get_session

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
    found = (
        (
            await db.execute(
                select(Alert, TreatmentSession)
                .outerjoin(TreatmentSession, TreatmentSession.id == Alert.session_id)
                .where(Alert.id == aid)
            )
        ).first()
        if aid
        else None
    )
    if found is None:
        raise NotFound(f"No alert with id {alert_id}.")
    alert, session = found
    if alert.status != "open":
        raise Conflict(_not_open_message(alert), alert_status=alert.status)
    result = await db.execute(
        update(Alert)
        .where(Alert.id == alert.id, Alert.status == "open")
        .values(
            status="acknowledged",
            acknowledged_at=utcnow(),
            acknowledged_by=audit.actor.id,
            acknowledge_note=note,
        )
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        await db.refresh(alert)
        raise Conflict(_not_open_message(alert), alert_status=alert.status)
    await db.refresh(alert)
    if session is not None:
        publish_alerts(db, session, [alert])
    else:
        publish_patient_alerts(db, alert.patient_id, [alert])
    audit.record("acknowledge", "alert", alert.id, patient_id=alert.patient_id)
    return alert_dict(alert, session)


def _not_open_message(alert: Alert) -> str:
    if alert.status == "acknowledged":
        at = alert.acknowledged_at.isoformat() if alert.acknowledged_at else "earlier"
        return f"This alert was already acknowledged by {alert.acknowledged_by} at {at}."
    why = alert.resolution or "its source was retracted"
    return f"This alert is resolved ({why}); there is nothing to acknowledge."
