from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy import false, select

from api.audit import AuditDep
from api.db import DbSession
from api.openapi import PROBLEMS
from api.pagination import Cursor, Limit, Page, cut_page, keyset
from api.types import Id, ReadModel, Timestamp, parse_id
from models import AuditEvent

router = APIRouter(prefix="/v1/audit-events", tags=["audit"], responses=PROBLEMS)


class AuditEventRead(ReadModel):
    id: Id
    at: datetime
    actor_id: str | None
    role: str | None
    action: str
    resource_type: str
    resource_id: str | None
    patient_id: Id | None
    client_address: str | None
    request_id: str | None
    outcome: str
    detail: str | None


@router.get(
    "",
    response_model=Page[AuditEventRead],
    summary="The audit trail, newest first (each reading of it is itself audited)",
)
async def list_audit_events(
    db: DbSession,
    audit: AuditDep,
    patient_id: str | None = None,
    actor_id: str | None = None,
    from_: Annotated[Timestamp | None, Query(alias="from")] = None,
    to: Timestamp | None = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[AuditEventRead]:
    stmt = select(AuditEvent)
    filters = {"patient_id": patient_id, "actor_id": actor_id, "from": from_, "to": to}
    audit.record(
        "read",
        "audit_event",
        None,
        patient_id=parse_id(patient_id) if patient_id else None,
        detail=" ".join(
            f"{k}={v.isoformat() if isinstance(v, datetime) else v}"
            for k, v in filters.items()
            if v is not None
        )[:500]
        or None,
    )
    if patient_id is not None:
        pid = parse_id(patient_id)
        stmt = stmt.where(AuditEvent.patient_id == pid) if pid else stmt.where(false())
    if actor_id is not None:
        stmt = stmt.where(AuditEvent.actor_id == actor_id)
    if from_ is not None:
        stmt = stmt.where(AuditEvent.at >= from_)
    if to is not None:
        stmt = stmt.where(AuditEvent.at < to)
    stmt = keyset(
        stmt,
        cursor=cursor,
        limit=limit,
        sort=AuditEvent.at,
        tiebreak=AuditEvent.id,
        descending=True,
    )
    rows, next_cursor = cut_page(
        list((await db.scalars(stmt)).all()), limit, lambda r: (r.at, r.id)
    )
    return Page(items=[AuditEventRead.model_validate(r) for r in rows], next_cursor=next_cursor)
