"""Stream tickets: how a browser opens a live stream (SPEC §13).

``EventSource`` cannot send an ``Authorization`` header. A signed-in member of staff asks for a
ticket for one stream path (``POST /v1/events/tickets``); the stream then accepts
``?ticket=...`` instead of the header, once, within :data:`TICKET_SECONDS`, for that user and
that path only. Only the ticket's SHA-256 is stored; redeeming it is one UPDATE whose WHERE
settles the race between processes (exactly one request sees the row change), committed with
the stream's opening transaction. The access log prints paths without query strings, so the
ticket never reaches a log.

This is authentication only: :func:`redeem_ticket` gives the request its actor, then the usual
role check (``api.security.authorize``) applies as for a bearer token.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from fastapi import Request
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from api.audit import Audit
from api.deps import Actor
from api.errors import Forbidden, NotFound, Unauthorized
from api.security.policy import allowed_roles
from api.sessions.repository import get_session
from models import StreamTicket, User

TICKET_SECONDS = 60
CLINIC_STREAM = "/v1/events"
SESSION_STREAM = "/v1/sessions/{session_id}/events"
# The route templates that accept ``?ticket=`` (the live streams, nothing else).
TICKET_ROUTES = frozenset({CLINIC_STREAM, SESSION_STREAM})
_SESSION_PATH = re.compile(r"^/v1/sessions/([^/?#]+)/events$")


def _hash(ticket: str) -> str:
    return hashlib.sha256(ticket.encode()).hexdigest()


def stream_route(path: str) -> tuple[str, str | None] | None:
    """The route template a stream path belongs to, and the session id in it."""
    if path == CLINIC_STREAM:
        return CLINIC_STREAM, None
    match = _SESSION_PATH.match(path)
    if match:
        return SESSION_STREAM, match.group(1)
    return None


def _token_expiry(request: Request) -> datetime | None:
    """When the bearer token this request came with expires (it was verified already)."""
    _, _, token = request.headers.get("authorization", "").partition(" ")
    try:
        exp = jwt.decode(token.strip(), options={"verify_signature": False}).get("exp")
    except jwt.PyJWTError:
        return None
    return datetime.fromtimestamp(exp, UTC) if isinstance(exp, int | float) else None


async def issue_ticket(
    db: AsyncSession, audit: Audit, request: Request, *, path: str
) -> dict[str, Any]:
    route = stream_route(path)
    if route is None:
        raise NotFound(
            f"{path} is not a live stream: ask for {CLINIC_STREAM} or "
            "/v1/sessions/{session_id}/events."
        )
    template, session_id = route
    if audit.actor.role not in allowed_roles("GET", template):
        raise Forbidden(f"Your role ({audit.actor.role}) may not open the live stream {path}.")
    patient_id = None
    if session_id is not None:
        session = await get_session(db, session_id)
        patient_id = session.patient_id
    ticket = secrets.token_urlsafe(32)
    now = datetime.now(UTC)
    row = StreamTicket(
        ticket_hash=_hash(ticket),
        user_id=uuid.UUID(audit.actor.id),
        path=path,
        created_at=now,
        expires_at=now + timedelta(seconds=TICKET_SECONDS),
        credential_expires_at=_token_expiry(request),
    )
    db.add(row)
    await db.flush()
    audit.record("create", "stream_ticket", row.id, patient_id=patient_id)
    return {"ticket": ticket, "expires_in": TICKET_SECONDS}


_INVALID = (
    "The stream ticket is not valid: it was used already, has expired (a ticket lasts "
    f"{TICKET_SECONDS} s) or was issued for another stream. Ask for a new one with "
    "POST /v1/events/tickets."
)


async def redeem_ticket(request: Request, db: AsyncSession) -> Actor | None:
    """The actor of a stream request that carries ``?ticket=`` and no ``Authorization``;
    None when the request is not one (the bearer token is checked as usual then)."""
    route = request.scope.get("route")
    if getattr(route, "path", None) not in TICKET_ROUTES:
        return None
    ticket = request.query_params.get("ticket")
    if ticket is None or request.headers.get("authorization"):
        return None
    now = datetime.now(UTC)
    used = (
        await db.execute(
            update(StreamTicket)
            .where(
                StreamTicket.ticket_hash == _hash(ticket),
                StreamTicket.path == request.url.path,
                StreamTicket.used_at.is_(None),
                StreamTicket.expires_at > now,
            )
            .values(used_at=now)
            .returning(StreamTicket.user_id, StreamTicket.credential_expires_at)
            .execution_options(synchronize_session=False)
        )
    ).first()
    if used is None:
        raise Unauthorized(_INVALID)
    user = (
        await db.execute(
            select(User.id, User.role, User.username, User.disabled).where(User.id == used.user_id)
        )
    ).first()
    if user is None or user.disabled:
        raise Unauthorized(_INVALID)
    # for the stream's own credential checks (it ends when the token it came from expires)
    request.state.credential_expires_at = used.credential_expires_at
    return Actor(id=str(user.id), role=user.role, kind="user", name=user.username)


# Tickets are worth nothing once expired; kept a day for anyone looking into a refusal.
TICKET_KEEP = timedelta(days=1)


async def prune_expired_tickets(engine: AsyncEngine, *, keep: timedelta = TICKET_KEEP) -> int:
    """Delete tickets that expired more than ``keep`` ago (with the hourly outbox prune)."""
    async with engine.begin() as conn:
        result = await conn.execute(
            delete(StreamTicket).where(StreamTicket.expires_at < datetime.now(UTC) - keep)
        )
    return int(result.rowcount or 0)
