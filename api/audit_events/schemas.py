from __future__ import annotations

from datetime import datetime

from api.types import Id, ReadModel


class AuditEventRead(ReadModel):
    id: Id
    at: datetime
    actor_id: str | None
    role: str | None
    action: str
    resource_type: str
    resource_id: str | None
    patient_id: Id | None
    client_address: str | None
    request_id: str | None
    outcome: str
    detail: str | None
