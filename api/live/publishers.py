"""What each domain calls to announce a change on the live streams (one line at each site).

The event ``data`` is the resource exactly as the REST API returns it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from api.live.outbox import publish
from models import Alert, TreatmentSession


async def publish_status(db: AsyncSession, session: TreatmentSession) -> None:
    """The session after a status change, as ``GET /v1/sessions/{id}`` returns it."""
    from api.people import validate_named
    from api.sessions.schemas import SessionRead
    from api.sessions.service import session_record

    record = await validate_named(db, SessionRead, await session_record(db, session))
    publish(
        db,
        "status",
        record.model_dump(mode="json"),
        session_id=session.id,
        patient_id=session.patient_id,
    )


def publish_alerts(
    db: AsyncSession, session: TreatmentSession, alerts: Sequence[Mapping[str, Any] | Alert]
) -> None:
    """Alerts raised or changed, as the alerts API returns them (``AlertRead``)."""
    from api.alerts.schemas import AlertRead

    for alert in alerts:
        data = (
            dict(alert)
            if isinstance(alert, Mapping)
            else {c.key: getattr(alert, c.key) for c in Alert.__table__.columns}
        )
        if "limit_value" in data:
            data["limit"] = data.pop("limit_value")
        data.setdefault("patient_id", session.patient_id)
        data.setdefault("location", session.location)
        complete = {name: None for name in AlertRead.model_fields} | data
        publish(
            db,
            "alert",
            AlertRead.model_validate(complete).model_dump(mode="json"),
            session_id=session.id,
            patient_id=session.patient_id,
        )


def publish_patient_alerts(
    db: AsyncSession, patient_id: Any, alerts: Sequence[Mapping[str, Any] | Alert]
) -> None:
    """Alerts of a patient with no session (an assessment between sessions, SPEC §12): on the
    clinic-wide stream only."""
    from api.alerts.schemas import AlertRead

    for alert in alerts:
        data = (
            dict(alert)
            if isinstance(alert, Mapping)
            else {c.key: getattr(alert, c.key) for c in Alert.__table__.columns}
        )
        if "limit_value" in data:
            data["limit"] = data.pop("limit_value")
        complete = {name: None for name in AlertRead.model_fields} | data
        publish(
            db,
            "alert",
            AlertRead.model_validate(complete).model_dump(mode="json"),
            session_id=None,
            patient_id=patient_id,
        )
