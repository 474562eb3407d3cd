from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, Float, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, IdMixin, utcnow

EXACTLY_ONE_SOURCE = (
    "(CASE WHEN observation_id IS NULL THEN 0 ELSE 1 END"
    " + CASE WHEN assessment_id IS NULL THEN 0 ELSE 1 END"
    " + CASE WHEN adverse_event_id IS NULL THEN 0 ELSE 1 END) = 1"
)


class Alert(IdMixin, Base):
    """A warning or critical alert raised by the server (SPEC §6).

    Raised by a reading (``observation_id``), by an assessment (``assessment_id``, PHQ-9 item 9)
    or by an adverse event (``adverse_event_id``, severe or life-threatening): exactly one. An
    assessment taken between sessions raises an alert of the patient with no ``session_id``.
    Each source raises at most one alert: UNIQUE on each, so a retried or re-evaluated
    reading can never raise a second one. Never deleted; acknowledged or resolved instead.
    """

    __tablename__ = "alerts"
    __table_args__ = (
        CheckConstraint("severity IN ('warning', 'critical')", name="severity"),
        CheckConstraint("status IN ('open', 'acknowledged', 'resolved')", name="status"),
        CheckConstraint(EXACTLY_ONE_SOURCE, name="exactly_one_source"),
        CheckConstraint(
            "status <> 'acknowledged' OR acknowledged_at IS NOT NULL", name="acknowledged_at"
        ),
        CheckConstraint("status <> 'resolved' OR resolved_at IS NOT NULL", name="resolved_at"),
        Index("ix_alerts_status_created", "status", "created_at", "id"),
        Index("ix_alerts_created_id", "created_at", "id"),
        Index("ix_alerts_session_created", "session_id", "created_at"),
        Index("ix_alerts_patient_created", "patient_id", "created_at"),
    )

    session_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("treatment_sessions.id"))
    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id"))
    observation_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("observations.id"), unique=True
    )
    assessment_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("assessments.id"), unique=True
    )
    adverse_event_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("adverse_events.id"), unique=True
    )
    kind: Mapped[str] = mapped_column(String(40))
    severity: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="open")
    message: Mapped[str] = mapped_column(Text)
    vital: Mapped[str | None] = mapped_column(String(32))
    value: Mapped[float | None] = mapped_column(Float)
    limit_value: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    acknowledged_at: Mapped[datetime | None]
    acknowledged_by: Mapped[str | None] = mapped_column(String(64))
    acknowledge_note: Mapped[str | None] = mapped_column(Text)
    resolved_at: Mapped[datetime | None]
    resolved_by: Mapped[str | None] = mapped_column(String(64))
    resolution: Mapped[str | None] = mapped_column(Text)
