from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, status

from api.assessments import service
from api.assessments.schemas import (
    RETRACT_EXAMPLES,
    AssessmentCreate,
    AssessmentList,
    AssessmentRead,
    InstrumentName,
)
from api.audit import AuditDep
from api.db import DbSession
from api.openapi import PROBLEMS, problems
from api.pagination import Cursor, Limit
from api.people import validate_all_named, validate_named
from api.vitals.schemas import RetractRequest

router = APIRouter(
    prefix="/v1/sessions/{session_id}/assessments", tags=["assessments"], responses=PROBLEMS
)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=AssessmentRead,
    summary="Record a rating scale (scored by the server: total and band)",
    description=(
        "Wrong item count or an item out of range: 422 with `loc` into the body "
        '(e.g. `["body","items",8]`). PHQ-9 item 9 above 0 raises a critical alert '
        "(`alert_id`), which blocks discharge until acknowledged."
    ),
    responses=problems(404, 409),
)
async def record_assessment(
    session_id: str, body: AssessmentCreate, db: DbSession, audit: AuditDep
) -> AssessmentRead:
    row = await service.record_assessment(
        db,
        audit,
        session_id,
        instrument=body.instrument,
        items=body.items,
        score=body.score,
        administered_at=body.administered_at,
    )
    return await validate_named(db, AssessmentRead, row)


@router.get(
    "",
    response_model=AssessmentList,
    summary="A session's assessments, in the order they were administered",
    description="Retracted assessments are left out unless `include_retracted=true`.",
    responses=problems(404),
)
async def list_assessments(
    session_id: str,
    db: DbSession,
    audit: AuditDep,
    instrument: InstrumentName | None = None,
    include_retracted: bool = False,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> AssessmentList:
    rows, next_cursor = await service.list_assessments(
        db,
        audit,
        session_id,
        instrument=instrument,
        include_retracted=include_retracted,
        limit=limit,
        cursor=cursor,
    )
    return AssessmentList(
        items=await validate_all_named(db, AssessmentRead, rows), next_cursor=next_cursor
    )


@router.post(
    "/{assessment_id}/retract",
    response_model=AssessmentRead,
    summary="Retract an assessment (entered-in-error); it stays on record",
    description=(
        "The score no longer counts for the discharge gate's sedation check, trends or the "
        "REMS form, and the alert it raised (PHQ-9 item 9) is resolved. Already retracted: 409."
    ),
    responses=problems(404, 409),
)
async def retract(
    session_id: str,
    assessment_id: str,
    body: Annotated[RetractRequest, Body(openapi_examples=RETRACT_EXAMPLES)],
    db: DbSession,
    audit: AuditDep,
) -> AssessmentRead:
    row = await service.retract_assessment(db, audit, session_id, assessment_id, body.reason)
    return await validate_named(db, AssessmentRead, row)
