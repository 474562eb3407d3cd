"""Reading the audit trail (each reading of it is itself audited)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from api.audit import Audit
from api.audit_events import repository
from api.types import parse_id
from models import AuditEvent


async def list_audit_events(
    db: AsyncSession,
    audit: Audit,
    *,
    patient_id: str | None,
    actor_id: str | None,
    from_: datetime | None,
    to: datetime | None,
    limit: int,
    cursor: str | None,
) -> tuple[list[AuditEvent], str | None]:
    filters = {"patient_id": patient_id, "actor_id": actor_id, "from": from_, "to": to}
    audit.record(
        "read",
        "audit_event",
        None,
        patient_id=parse_id(patient_id) if patient_id else None,
        detail=" ".join(
            f"{k}={v.isoformat() if isinstance(v, datetime) else v}"
            for k, v in filters.items()
            if v is not None
        )[:500]
        or None,
    )
    return await repository.page_audit_events(
        db,
        patient_id=patient_id,
        actor_id=actor_id,
        from_=from_,
        to=to,
        limit=limit,
        cursor=cursor,
    )
