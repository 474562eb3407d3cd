"""The sessions domain's live events: ``status``, the session after a change, exactly as
``GET /v1/sessions/{id}`` returns it, published through the outbox (:mod:`api.live.outbox`).

The caller hands in the session record (:func:`api.sessions.record.session_record`): the read
model sits above this module, with the orchestrators that change sessions.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from api.live.outbox import publish
from api.people import validate_named
from api.sessions.schemas import SessionRead
from models import TreatmentSession


async def publish_status(
    db: AsyncSession, session: TreatmentSession, record: Mapping[str, Any]
) -> None:
    """The session after a status change, as ``GET /v1/sessions/{id}`` returns it (``record``:
    its session record)."""
    read = await validate_named(db, SessionRead, record)
    publish(
        db,
        "status",
        read.model_dump(mode="json"),
        session_id=session.id,
        patient_id=session.patient_id,
    )
