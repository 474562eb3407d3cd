from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, IdMixin, utcnow
from models.retraction import STATUS_CHECK, RetractableMixin

INSTRUMENTS = ("phq9", "gad7", "pcl5", "madrs", "ybocs", "cadss", "moaas", "rass")
_INSTRUMENT_SQL = ", ".join(f"'{i}'" for i in INSTRUMENTS)


class Assessment(RetractableMixin, IdMixin, Base):
    """One rating-scale result, scored by the server (SPEC §6, DOMAIN.md "Scales").

    ``items`` holds the answers of item instruments (null for MOAA/S and RASS, which are a
    single ``total``). ``total`` and ``band`` are computed when recorded and stored so the record
    shows what the clinician saw. A mistaken one is retracted (entered-in-error), never deleted.
    """

    __tablename__ = "assessments"
    __table_args__ = (
        CheckConstraint(f"instrument IN ({_INSTRUMENT_SQL})", name="instrument"),
        CheckConstraint(
            "(items IS NULL) = (instrument IN ('moaas', 'rass'))", name="items_for_item_scales"
        ),
        CheckConstraint(STATUS_CHECK, name="status"),
        CheckConstraint("(session_id IS NULL) = (source IS NOT NULL)", name="session_or_source"),
        CheckConstraint(
            "source IS NULL OR source IN ('clinic', 'phone', 'patient_reported')", name="source"
        ),
        Index("ix_assessments_session_administered", "session_id", "administered_at"),
        Index("ix_assessments_patient_administered", "patient_id", "administered_at"),
    )

    # A session's assessment, or one taken between sessions (no session; ``source`` says how).
    session_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("treatment_sessions.id"))
    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id"))
    source: Mapped[str | None] = mapped_column(String(20))
    instrument: Mapped[str] = mapped_column(String(16))
    items: Mapped[list[int] | None] = mapped_column(JSON(none_as_null=True))
    total: Mapped[int] = mapped_column(Integer)
    band: Mapped[str | None] = mapped_column(String(32))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    administered_at: Mapped[datetime]
    recorded_by: Mapped[str | None] = mapped_column(String(64))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
