from __future__ import annotations

from fastapi import APIRouter, status

from api.administrations import service
from api.administrations.schemas import (
    AdministrationCreate,
    AdministrationList,
    AdministrationRead,
)
from api.audit import AuditDep
from api.db import DbSession
from api.deps import ClinicTz
from api.openapi import PROBLEMS, problems
from api.pagination import Cursor, Limit

router = APIRouter(
    prefix="/v1/sessions/{session_id}/administrations",
    tags=["administrations"],
    responses=PROBLEMS,
)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=AdministrationRead,
    summary="Record a dose given (and any waste, with its witness)",
    description=(
        "409 when the session is not dosing or monitoring (a dose follows the dosing "
        "transition and its pre-dose gate), when medication or route differ from the session's "
        "plan revision, or when the session total would exceed the planned dose without "
        "`override_reason` (a clinician's; a nurse's override is 403). 422 for a dose started "
        "outside the session's dosing window, esketamine doses that are not whole 28 mg "
        "devices, amounts that do not add up (what was drawn and not given must be recorded "
        "as witnessed waste), lots expired on the clinic's date, and waste without a witness "
        "who is another nurse or clinician."
    ),
    responses=problems(403, 404, 409),
)
async def record_administration(
    session_id: str, body: AdministrationCreate, db: DbSession, audit: AuditDep, tz: ClinicTz
) -> AdministrationRead:
    row = await service.record_administration(db, audit, session_id, body, clinic_tz=tz)
    return AdministrationRead.model_validate(row)


@router.get(
    "",
    response_model=AdministrationList,
    summary="Doses given in a session, in order, with the total against the planned dose",
    responses=problems(404),
)
async def list_administrations(
    session_id: str, db: DbSession, audit: AuditDep, limit: Limit = 50, cursor: Cursor = None
) -> AdministrationList:
    page = await service.list_administrations(db, audit, session_id, limit=limit, cursor=cursor)
    return AdministrationList.model_validate(page)
