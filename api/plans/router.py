from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Path, Response, status

from api.audit import AuditDep
from api.db import DbSession
from api.deps import AppSettings
from api.etag import set_etag
from api.openapi import PROBLEMS, problems
from api.pagination import Cursor, Limit, Page
from api.people import named
from api.plans import service
from api.plans.schemas import (
    DiscontinueRequest,
    PlanContent,
    PlanRead,
    PlanRevisionCreate,
    RevisionRead,
)

router = APIRouter(tags=["dosing plans"], responses=PROBLEMS)
IfMatch = Annotated[str | None, Header(description="ETag from the last read")]


@router.post(
    "/v1/patients/{patient_id}/dosing-plans",
    status_code=status.HTTP_201_CREATED,
    response_model=PlanRead,
    summary="Create a dosing plan (revision 1)",
    description=(
        "422 names every rule the plan breaks, checked against the clinic's settings: a dose "
        "above the usual range without `above_usual_reason` (or one given for a usual dose), "
        "a dose or `max_dose_mg` above the maximum (`VIGIL_DOSE_LIMITS`; e.g. IV ketamine above "
        "1.0 mg/kg, esketamine other than 28/56/84 mg), `min_monitoring_minutes` below 120 "
        "(esketamine) or `VIGIL_MIN_MONITORING_MINUTES` (ketamine), `thresholds` whose minimum "
        "is not below its maximum once on top of the clinic's limits, or that loosen a clinic "
        "limit without `thresholds_reason`."
    ),
    responses=problems(404, 422),
)
async def create_plan(
    patient_id: str,
    body: PlanContent,
    db: DbSession,
    audit: AuditDep,
    response: Response,
    settings: AppSettings,
) -> PlanRead:
    plan = await service.create_plan(db, audit, patient_id, body, settings=settings)
    set_etag(response, plan.version)
    return await named(db, plan)


@router.get(
    "/v1/patients/{patient_id}/dosing-plans",
    response_model=Page[PlanRead],
    summary="A patient's dosing plans (newest first, paginated)",
    responses=problems(404, 422),
)
async def list_patient_plans(
    patient_id: str, db: DbSession, audit: AuditDep, limit: Limit = 50, cursor: Cursor = None
) -> Page[PlanRead]:
    items, next_cursor = await service.list_patient_plans(
        db, audit, patient_id, limit=limit, cursor=cursor
    )
    return await named(db, Page(items=items, next_cursor=next_cursor))


@router.get(
    "/v1/dosing-plans/{plan_id}",
    response_model=PlanRead,
    summary="A plan with its current revision",
    responses=problems(404),
)
async def read_plan(plan_id: str, db: DbSession, audit: AuditDep, response: Response) -> PlanRead:
    plan = await service.read_plan(db, audit, plan_id)
    set_etag(response, plan.version)
    return await named(db, plan)


@router.get(
    "/v1/dosing-plans/{plan_id}/revisions",
    response_model=Page[RevisionRead],
    summary="Every revision of a plan (oldest first, paginated)",
    responses=problems(404, 422),
)
async def list_revisions(
    plan_id: str, db: DbSession, audit: AuditDep, limit: Limit = 50, cursor: Cursor = None
) -> Page[RevisionRead]:
    items, next_cursor = await service.list_revisions(
        db, audit, plan_id, limit=limit, cursor=cursor
    )
    return await named(db, Page(items=items, next_cursor=next_cursor))


@router.get(
    "/v1/dosing-plans/{plan_id}/revisions/{n}",
    response_model=RevisionRead,
    summary="One revision of a plan",
    responses=problems(404, 422),
)
async def read_revision(
    plan_id: str,
    n: Annotated[int, Path(description="Revision number (an integer; one that names none: 404)")],
    db: DbSession,
    audit: AuditDep,
) -> RevisionRead:
    return await named(db, await service.read_revision(db, audit, plan_id, n))


@router.post(
    "/v1/dosing-plans/{plan_id}/revisions",
    status_code=status.HTTP_201_CREATED,
    response_model=PlanRead,
    summary="Revise a plan (a new full revision; earlier ones stay readable)",
    responses=problems(404, 409, 412),
)
async def revise_plan(
    plan_id: str,
    body: PlanRevisionCreate,
    db: DbSession,
    audit: AuditDep,
    response: Response,
    settings: AppSettings,
    if_match: IfMatch = None,
) -> PlanRead:
    content = PlanContent.model_validate(body.model_dump(exclude={"reason"}))
    plan = await service.revise_plan(
        db, audit, plan_id, content, body.reason, if_match, settings=settings
    )
    set_etag(response, plan.version)
    return await named(db, plan)


@router.post(
    "/v1/dosing-plans/{plan_id}/discontinue",
    response_model=PlanRead,
    summary="Discontinue a plan (it takes no new sessions)",
    responses=problems(404, 409, 412),
)
async def discontinue_plan(
    plan_id: str,
    body: DiscontinueRequest,
    db: DbSession,
    audit: AuditDep,
    response: Response,
    if_match: IfMatch = None,
) -> PlanRead:
    plan = await service.discontinue_plan(db, audit, plan_id, body, if_match)
    set_etag(response, plan.version)
    return await named(db, plan)
