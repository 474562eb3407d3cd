from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query

from api.audit import AuditDep
from api.board import service
from api.board.schemas import Board
from api.db import DbSession
from api.deps import AppSettings, ClinicTz
from api.errors import ValidationFailed, field_error
from api.openapi import PROBLEMS

router = APIRouter(tags=["board"], responses=PROBLEMS)


@router.get(
    "/v1/board",
    response_model=Board,
    summary="The day board of the nursing station",
    description=(
        "Every session of one clinic day (`VIGIL_CLINIC_TZ`; default today): scheduled or "
        "checked in that day, and on today's board every session still open. Per session: "
        "patient name and MRN, location, status, medication and planned dose, minutes since "
        "the first dose, the latest value of each vital, open alerts by severity, discharge "
        "readiness (`ready`, the first unmet item's message, `earliest_at`) and "
        "`vitals_due_at`; plus open alerts that belong to a patient and no session."
    ),
)
async def read_board(
    db: DbSession,
    audit: AuditDep,
    tz: ClinicTz,
    settings: AppSettings,
    date_: Annotated[
        str | None,
        Query(
            alias="date",
            pattern=r"^\d{4}-\d{2}-\d{2}$",
            description="A calendar date, YYYY-MM-DD (default: today in the clinic)",
        ),
    ] = None,
) -> Board:
    return Board.model_validate(
        await service.board(db, audit, day=_day(date_), tz=tz, settings=settings)
    )


def _day(raw: str | None) -> date | None:
    if raw is None:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise ValidationFailed(
            [field_error(["query", "date"], "must be a calendar date (YYYY-MM-DD)")]
        ) from None
