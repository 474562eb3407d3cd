from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api.audit import AuditDep
from api.checklists import service
from api.checklists.schemas import ChecklistRead, DischargeChecklist, PreSessionChecklist
from api.db import DbSession
from api.openapi import PROBLEMS, problems

router = APIRouter(prefix="/v1/sessions/{session_id}", tags=["checklists"], responses=PROBLEMS)


@router.put(
    "/checklist",
    response_model=ChecklistRead,
    summary="Record or replace the pre-session checklist (while checked in)",
    description=(
        "A go: no food / liquids for the clinic's NPO minutes (VIGIL_NPO) before dosing, an "
        "escort named, no driving acknowledged, consent confirmed, no medication changes (or "
        "a clinician's override), and a negative pregnancy test for a patient of childbearing "
        "potential (`not_applicable` is then 422; `positive` stops dosing, no override). 409 "
        "outside `checked_in`."
    ),
    responses=problems(404, 409, 422),
)
async def put_checklist(
    session_id: str, body: PreSessionChecklist, db: DbSession, audit: AuditDep
) -> Any:
    return await service.put_checklist(db, audit, session_id, body)


@router.put(
    "/discharge-checklist",
    response_model=ChecklistRead,
    summary="Record or replace the discharge checklist (in monitoring)",
    responses=problems(404, 409, 422),
)
async def put_discharge_checklist(
    session_id: str, body: DischargeChecklist, db: DbSession, audit: AuditDep
) -> Any:
    return await service.put_discharge_checklist(db, audit, session_id, body)
