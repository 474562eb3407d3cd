"""The audit trail: every read or write of patient data, who, when, from where, and how it ended.

Services call ``audit.record(...)``. On success the events are added to the request's own
transaction just before it commits (``api.precommit``), so a write and its audit row commit
together. When the request fails, the events (or one describing the attempt) are written in a
separate transaction with the failure as outcome, so refused and failed attempts are on record
too.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from api.db import DbSession
from api.deps import Actor, CurrentActor
from api.errors import DomainError
from api.precommit import queue_audit
from api.types import parse_id
from models import AuditEvent
from models.base import utcnow

log = logging.getLogger("vigil.audit")

_METHOD_ACTIONS = {"GET": "read", "POST": "create", "PATCH": "update", "PUT": "update"}


@dataclass
class Audit:
    actor: Actor
    request: Request
    events: list[dict[str, Any]] = field(default_factory=list)

    def record(
        self,
        action: str,
        resource_type: str,
        resource_id: uuid.UUID | str | None,
        *,
        patient_id: uuid.UUID | str | None = None,
        outcome: str = "success",
        detail: str | None = None,
    ) -> None:
        self.events.append(
            {
                "action": action,
                "resource_type": resource_type,
                "resource_id": str(resource_id) if resource_id is not None else None,
                "patient_id": _as_uuid(patient_id),
                "outcome": outcome,
                "detail": detail,
            }
        )

    def commit_with(self, db: AsyncSession) -> None:
        """Queue the recorded events to be inserted with ``db``'s commit (the success path)."""
        if self.events:
            # On PostgreSQL in the same statement as the transaction's live events.
            queue_audit(db, [audit_values(self.request, self.actor, **e) for e in self.events])

    def rows(self, *, outcome: str | None = None) -> list[AuditEvent]:
        return [
            audit_row(
                self.request, self.actor, **{**e, **({"outcome": outcome} if outcome else {})}
            )
            for e in self.events
        ]


def _as_uuid(value: uuid.UUID | str | None) -> uuid.UUID | None:
    if value is None or isinstance(value, uuid.UUID):
        return value
    return parse_id(value)


def client_address(request: Request) -> str | None:
    return request.client.host if request.client else None


def audit_row(request: Request, actor: Actor | None, **event: Any) -> AuditEvent:
    return AuditEvent(**audit_values(request, actor, **event))


def audit_values(request: Request, actor: Actor | None, **event: Any) -> dict[str, Any]:
    return {
        "id": uuid.uuid4(),
        "at": utcnow(),
        "actor_id": actor.id if actor else None,
        "role": actor.role if actor else None,
        "client_address": client_address(request),
        "request_id": request.scope.get("state", {}).get("request_id"),
        **event,
    }


def attempt_event(request: Request) -> dict[str, Any]:
    """What an attempt that failed before any service recorded it was trying to do."""
    route = request.scope.get("route")
    path = getattr(route, "path", None) or request.url.path  # the URL only when needed
    return {
        "action": _METHOD_ACTIONS.get(request.method, request.method.lower()),
        "resource_type": path,
        "resource_id": None,
        "patient_id": None,
        "detail": None,
    }


def outcome_for(exc: BaseException) -> str:
    if isinstance(exc, DomainError):
        return {
            401: "unauthenticated",
            403: "denied",
            404: "not_found",
            409: "conflict",
            412: "conflict",
            422: "invalid",
        }.get(exc.status, "failure")
    return "error"


async def write_separately(request: Request, rows: list[AuditEvent]) -> None:
    """Write audit rows in their own transaction (the request's one is being rolled back)."""
    if not rows:
        return
    factory = request.app.state.session_factory
    try:
        async with factory() as db:
            db.add_all(rows)
            await db.commit()
    except Exception:  # the refusal itself must still reach the client
        log.exception("could not write audit events for a failed request")


async def get_audit(request: Request, actor: CurrentActor, db: DbSession) -> AsyncIterator[Audit]:
    audit = Audit(actor=actor, request=request)
    try:
        yield audit
    except BaseException as exc:
        # Release the request's transaction first: on SQLite its write lock would otherwise
        # block the separate audit write (the request's changes are being discarded anyway).
        await db.rollback()
        outcome = outcome_for(exc)
        rows = audit.rows(outcome=outcome) or [
            audit_row(request, actor, outcome=outcome, **attempt_event(request))
        ]
        await write_separately(request, rows)
        raise
    audit.commit_with(db)


AuditDep = Annotated[Audit, Depends(get_audit, scope="function")]
