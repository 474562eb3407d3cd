from __future__ import annotations

from typing import Any

from fastapi import APIRouter, status

from api.audit import AuditDep
from api.db import DbSession
from api.openapi import PROBLEMS, problems
from api.session_medications import service
from api.session_medications.schemas import SessionMedicationCreate, SessionMedicationRead
from api.vitals.schemas import RetractRequest

router = APIRouter(
    prefix="/v1/sessions/{session_id}/medications",
    tags=["other medications"],
    responses=PROBLEMS,
)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=SessionMedicationRead,
    summary="Record another medication given in the session (antiemetic, antihypertensive...)",
    description="Ketamine and esketamine are refused here (422): they are administrations.",
    responses=problems(404, 409, 422),
)
async def record(
    session_id: str, body: SessionMedicationCreate, db: DbSession, audit: AuditDep
) -> Any:
    return await service.record_medication(db, audit, session_id, body)


@router.get(
    "",
    response_model=list[SessionMedicationRead],
    summary="Other medications given in the session, in the order given",
    responses=problems(404),
)
async def list_(
    session_id: str, db: DbSession, audit: AuditDep, include_retracted: bool = False
) -> Any:
    return await service.list_medications(
        db, audit, session_id, include_retracted=include_retracted
    )


@router.post(
    "/{medication_id}/retract",
    response_model=SessionMedicationRead,
    summary="Retract a mistaken entry (entered-in-error; kept on record)",
    responses=problems(404, 409),
)
async def retract(
    session_id: str, medication_id: str, body: RetractRequest, db: DbSession, audit: AuditDep
) -> Any:
    return await service.retract_medication(db, audit, session_id, medication_id, body.reason)
