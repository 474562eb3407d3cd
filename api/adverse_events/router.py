from __future__ import annotations

from typing import Any

from fastapi import APIRouter, status

from api.adverse_events import service
from api.adverse_events.schemas import AdverseEventCreate, AdverseEventRead, ResolveRequest
from api.audit import AuditDep
from api.db import DbSession
from api.openapi import PROBLEMS, problems
from api.vitals.schemas import RetractRequest

router = APIRouter(
    prefix="/v1/sessions/{session_id}/adverse-events", tags=["adverse events"], responses=PROBLEMS
)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=AdverseEventRead,
    summary="Record an adverse event (also after discharge)",
    description="`severe` and `life_threatening` raise a critical alert (`alert_id`).",
    responses=problems(404, 409, 422),
)
async def record(session_id: str, body: AdverseEventCreate, db: DbSession, audit: AuditDep) -> Any:
    return await service.record_adverse_event(db, audit, session_id, body)


@router.get(
    "",
    response_model=list[AdverseEventRead],
    summary="The session's adverse events, by onset",
    responses=problems(404),
)
async def list_(
    session_id: str, db: DbSession, audit: AuditDep, include_retracted: bool = False
) -> Any:
    return await service.list_adverse_events(
        db, audit, session_id, include_retracted=include_retracted
    )


@router.post(
    "/{adverse_event_id}/resolve",
    response_model=AdverseEventRead,
    summary="Record that the adverse event resolved (default now)",
    responses=problems(404, 409, 422),
)
async def resolve(
    session_id: str, adverse_event_id: str, body: ResolveRequest, db: DbSession, audit: AuditDep
) -> Any:
    return await service.resolve_adverse_event(db, audit, session_id, adverse_event_id, body)


@router.post(
    "/{adverse_event_id}/retract",
    response_model=AdverseEventRead,
    summary="Retract a mistaken entry (entered-in-error; its alert is resolved)",
    responses=problems(404, 409),
)
async def retract(
    session_id: str, adverse_event_id: str, body: RetractRequest, db: DbSession, audit: AuditDep
) -> Any:
    return await service.retract_adverse_event(db, audit, session_id, adverse_event_id, body.reason)
