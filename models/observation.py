from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, Float, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, IdMixin, utcnow


class Observation(IdMixin, Base):
    """One vital-sign reading. Never deleted: mistakes are retracted (entered-in-error).

    Phase is not stored: it is derived from the session timeline whenever it is read, so a
    timeline documented after the fact can never leave a stale phase behind.
    """

    __tablename__ = "observations"
    __table_args__ = (
        # Retry-safe de-duplication: one reading per (source, external_id), enforced here.
        UniqueConstraint("source", "external_id"),
        CheckConstraint("status IN ('final', 'entered-in-error')", name="status"),
        Index("ix_observations_session_measured", "session_id", "measured_at"),
    )

    session_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("treatment_sessions.id"))
    code: Mapped[str] = mapped_column(String(32))
    value: Mapped[float] = mapped_column(Float)
    unit: Mapped[str] = mapped_column(String(16))
    original_value: Mapped[float] = mapped_column(Float)
    original_unit: Mapped[str] = mapped_column(String(32))
    measured_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(24), default="final")
    external_id: Mapped[str | None] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(80))
    recorded_by: Mapped[str | None] = mapped_column(String(64))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
    retracted_at: Mapped[datetime | None]
    retracted_by: Mapped[str | None] = mapped_column(String(64))
    retraction_reason: Mapped[str | None] = mapped_column(Text)
