from __future__ import annotations

from typing import Any

from fastapi import APIRouter, status

from api.audit import AuditDep
from api.db import DbSession
from api.deps import AppSettings, ClinicTz
from api.openapi import PROBLEMS, problems
from api.pagination import Cursor, Limit, Page
from api.rems import service
from api.rems.schemas import FormListItem, FormStatus, RemsForm, SubmissionCreate, SubmissionRead

router = APIRouter(tags=["rems"], responses=PROBLEMS)


@router.get(
    "/v1/sessions/{session_id}/rems-form",
    response_model=RemsForm,
    summary="Spravato REMS Patient Monitoring Form data for an esketamine session",
    description=(
        "Assembled from the record: concomitant medications (the medication list in force), "
        "monitoring provider (the responsible clinician), healthcare setting "
        "(VIGIL_CLINIC_NAME / VIGIL_CLINIC_ADDRESS), dose, lot, BP before / ~40 min after / "
        "before completion, monitoring minutes, minutes until ready (discharge checklist), "
        "sedation, dissociation, respiratory depression, adverse events. `missing` lists, in "
        "form order, every field the record does not provide. 409 for a ketamine session."
    ),
    responses=problems(404, 409),
)
async def rems_form(
    session_id: str, db: DbSession, audit: AuditDep, tz: ClinicTz, settings: AppSettings
) -> Any:
    return await service.rems_form(db, audit, session_id, clinic_tz=tz, settings=settings)


@router.post(
    "/v1/sessions/{session_id}/rems-form/submissions",
    status_code=status.HTTP_201_CREATED,
    response_model=SubmissionRead,
    summary="Record that the session's REMS form was filed (once; again is 409)",
    responses=problems(404, 409, 422),
)
async def submit(session_id: str, body: SubmissionCreate, db: DbSession, audit: AuditDep) -> Any:
    return await service.submit(
        db, audit, session_id, submitted_at=body.submitted_at, reference=body.reference
    )


@router.get(
    "/v1/rems-forms",
    response_model=Page[FormListItem],
    summary="Esketamine sessions' REMS forms: due (within 7 days), overdue, submitted",
)
async def list_forms(
    db: DbSession,
    audit: AuditDep,
    tz: ClinicTz,
    status: FormStatus | None = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Any:
    rows, next_cursor = await service.list_forms(
        db, audit, status=status, limit=limit, cursor=cursor, clinic_tz=tz
    )
    return Page(items=[FormListItem.model_validate(r) for r in rows], next_cursor=next_cursor)
