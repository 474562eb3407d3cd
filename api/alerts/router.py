from __future__ import annotations

from fastapi import APIRouter

from api.alerts import service
from api.alerts.schemas import AcknowledgeRequest, AlertRead, AlertSeverity, AlertStatus
from api.audit import AuditDep
from api.db import DbSession
from api.openapi import PROBLEMS, problems
from api.pagination import Cursor, Limit, Page

router = APIRouter(tags=["alerts"], responses=PROBLEMS)


@router.get(
    "/v1/alerts",
    response_model=Page[AlertRead],
    summary="The nursing-station board: alerts, newest first (e.g. ?status=open)",
    description=(
        "Alerts are raised by the server when an intra- or post-dose reading is outside the "
        "session's alert limits (the plan revision it pinned), one per reading, and when PHQ-9 "
        "item 9 is above 0. Severity: SpO2 below `spo2_min` and PHQ-9 item 9 are always "
        "critical; otherwise critical when the reading is at least a margin beyond its limit "
        "(systolic +20, diastolic +10, heart rate −10 / +30, respiratory rate −2, EtCO2 +10), "
        "else warning; high respiratory rate and temperature are warnings only. Open critical "
        "alerts block discharge until acknowledged; retracting a reading resolves its alert."
    ),
)
async def list_alerts(
    db: DbSession,
    audit: AuditDep,
    status: AlertStatus | None = None,
    severity: AlertSeverity | None = None,
    session_id: str | None = None,
    patient_id: str | None = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[AlertRead]:
    rows, next_cursor = await service.list_alerts(
        db,
        audit,
        status=status,
        severity=severity,
        session_id=session_id,
        patient_id=patient_id,
        limit=limit,
        cursor=cursor,
    )
    return Page(items=[AlertRead.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.get(
    "/v1/sessions/{session_id}/alerts",
    response_model=Page[AlertRead],
    summary="A session's alerts, newest first",
    responses=problems(404),
)
async def list_session_alerts(
    session_id: str,
    db: DbSession,
    audit: AuditDep,
    status: AlertStatus | None = None,
    severity: AlertSeverity | None = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[AlertRead]:
    rows, next_cursor = await service.list_session_alerts(
        db, audit, session_id, status=status, severity=severity, limit=limit, cursor=cursor
    )
    return Page(items=[AlertRead.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.post(
    "/v1/alerts/{alert_id}/acknowledge",
    response_model=AlertRead,
    summary="Acknowledge an open alert (nurse or clinician); records who and when",
    description="409 when the alert is already acknowledged or resolved.",
    responses=problems(403, 404, 409),
)
async def acknowledge(
    alert_id: str, body: AcknowledgeRequest, db: DbSession, audit: AuditDep
) -> AlertRead:
    return AlertRead.model_validate(await service.acknowledge_alert(db, audit, alert_id, body.note))
