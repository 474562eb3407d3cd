"""The one check in front of every /v1 and /fhir route: authenticated, and the role may call it."""

from __future__ import annotations

import logging

from fastapi import Request

from api.audit import attempt_event, audit_row, write_separately
from api.db import DbSession
from api.deps import Actor, current_actor
from api.errors import Forbidden, Unauthorized
from api.live.tickets import redeem_ticket
from api.security.policy import allowed_roles

log = logging.getLogger("vigil.security")


async def authorize(request: Request, db: DbSession) -> Actor:
    route = request.scope.get("route")
    path = getattr(route, "path", None) or request.url.path  # the URL only when needed
    request.state.db = db  # the caller is looked up in the request's own transaction
    try:
        ticket_actor = await redeem_ticket(request, db)  # a browser's live stream (SPEC §13)
        if ticket_actor is not None:
            request.state.actor = ticket_actor
        actor = await current_actor(request)
    except Unauthorized:
        # Release the request's transaction first (on SQLite its write lock would block the
        # separate audit write).
        await db.rollback()
        await write_separately(
            request, [audit_row(request, None, outcome="unauthenticated", **attempt_event(request))]
        )
        raise
    roles = allowed_roles(request.method, path)
    if actor.role not in roles:
        log.info("denied %s %s for role %s", request.method, path, actor.role)
        await db.rollback()
        await write_separately(
            request, [audit_row(request, actor, outcome="denied", **attempt_event(request))]
        )
        raise Forbidden(
            f"Your role ({actor.role}) may not {request.method} {path}."
            + (f" Allowed: {', '.join(sorted(roles))}." if roles else "")
        )
    return actor
