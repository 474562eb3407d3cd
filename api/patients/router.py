from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query, Response, status

from api.audit import AuditDep
from api.db import DbSession
from api.etag import set_etag
from api.openapi import PROBLEMS, problems
from api.pagination import Cursor, Limit, Page
from api.patients import service
from api.patients.schemas import PatientCreate, PatientRead, PatientUpdate

router = APIRouter(prefix="/v1/patients", tags=["patients"], responses=PROBLEMS)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=PatientRead,
    summary="Register a patient",
    responses=problems(409, 422),
)
async def create_patient(
    body: PatientCreate, db: DbSession, audit: AuditDep, response: Response
) -> PatientRead:
    patient = await service.create_patient(db, audit, body)
    set_etag(response, patient.version)
    return PatientRead.model_validate(patient)


@router.get("", response_model=Page[PatientRead], summary="Search patients by name or MRN")
async def list_patients(
    db: DbSession,
    audit: AuditDep,
    q: Annotated[str | None, Query(max_length=200, description="Name or MRN fragment")] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[PatientRead]:
    rows, next_cursor = await service.search_patients(db, audit, q=q, limit=limit, cursor=cursor)
    return Page(items=[PatientRead.model_validate(p) for p in rows], next_cursor=next_cursor)


@router.get(
    "/{patient_id}", response_model=PatientRead, summary="Read a patient", responses=problems(404)
)
async def read_patient(
    patient_id: str, db: DbSession, audit: AuditDep, response: Response
) -> PatientRead:
    patient = await service.read_patient(db, audit, patient_id)
    set_etag(response, patient.version)
    return PatientRead.model_validate(patient)


@router.patch(
    "/{patient_id}",
    response_model=PatientRead,
    summary="Correct demographics (If-Match honoured)",
    responses=problems(404, 409, 412, 422),
)
async def update_patient(
    patient_id: str,
    body: PatientUpdate,
    db: DbSession,
    audit: AuditDep,
    response: Response,
    if_match: Annotated[str | None, Header()] = None,
) -> PatientRead:
    patient = await service.update_patient(db, audit, patient_id, body, if_match)
    set_etag(response, patient.version)
    return PatientRead.model_validate(patient)
