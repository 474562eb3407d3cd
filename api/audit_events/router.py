from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.audit import AuditDep
from api.audit_events import service
from api.audit_events.schemas import AuditEventRead
from api.db import DbSession
from api.openapi import PROBLEMS
from api.pagination import Cursor, Limit, Page
from api.types import Timestamp

router = APIRouter(prefix="/v1/audit-events", tags=["audit"], responses=PROBLEMS)


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
    rows, next_cursor = await service.list_audit_events(
        db,
        audit,
        patient_id=patient_id,
        actor_id=actor_id,
        from_=from_,
        to=to,
        limit=limit,
        cursor=cursor,
    )
    return Page(items=[AuditEventRead.model_validate(r) for r in rows], next_cursor=next_cursor)
