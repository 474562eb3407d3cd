from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response, status

from api.audit import AuditDep
from api.csv_export import csv_response, wants_csv
from api.db import DbSession
from api.openapi import PROBLEMS, problems
from api.pagination import Cursor, Limit
from api.types import Timestamp
from api.vitals import service
from api.vitals.schemas import (
    ObservationBatch,
    ObservationList,
    ObservationRead,
    Phase,
    RetractRequest,
    observation_page_json,
    observation_page_json_of,
)

router = APIRouter(prefix="/v1/sessions/{session_id}/vitals", tags=["vitals"], responses=PROBLEMS)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=ObservationList,
    summary="Record vital signs (atomic batch of up to 1,000)",
    description=(
        "Every item valid, or nothing is stored (422 names each bad item by index). A repeated "
        "`external_id` from the same source stores nothing new and returns the existing reading. "
        "Readings measured after the session ended: 409."
    ),
    responses=problems(404, 409),
)
async def record_vitals(
    session_id: str, body: ObservationBatch, db: DbSession, audit: AuditDep
) -> Response:
    service.check_batch_size(len(body.observations))
    stored, items_json = await service.record_vitals(db, audit, session_id, body.observations)
    return Response(
        observation_page_json(stored, None)
        if items_json is None
        else observation_page_json_of(items_json, None),
        status_code=status.HTTP_201_CREATED,
        media_type="application/json",
    )


@router.get(
    "",
    response_model=ObservationList,
    summary="A session's readings, ordered by measured_at (CSV with Accept: text/csv)",
    responses={**problems(404), 200: {"content": {"text/csv": {"schema": {"type": "string"}}}}},
)
async def list_vitals(
    session_id: str,
    request: Request,
    db: DbSession,
    audit: AuditDep,
    phase: Phase | None = None,
    code: Annotated[str | None, Query(max_length=32)] = None,
    since: Timestamp | None = None,
    include_retracted: bool = False,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Any:
    rows, next_cursor = await service.list_vitals(
        db,
        audit,
        session_id,
        phase=phase,
        code=code,
        since=since,
        include_retracted=include_retracted,
        limit=limit,
        cursor=cursor,
    )
    if wants_csv(request):
        page = ObservationList.model_validate({"items": rows, "next_cursor": next_cursor})
        return csv_response(
            list(ObservationRead.model_fields),
            (i.model_dump() for i in page.items),
            filename=f"session-{session_id}-vitals.csv",
            next_cursor=next_cursor,
        )
    return Response(observation_page_json(rows, next_cursor), media_type="application/json")


@router.post(
    "/{observation_id}/retract",
    response_model=ObservationRead,
    summary="Retract a reading (entered-in-error); it stays on record",
    responses=problems(404, 409),
)
async def retract(
    session_id: str, observation_id: str, body: RetractRequest, db: DbSession, audit: AuditDep
) -> ObservationRead:
    row = await service.retract_observation(db, audit, session_id, observation_id, body.reason)
    return ObservationRead.model_validate(row)
