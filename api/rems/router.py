from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api.audit import AuditDep
from api.db import DbSession
from api.deps import ClinicTz
from api.openapi import PROBLEMS, problems
from api.rems import service
from api.rems.schemas import RemsForm

router = APIRouter(tags=["rems"], responses=PROBLEMS)


@router.get(
    "/v1/sessions/{session_id}/rems-form",
    response_model=RemsForm,
    summary="Spravato REMS Patient Monitoring Form data for an esketamine session",
    description=(
        "Assembled from the record: dose, lot, BP before / ~40 min after / before completion, "
        "monitoring minutes, sedation and dissociation observed. `missing` lists, in form "
        "order, every field the record does not provide. 409 for a ketamine session."
    ),
    responses=problems(404, 409),
)
async def rems_form(session_id: str, db: DbSession, audit: AuditDep, tz: ClinicTz) -> Any:
    return await service.rems_form(db, audit, session_id, clinic_tz=tz)
