"""What each domain calls to announce a change on the live streams (one line at each site).

The event ``data`` is the resource exactly as the REST API returns it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from api.live.outbox import EVENTS_PER_ROW, publish
from api.vitals.schemas import observations_json
from models import Alert, TreatmentSession


def publish_readings(
    db: AsyncSession, session: TreatmentSession, rows: Sequence[dict[str, Any]]
) -> list[bytes]:
    """New readings of ``session`` (rows as the vitals service returns them, with phase).

    A batch is one outbox row holding the readings as a JSON list (the streams send one
    ``reading`` event per item): one row and one serialization per batch, not per reading.
    Returns those JSON lists (one per outbox row, in order): the same JSON the REST API gives
    for these rows, so an answer listing exactly them need not serialize them again.
    """
    chunks = []
    for start in range(0, len(rows), EVENTS_PER_ROW):
        # Serialized once, as the REST API serializes readings; embedded as-is in the outbox.
        chunk = observations_json(rows[start : start + EVENTS_PER_ROW])
        publish(
            db,
            "reading",
            orjson.Fragment(chunk),
            session_id=session.id,
            patient_id=session.patient_id,
        )
        chunks.append(chunk)
    return chunks


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
