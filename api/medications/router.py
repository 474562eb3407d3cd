from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Response

from api.audit import AuditDep
from api.db import DbSession
from api.etag import set_etag
from api.medications import service
from api.medications.schemas import MedicationListPut, MedicationListRead
from api.openapi import PROBLEMS, problems
from api.pagination import Cursor, Limit, Page

router = APIRouter(
    prefix="/v1/patients/{patient_id}/medications", tags=["medication lists"], responses=PROBLEMS
)


@router.get(
    "",
    response_model=MedicationListRead,
    summary="The patient's current medication list (version 0: none recorded)",
    responses=problems(404),
)
async def read_list(patient_id: str, db: DbSession, audit: AuditDep, response: Response) -> Any:
    out = await service.read_list(db, audit, patient_id)
    set_etag(response, out["version"])
    return out


@router.put(
    "",
    response_model=MedicationListRead,
    summary="Replace the medication list (a new version; If-Match honoured)",
    responses=problems(404, 409, 412, 422),
)
async def put_list(
    patient_id: str,
    body: MedicationListPut,
    db: DbSession,
    audit: AuditDep,
    response: Response,
    if_match: Annotated[str | None, Header()] = None,
) -> Any:
    out = await service.put_list(db, audit, patient_id, body, if_match)
    set_etag(response, out["version"])
    return out


@router.get(
    "/history",
    response_model=Page[MedicationListRead],
    summary="Every version of the medication list, newest first",
    responses=problems(404),
)
async def history(
    patient_id: str, db: DbSession, audit: AuditDep, limit: Limit = 50, cursor: Cursor = None
) -> Any:
    rows, next_cursor = await service.list_history(
        db, audit, patient_id, limit=limit, cursor=cursor
    )
    return Page(items=[MedicationListRead.model_validate(r) for r in rows], next_cursor=next_cursor)
