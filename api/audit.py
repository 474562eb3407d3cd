"""The audit trail: every read or write of patient data, who, when, from where, and how it ended.

Services call ``audit.record(...)``. On success the events are added to the request's own
transaction just before it commits (``api.precommit``), so a write and its audit row commit
together. When the request fails, the events (or one describing the attempt) are written in a
separate transaction with the failure as outcome, so refused and failed attempts are on record
too. An attempt on a path that names a patient's record (``/v1/sessions/{session_id}/...``)
carries the id the path names as ``resource_id`` and that record's patient as ``patient_id``,
whichever way it was refused (401, 403, 404, 409, 422, ...). Every row is a link of the hash
chain (``api.audit_chain``).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api.db import DbSession
from api.deps import Actor, CurrentActor
from api.errors import DomainError
from api.precommit import queue_audit
from api.types import parse_id
from models import Alert, DosingPlan, Observation, TreatmentSession
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

    def rows(self, *, outcome: str | None = None) -> list[dict[str, Any]]:
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


def audit_row(request: Request, actor: Actor | None, **event: Any) -> dict[str, Any]:
    """One audit row's values (for :func:`write_separately` or ``queue_audit``)."""
    return audit_values(request, actor, **event)


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


# Column sizes of audit_events: what a client put in a path is cut to fit, never refused.
_RESOURCE_TYPE_MAX = 255
_RESOURCE_ID_MAX = 64


def _fit(value: str, size: int) -> str:
    return value.replace("\x00", "")[:size]


def attempt_event(request: Request) -> dict[str, Any]:
    """What an attempt that failed before any service recorded it was trying to do: the route
    template, and the most specific id its path names (its last ``..._id`` parameter).
    :func:`write_separately` adds the patient that id belongs to."""
    route = request.scope.get("route")
    path = getattr(route, "path", None) or request.url.path  # the URL only when needed
    params: dict[str, Any] = request.scope.get("path_params") or {}
    named = [str(v) for k, v in params.items() if k.endswith("_id")]
    return {
        "action": _METHOD_ACTIONS.get(request.method, request.method.lower()),
        "resource_type": _fit(path, _RESOURCE_TYPE_MAX),
        "resource_id": _fit(named[-1], _RESOURCE_ID_MAX) if named else None,
        "patient_id": None,
        "detail": None,
    }


# How a path parameter leads to the patient whose record it names.
_SESSION_PATIENT = select(TreatmentSession.patient_id)
_PATIENT_OF: dict[str, Any] = {
    "session_id": lambda i: _SESSION_PATIENT.where(TreatmentSession.id == i),
    "plan_id": lambda i: select(DosingPlan.patient_id).where(DosingPlan.id == i),
    "observation_id": lambda i: _SESSION_PATIENT.join(
        Observation, Observation.session_id == TreatmentSession.id
    ).where(Observation.id == i),
    "alert_id": lambda i: _SESSION_PATIENT.join(
        Alert, Alert.session_id == TreatmentSession.id
    ).where(Alert.id == i),
}


async def patient_named_by_path(db: AsyncSession, params: dict[str, Any]) -> uuid.UUID | None:
    """The patient whose record a request's path names, if any (ids that name nothing: None)."""
    if "patient_id" in params:
        return parse_id(str(params["patient_id"]))
    for name, query in _PATIENT_OF.items():
        if name in params:
            found = parse_id(str(params[name]))
            if found is not None:
                patient: uuid.UUID | None = await db.scalar(query(found))
                if patient is not None:
                    return patient
    return None


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


async def write_separately(request: Request, rows: list[dict[str, Any]]) -> None:
    """Write audit rows in their own transaction (the request's one is being rolled back).

    Rows that name no patient get the patient of the record the request's path names."""
    if not rows:
        return
    factory = request.app.state.session_factory
    try:
        async with factory() as db:
            params: dict[str, Any] = request.scope.get("path_params") or {}
            if params and any(r.get("patient_id") is None for r in rows):
                patient = await patient_named_by_path(db, params)
                for row in rows:
                    if row.get("patient_id") is None:
                        row["patient_id"] = patient
            queue_audit(db, rows)
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
