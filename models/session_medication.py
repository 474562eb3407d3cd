from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, Float, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, IdMixin, utcnow
from models.retraction import STATUS_CHECK, RetractableMixin

CONTROLLED_SCHEDULES = ("II", "III", "IV", "V")


class SessionMedication(RetractableMixin, IdMixin, Base):
    """A medicine other than ketamine/esketamine given in a session (an antiemetic, an
    antihypertensive, a benzodiazepine...; SPEC §6). Retractable like a dose."""

    __tablename__ = "session_medications"
    __table_args__ = (
        CheckConstraint(
            "controlled_schedule IS NULL OR controlled_schedule IN ('II', 'III', 'IV', 'V')",
            name="controlled_schedule",
        ),
        CheckConstraint("dose > 0", name="dose_positive"),
        CheckConstraint(STATUS_CHECK, name="status"),
        Index("ix_session_medications_session_given", "session_id", "given_at"),
    )

    session_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("treatment_sessions.id"))
    name: Mapped[str] = mapped_column(String(200))
    dose: Mapped[float] = mapped_column(Float)
    unit: Mapped[str] = mapped_column(String(32))
    route: Mapped[str] = mapped_column(String(64))
    given_at: Mapped[datetime]
    reason: Mapped[str] = mapped_column(Text)
    controlled_schedule: Mapped[str | None] = mapped_column(String(4))
    lot_number: Mapped[str | None] = mapped_column(String(64))
    recorded_by: Mapped[str | None] = mapped_column(String(64))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
