from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, IdMixin, utcnow


class FollowUp(IdMixin, Base):
    """A contact with the patient after a session (SPEC §12)."""

    __tablename__ = "follow_ups"
    __table_args__ = (
        CheckConstraint("method IN ('phone', 'sms', 'video', 'in_person')", name="method"),
        CheckConstraint("outcome IN ('well', 'concern', 'no_answer')", name="outcome"),
        Index("ix_follow_ups_session_contacted", "session_id", "contacted_at"),
    )

    session_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("treatment_sessions.id"))
    contacted_at: Mapped[datetime]
    method: Mapped[str] = mapped_column(String(16))
    outcome: Mapped[str] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)
    recorded_by: Mapped[str | None] = mapped_column(String(64))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
