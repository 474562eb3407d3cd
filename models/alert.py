from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, Float, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, IdMixin, utcnow

# a reading, an assessment or an adverse event; none for the server's own vitals_overdue
AT_MOST_ONE_SOURCE = (
    "(CASE WHEN observation_id IS NULL THEN 0 ELSE 1 END"
    " + CASE WHEN assessment_id IS NULL THEN 0 ELSE 1 END"
    " + CASE WHEN adverse_event_id IS NULL THEN 0 ELSE 1 END) <= 1"
)


class Alert(IdMixin, Base):
    """A warning or critical alert raised by the server (SPEC §6).

    Raised by a reading (``observation_id``), by an assessment (``assessment_id``, PHQ-9 item 9)
    or by an adverse event (``adverse_event_id``, severe or life-threatening), at most one of
    them, or by the server itself (``vitals_overdue``: no source row, ``gap_started_at`` set).
    An assessment taken between sessions raises an alert of the patient with no ``session_id``.
    Each source raises at most one alert: UNIQUE on each, so a retried or re-evaluated reading
    can never raise a second one; UNIQUE (session_id, gap_started_at) makes one
    ``vitals_overdue`` per gap however many server processes scan at once (NULLs are distinct,
    so other alerts are not constrained by it). Never deleted; acknowledged or resolved instead.
    """

    __tablename__ = "alerts"
    __table_args__ = (
        CheckConstraint("severity IN ('warning', 'critical')", name="severity"),
        CheckConstraint("status IN ('open', 'acknowledged', 'resolved')", name="status"),
        CheckConstraint(AT_MOST_ONE_SOURCE, name="at_most_one_source"),
        CheckConstraint(
            "status <> 'acknowledged' OR acknowledged_at IS NOT NULL", name="acknowledged_at"
        ),
        CheckConstraint("status <> 'resolved' OR resolved_at IS NOT NULL", name="resolved_at"),
        Index("ix_alerts_status_created", "status", "created_at", "id"),
        Index("ix_alerts_created_id", "created_at", "id"),
        Index("ix_alerts_session_created", "session_id", "created_at"),
        Index("ix_alerts_patient_created", "patient_id", "created_at"),
        UniqueConstraint("session_id", "gap_started_at"),
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
    # vitals_overdue: when the gap without a blood pressure began (the later of dosing start and
    # the latest BP's measured_at); None for every other kind.
    gap_started_at: Mapped[datetime | None]
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
