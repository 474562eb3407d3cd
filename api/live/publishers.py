"""What each domain calls to announce a change on the live streams (one line at each site).

The event ``data`` is the resource exactly as the REST API returns it.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import TypeAdapter
from sqlalchemy.ext.asyncio import AsyncSession

from api.live.outbox import publish
from models import Alert, TreatmentSession


def publish_readings(
    db: AsyncSession, session: TreatmentSession, rows: Sequence[dict[str, Any]]
) -> None:
    """New readings of ``session`` (rows as the vitals service returns them, with phase)."""
    # One validation and one dump for the whole batch (a batch can hold 1,000 readings).
    for payload in _readings_as_json(rows):
        publish(db, "reading", payload, session_id=session.id, patient_id=session.patient_id)


@functools.cache
def _reading_list() -> TypeAdapter[list[Any]]:
    from api.vitals.schemas import ObservationRead

    return TypeAdapter(list[ObservationRead])


def _readings_as_json(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    adapter = _reading_list()
    dumped: list[dict[str, Any]] = adapter.dump_python(
        adapter.validate_python(list(rows)), mode="json"
    )
    return dumped


async def publish_status(db: AsyncSession, session: TreatmentSession) -> None:
    """The session after a status change, as ``GET /v1/sessions/{id}`` returns it."""
    from api.sessions.schemas import SessionRead
    from api.sessions.service import session_record

    record = SessionRead.model_validate(await session_record(db, session))
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
