from __future__ import annotations

from typing import Any

from fastapi import APIRouter, status

from api.audit import AuditDep
from api.db import DbSession
from api.deps import AppSettings
from api.openapi import PROBLEMS, problems
from api.pagination import Cursor, Limit, Page
from api.screenings import service
from api.screenings.schemas import ScreeningCreate, ScreeningRead

router = APIRouter(
    prefix="/v1/patients/{patient_id}/screenings", tags=["screenings"], responses=PROBLEMS
)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=ScreeningRead,
    summary="Record a screening (clinician); it supersedes the last one",
    description=(
        "A label contraindication or pregnancy `present` allows only `not_eligible`; `unknown` "
        "on any item, or another precaution `present`, rules out plain `eligible` (422 naming "
        "the items). `valid_until` defaults to the screening date + VIGIL_SCREENING_VALID_DAYS."
    ),
    responses=problems(403, 404, 422),
)
async def record_screening(
    patient_id: str, body: ScreeningCreate, db: DbSession, audit: AuditDep, settings: AppSettings
) -> Any:
    return await service.record_screening(
        db, audit, patient_id, body, valid_days=settings.screening_valid_days
    )


@router.get(
    "",
    response_model=Page[ScreeningRead],
    summary="A patient's screenings, newest first",
    responses=problems(404),
)
async def list_screenings(
    patient_id: str, db: DbSession, audit: AuditDep, limit: Limit = 50, cursor: Cursor = None
) -> Any:
    rows, next_cursor = await service.list_screenings(
        db, audit, patient_id, limit=limit, cursor=cursor
    )
    return Page(items=[ScreeningRead.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.get(
    "/current",
    response_model=ScreeningRead,
    summary="The patient's current screening (latest by screened_at); 404 when none",
    responses=problems(404),
)
async def current_screening(patient_id: str, db: DbSession, audit: AuditDep) -> Any:
    return await service.read_current(db, audit, patient_id)
