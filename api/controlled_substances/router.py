from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from api.audit import AuditDep
from api.controlled_substances import service
from api.controlled_substances.schemas import (
    ControlledSubstanceEntry,
    ControlledSubstanceLog,
    parse_witness_statuses,
)
from api.csv_export import csv_response, wants_csv
from api.db import DbSession
from api.openapi import PROBLEMS
from api.pagination import Cursor, Limit
from api.types import Timestamp

router = APIRouter(
    prefix="/v1/controlled-substances", tags=["controlled substances"], responses=PROBLEMS
)


@router.get(
    "/log",
    response_model=ControlledSubstanceLog,
    summary="Every administration and waste, oldest first (21 CFR 1304.22(c); CSV too)",
    description=(
        "Administrators and clinicians. `from` (inclusive) and `to` (exclusive) filter on the "
        "time the dose was given; `lot` on the lot number; `witness_status` on the waste's "
        "witness status (`pending,not_confirmed` lists waste no witness has confirmed). People "
        "by id and by display name (`_name`), the patient's name and address. "
        "`Accept: text/csv` gives CSV with a header row (the next page's cursor in "
        "`X-Next-Cursor`)."
    ),
    responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}}},
)
async def controlled_substance_log(
    request: Request,
    db: DbSession,
    audit: AuditDep,
    from_: Annotated[Timestamp | None, Query(alias="from")] = None,
    to: Timestamp | None = None,
    lot: Annotated[str | None, Query(max_length=64)] = None,
    witness_status: Annotated[
        str | None,
        Query(
            max_length=64,
            description="`pending`, `witnessed`, `not_confirmed`; several comma-separated",
        ),
    ] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Any:
    statuses = parse_witness_statuses(witness_status)
    rows, next_cursor = await service.controlled_substance_log(
        db,
        audit,
        from_=from_,
        to=to,
        lot=lot,
        witness_status=statuses,
        limit=limit,
        cursor=cursor,
    )
    items = [ControlledSubstanceEntry.model_validate(r) for r in rows]
    if wants_csv(request):
        return csv_response(
            list(ControlledSubstanceEntry.model_fields),
            (i.model_dump() for i in items),
            filename="controlled-substance-log.csv",
            next_cursor=next_cursor,
        )
    return ControlledSubstanceLog(items=items, next_cursor=next_cursor)
