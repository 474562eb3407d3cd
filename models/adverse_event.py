from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, IdMixin, utcnow
from models.retraction import STATUS_CHECK, RetractableMixin

ADVERSE_EVENT_KINDS = (
    "nausea",
    "vomiting",
    "headache",
    "dizziness",
    "hypertension",
    "hypotension",
    "tachycardia",
    "bradycardia",
    "respiratory_depression",
    "oxygen_desaturation",
    "excessive_sedation",
    "dissociation_distress",
    "emergence_reaction",
    "anxiety_agitation",
    "allergic_reaction",
    "other",
)
ADVERSE_EVENT_SEVERITIES = ("mild", "moderate", "severe", "life_threatening")


def _sql_list(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{v}'" for v in values)


class AdverseEvent(RetractableMixin, IdMixin, Base):
    """An adverse event of a session (SPEC §6), possibly recorded after discharge. Feeds the
    REMS form; severe and life-threatening ones raise a critical alert."""

    __tablename__ = "adverse_events"
    __table_args__ = (
        CheckConstraint(f"kind IN ({_sql_list(ADVERSE_EVENT_KINDS)})", name="kind"),
        CheckConstraint(f"severity IN ({_sql_list(ADVERSE_EVENT_SEVERITIES)})", name="severity"),
        CheckConstraint("kind <> 'other' OR note IS NOT NULL", name="other_needs_note"),
        CheckConstraint(STATUS_CHECK, name="status"),
        Index("ix_adverse_events_session_onset", "session_id", "onset_at"),
        Index("ix_adverse_events_patient_onset", "patient_id", "onset_at"),
    )

    session_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("treatment_sessions.id"))
    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id"))
    kind: Mapped[str] = mapped_column(String(32))
    severity: Mapped[str] = mapped_column(String(20))
    onset_at: Mapped[datetime]
    resolved_at: Mapped[datetime | None]
    action_taken: Mapped[str | None] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(Text)
    recorded_by: Mapped[str | None] = mapped_column(String(64))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
