"""The audit hook every service calls for each read or write of patient data.

``Audit.record`` is the single entry point; the security module makes it persist append-only
audit rows in the request's own transaction (so a write and its audit commit together).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request

from api.db import DbSession
from api.deps import Actor, CurrentActor


@dataclass
class Audit:
    actor: Actor
    request: Request
    db: DbSession
    events: list[dict[str, str | None]] = field(default_factory=list)

    def record(
        self,
        action: str,
        resource_type: str,
        resource_id: uuid.UUID | str | None,
        *,
        patient_id: uuid.UUID | str | None = None,
        outcome: str = "success",
    ) -> None:
        event = {
            "action": action,
            "resource_type": resource_type,
            "resource_id": str(resource_id) if resource_id is not None else None,
            "patient_id": str(patient_id) if patient_id is not None else None,
            "outcome": outcome,
        }
        self.events.append(event)
        sink = getattr(self.request.app.state, "audit_sink", None)
        if sink is not None:
            sink(self, event)


def get_audit(request: Request, actor: CurrentActor, db: DbSession) -> Audit:
    return Audit(actor=actor, request=request, db=db)


AuditDep = Annotated[Audit, Depends(get_audit)]
