from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, Response, status

from api.audit import AuditDep
from api.csv_export import csv_response, wants_csv
from api.db import DbSession
from api.etag import set_etag
from api.openapi import PROBLEMS, problems
from api.pagination import Cursor, Limit, Page
from api.people import validate_named
from api.sessions import service
from api.sessions.schemas import (
    SessionCreate,
    SessionListItem,
    SessionRead,
    SessionStatus,
    TransitionRequest,
)
from api.types import Timestamp

router = APIRouter(prefix="/v1/sessions", tags=["sessions"], responses=PROBLEMS)

CSV_CONTENT = {"text/csv": {"schema": {"type": "string"}}}


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=SessionRead,
    summary="Schedule a session (pins the plan's current revision)",
    responses=problems(404, 409),
)
async def create_session(
    body: SessionCreate, db: DbSession, audit: AuditDep, response: Response
) -> SessionRead:
    session = await service.create_session(db, audit, body)
    set_etag(response, session.version)
    return await validate_named(db, SessionRead, await service.session_record(db, session))


@router.get(
    "",
    response_model=Page[SessionListItem],
    summary="Session history and day board (newest scheduled first; CSV with Accept: text/csv)",
    responses={200: {"content": CSV_CONTENT}},
)
async def list_sessions(
    request: Request,
    db: DbSession,
    audit: AuditDep,
    patient_id: str | None = None,
    status: SessionStatus | None = None,
    location: Annotated[str | None, Query(max_length=64)] = None,
    from_: Annotated[Timestamp | None, Query(alias="from")] = None,
    to: Timestamp | None = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Any:
    rows, next_cursor = await service.list_sessions(
        db,
        audit,
        limit=limit,
        cursor=cursor,
        patient_id=patient_id,
        status=status,
        location=location,
        from_=from_,
        to=to,
    )
    items = [SessionListItem.model_validate(r) for r in rows]
    if wants_csv(request):
        return csv_response(
            list(SessionListItem.model_fields),
            (i.model_dump() for i in items),
            filename="sessions.csv",
            next_cursor=next_cursor,
        )
    return Page(items=items, next_cursor=next_cursor)


@router.get(
    "/{session_id}",
    response_model=SessionRead,
    summary="The whole session record",
    responses=problems(404),
)
async def read_session(
    session_id: str, db: DbSession, audit: AuditDep, response: Response
) -> SessionRead:
    record = await validate_named(
        db, SessionRead, await service.read_session(db, audit, session_id)
    )
    set_etag(response, record.version)
    return record


@router.post(
    "/{session_id}/transitions",
    response_model=SessionRead,
    summary="Move the session along its status machine",
    description=(
        "409 with `allowed` for a move the status machine does not allow; 409 with `unmet` "
        "when a gate is not met (a clinician may override with `override_reason`; a nurse's "
        "override is 403); 412 when `If-Match` no longer matches."
    ),
    responses=problems(403, 404, 409, 412),
)
async def transition(
    session_id: str,
    body: TransitionRequest,
    db: DbSession,
    audit: AuditDep,
    response: Response,
    if_match: Annotated[str | None, Header()] = None,
) -> SessionRead:
    session = await service.transition(db, audit, session_id, body, if_match)
    set_etag(response, session.version)
    return await validate_named(db, SessionRead, await service.session_record(db, session))


@router.get(
    "/{session_id}/readiness",
    summary="Both gates evaluated as of now, changing nothing",
    responses=problems(404),
)
async def readiness(session_id: str, db: DbSession, audit: AuditDep) -> dict[str, Any]:
    return await service.readiness(db, audit, session_id)
