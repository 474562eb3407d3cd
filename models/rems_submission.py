from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, IdMixin, utcnow


class RemsSubmission(IdMixin, Base):
    """That a session's REMS Patient Monitoring Form was filed (SPEC §6). One per session
    (UNIQUE): filing twice is 409."""

    __tablename__ = "rems_submissions"

    session_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("treatment_sessions.id"), unique=True)
    submitted_at: Mapped[datetime]
    reference: Mapped[str | None] = mapped_column(String(128))
    form_version: Mapped[str] = mapped_column(String(64))
    recorded_by: Mapped[str | None] = mapped_column(String(64))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
