from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from sse_starlette.sse import EventSourceResponse

from api.audit import AuditDep
from api.db import DbSession
from api.live import service
from api.openapi import PROBLEMS, problems
from api.security.actor import still_valid_check

router = APIRouter(tags=["live"], responses=PROBLEMS)

_DESCRIPTION = (
    "Server-Sent Events. On connect a `heartbeat` event arrives at once, then `reading`, "
    "`alert` and `status` events whose `data` is the reading, alert or session exactly as the "
    "REST API returns it, each with an increasing `id`; a `heartbeat` every 15 s "
    "(`VIGIL_LIVE_HEARTBEAT_SECONDS`). Every event's `data` is JSON (a heartbeat's: "
    '`{"at": ...}`); no comment lines. Reconnect with `Last-Event-ID` (or `?last_event_id=`) '
    "to resume after that event, from any API process. Without it the stream starts with what "
    "happens from now on. The stream ends when its credentials stop being valid (token "
    "expired, user disabled, password changed, key revoked), checked at every heartbeat. "
    "A browser's EventSource, which cannot send an Authorization header, opens the stream with "
    "`?ticket=` from `POST /v1/events/tickets` instead (one ticket per connection)."
)
MaxSeconds = Annotated[
    float | None,
    Query(
        ge=0,
        le=86400,
        description="End the stream after this many seconds (0: send what is there, then end); "
        "the client reconnects with Last-Event-ID, e.g. to move to another API process",
    ),
]
# Each Server-Sent Event, as a client's parser sees it (the schema applies per event).
_SSE_EVENT = {
    "type": "object",
    "properties": {
        "event": {"type": "string", "description": "heartbeat, reading, alert or status"},
        "data": {"type": "string", "description": "JSON of the reading, alert or session"},
        "id": {"type": "string"},
        "retry": {"type": "integer"},
    },
}
_SSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/event-stream": {"schema": _SSE_EVENT}}}
}


async def _respond(
    request: Request,
    db: DbSession,
    audit: AuditDep,
    session_id: str | None,
    last_event_id: str | None,
    last_event_id_query: str | None,
    max_seconds: float | None,
) -> EventSourceResponse:
    start = service.parse_last_event_id(last_event_id, last_event_id_query)
    sid, after = await service.open_stream(db, audit, session_id=session_id, last_event_id=start)
    await service.ensure_listener(request.app)
    stream = service.event_stream(
        request.app.state.session_factory,
        session_id=sid,
        after=after,
        max_seconds=max_seconds,
        heartbeat_seconds=request.app.state.settings.live_heartbeat_seconds,
        still_valid=still_valid_check(request),  # ends the stream when the credentials do
    )
    return EventSourceResponse(
        stream,
        ping=0,  # no comment pings: every event is one of ours, with JSON data
        send_timeout=30,  # a client that stops reading is dropped, not buffered for
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


@router.get(
    "/v1/sessions/{session_id}/events",
    summary="Live events of one session (SSE)",
    description=_DESCRIPTION,
    response_class=EventSourceResponse,
    responses={**problems(404), **_SSE},
)
async def session_events(
    session_id: str,
    request: Request,
    db: DbSession,
    audit: AuditDep,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
    last_event_id_query: Annotated[str | None, Query(alias="last_event_id")] = None,
    max_seconds: MaxSeconds = None,
) -> EventSourceResponse:
    return await _respond(
        request, db, audit, session_id, last_event_id, last_event_id_query, max_seconds
    )


@router.get(
    "/v1/events",
    summary="Live events of the whole clinic (SSE)",
    description=_DESCRIPTION,
    response_class=EventSourceResponse,
    responses=_SSE,
)
async def clinic_events(
    request: Request,
    db: DbSession,
    audit: AuditDep,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
    last_event_id_query: Annotated[str | None, Query(alias="last_event_id")] = None,
    max_seconds: MaxSeconds = None,
) -> EventSourceResponse:
    return await _respond(request, db, audit, None, last_event_id, last_event_id_query, max_seconds)
