from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.assessments.schemas import InstrumentName
from api.audit import AuditDep
from api.db import DbSession
from api.openapi import PROBLEMS, problems
from api.pagination import Cursor, Limit
from api.trends import service
from api.trends.schemas import TrendPage

router = APIRouter(tags=["trends"], responses=PROBLEMS)


@router.get(
    "/v1/patients/{patient_id}/trends",
    response_model=TrendPage,
    summary="A vital across sessions (?code=) or a scale over the course (?instrument=)",
    description=(
        "`?code=systolic_bp`: one row per session, oldest first: last pre-dose, highest intra-"
        "dose and last post-dose value. `?instrument=phq9`: every score, oldest first, with "
        "change, response and remission against the first score of the course (dosing plan). "
        "Exactly one of `code` and `instrument` (422 otherwise)."
    ),
    responses=problems(404),
)
async def trends(
    patient_id: str,
    db: DbSession,
    audit: AuditDep,
    code: Annotated[str | None, Query(max_length=32)] = None,
    instrument: InstrumentName | None = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> TrendPage:
    page = await service.trends(
        db, audit, patient_id, code=code, instrument=instrument, limit=limit, cursor=cursor
    )
    return TrendPage.model_validate(page)
