from __future__ import annotations

from typing import Annotated, Any, get_args

from fastapi import APIRouter, Header, Query, Request, Response, status

from api.audit import AuditDep
from api.csv_export import csv_response, wants_csv
from api.db import DbSession
from api.deps import AppSettings
from api.errors import ValidationFailed, field_error
from api.etag import set_etag
from api.openapi import PROBLEMS, problems
from api.pagination import Cursor, Limit, Page
from api.people import validate_named
from api.sessions import service
from api.sessions.record import session_record
from api.sessions.schemas import (
    RepinRequest,
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
    summary="Schedule a session (it pins the plan revision current at its check-in)",
    responses=problems(404, 409),
)
async def create_session(
    body: SessionCreate,
    db: DbSession,
    audit: AuditDep,
    response: Response,
    settings: AppSettings,
) -> SessionRead:
    session = await service.create_session(db, audit, body, settings=settings)
    set_etag(response, session.version)
    return await validate_named(db, SessionRead, await session_record(db, session))


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
    status: Annotated[
        str | None,
        Query(
            description="One status or several, comma-separated (e.g. checked_in,dosing)",
            examples=["dosing,monitoring"],
        ),
    ] = None,
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
        status=_statuses(status),
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


def _statuses(raw: str | None) -> list[str] | None:
    """``?status=a,b``: the statuses asked for (422 naming any that does not exist)."""
    if raw is None:
        return None
    wanted = [s.strip() for s in raw.split(",")]
    known = get_args(SessionStatus)
    unknown = [s for s in wanted if s not in known]
    if unknown:
        raise ValidationFailed(
            [
                field_error(
                    ["query", "status"],
                    f"unknown status {', '.join(repr(u) for u in unknown)}; one or more of "
                    f"{', '.join(known)}, comma-separated",
                )
            ]
        )
    return wanted


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
        "409 with `allowed` for a move the status machine does not allow; 409 with `code` and "
        "`unmet` when a gate is not met (each item says whether it is `overridable`: a "
        "clinician's `override_reason` passes the step only when every item is; anyone else's "
        "`override_reason` is 403); `discharge_type: against_advice` with a `reason` records "
        "every unmet item and blocks nothing; 412 when `If-Match` no longer matches."
    ),
    responses=problems(403, 404, 409, 412),
)
async def transition(
    session_id: str,
    body: TransitionRequest,
    db: DbSession,
    audit: AuditDep,
    response: Response,
    settings: AppSettings,
    if_match: Annotated[str | None, Header()] = None,
) -> SessionRead:
    session = await service.transition(db, audit, session_id, body, if_match, settings=settings)
    set_etag(response, session.version)
    return await validate_named(db, SessionRead, await session_record(db, session))


@router.post(
    "/{session_id}/repin",
    response_model=SessionRead,
    summary="Re-pin a checked-in session to its plan's current revision",
    description=(
        "Recomputes the dose from the check-in weight (or `weight_kg`). Only in `checked_in` "
        "(409 otherwise); 409 `plan_discontinued`, `missing_weight`, `missing_height`; "
        "already current is a no-op 200."
    ),
    responses=problems(404, 409, 412),
)
async def repin(
    session_id: str,
    body: RepinRequest,
    db: DbSession,
    audit: AuditDep,
    response: Response,
    settings: AppSettings,
    if_match: Annotated[str | None, Header()] = None,
) -> SessionRead:
    session = await service.repin(db, audit, session_id, body, if_match, settings=settings)
    set_etag(response, session.version)
    return SessionRead.model_validate(await session_record(db, session))


@router.get(
    "/{session_id}/readiness",
    summary="Both gates evaluated as of now, changing nothing",
    responses=problems(404),
)
async def readiness(
    session_id: str, db: DbSession, audit: AuditDep, settings: AppSettings
) -> dict[str, Any]:
    return await service.readiness(db, audit, session_id, settings=settings)
