from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, status
from pydantic import ConfigDict, Field

from api.audit import AuditDep
from api.db import DbSession
from api.deps import AppSettings
from api.follow_ups import service
from api.openapi import PROBLEMS, problems
from api.pagination import Cursor, Limit, Page
from api.types import Id, PastTimestamp, ReadModel, StrictModel

router = APIRouter(tags=["follow-ups"], responses=PROBLEMS)


class FollowUpCreate(StrictModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"contacted_at": "2026-12-02T15:00:00Z", "method": "phone", "outcome": "well"}
            ]
        }
    )

    contacted_at: PastTimestamp
    method: Literal["phone", "sms", "video", "in_person"]
    outcome: Literal["well", "concern", "no_answer"]
    note: str | None = Field(default=None, max_length=2000)


class FollowUpRead(ReadModel):
    id: Id
    session_id: Id
    contacted_at: datetime
    method: str
    outcome: str
    note: str | None
    recorded_by: str | None
    recorded_at: datetime


class FollowUpDue(ReadModel):
    session_id: Id
    patient_id: Id
    patient_name: str
    mrn: str
    discharged_at: datetime
    due_by: datetime
    overdue: bool


@router.post(
    "/v1/sessions/{session_id}/follow-ups",
    status_code=status.HTTP_201_CREATED,
    response_model=FollowUpRead,
    summary="Record a follow-up contact after discharge",
    responses=problems(404, 409, 422),
)
async def record(session_id: str, body: FollowUpCreate, db: DbSession, audit: AuditDep) -> Any:
    return await service.record_follow_up(
        db,
        audit,
        session_id,
        contacted_at=body.contacted_at,
        method=body.method,
        outcome=body.outcome,
        note=body.note,
    )


@router.get(
    "/v1/follow-ups",
    response_model=Page[FollowUpDue],
    summary="Discharged sessions without a follow-up within VIGIL_FOLLOW_UP_HOURS (?status=due)",
)
async def due(
    db: DbSession,
    audit: AuditDep,
    settings: AppSettings,
    status: Literal["due"] = "due",
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Any:
    rows, next_cursor = await service.list_due(
        db, audit, follow_up_hours=settings.follow_up_hours, limit=limit, cursor=cursor
    )
    return Page(items=[FollowUpDue.model_validate(r) for r in rows], next_cursor=next_cursor)
