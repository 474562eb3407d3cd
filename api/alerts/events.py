"""The alerts domain's live events: an ``alert`` event, the alert as the alerts API returns it
(``AlertRead``), published through the outbox (:mod:`api.live.outbox`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from api.alerts.schemas import AlertRead
from api.live.outbox import publish
from models import Alert, TreatmentSession


def _alert_json(alert: Mapping[str, Any] | Alert, **defaults: Any) -> dict[str, Any]:
    data = (
        dict(alert)
        if isinstance(alert, Mapping)
        else {c.key: getattr(alert, c.key) for c in Alert.__table__.columns}
    )
    if "limit_value" in data:
        data["limit"] = data.pop("limit_value")
    for key, value in defaults.items():
        data.setdefault(key, value)
    complete = {name: None for name in AlertRead.model_fields} | data
    return AlertRead.model_validate(complete).model_dump(mode="json")


def publish_alerts(
    db: AsyncSession, session: TreatmentSession, alerts: Sequence[Mapping[str, Any] | Alert]
) -> None:
    """Alerts raised or changed, as the alerts API returns them (``AlertRead``)."""
    for alert in alerts:
        publish(
            db,
            "alert",
            _alert_json(alert, patient_id=session.patient_id, location=session.location),
            session_id=session.id,
            patient_id=session.patient_id,
        )


def publish_patient_alerts(
    db: AsyncSession, patient_id: Any, alerts: Sequence[Mapping[str, Any] | Alert]
) -> None:
    """Alerts of a patient with no session (an assessment between sessions, SPEC §12): on the
    clinic-wide stream only."""
    for alert in alerts:
        publish(db, "alert", _alert_json(alert), session_id=None, patient_id=patient_id)
