from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import ConfigDict, Field

from api.audit import AuditDep
from api.db import DbSession
from api.live import tickets
from api.openapi import PROBLEMS, problems
from api.types import StrictModel


class TicketRequest(StrictModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"path": "/v1/events"},
                {"path": "/v1/sessions/5f0c8f3e-8f0a-4a53-9d55-3f1f5f1c2b7a/events"},
            ]
        }
    )

    path: str = Field(
        max_length=200,
        description="The stream to open: /v1/events or /v1/sessions/{session_id}/events",
        examples=["/v1/events"],
    )


class TicketRead(StrictModel):
    ticket: str
    expires_in: int = Field(description="Seconds the ticket stays valid (it opens one stream)")


router = APIRouter(tags=["live"], responses=PROBLEMS)


@router.post(
    "/v1/events/tickets",
    response_model=TicketRead,
    summary="A one-time ticket that opens a live stream in a browser",
    description=(
        "A browser's EventSource cannot send an Authorization header: open the stream as "
        "`GET <path>?ticket=<ticket>` instead. The ticket is bound to you and to that path, "
        "works once, and expires after `expires_in` seconds; ask for a new one for every "
        "(re)connection. 403 when your role may not open that stream, 404 for an unknown "
        "session or a path that is not a stream."
    ),
    responses=problems(403, 404),
)
async def create_ticket(
    body: TicketRequest, request: Request, db: DbSession, audit: AuditDep
) -> TicketRead:
    return TicketRead.model_validate(await tickets.issue_ticket(db, audit, request, path=body.path))
