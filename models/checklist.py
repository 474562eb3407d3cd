from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, IdMixin, utcnow


class SessionChecklist(IdMixin, Base):
    """A session's pre-session (``pre``) or discharge (``discharge``) checklist (SPEC §11).

    One per session and kind (UNIQUE), replaced while the session is in the phase that takes
    it; ``version`` counts the replacements and every one is audited."""

    __tablename__ = "session_checklists"
    __table_args__ = (
        CheckConstraint("kind IN ('pre', 'discharge')", name="kind"),
        UniqueConstraint("session_id", "kind"),
    )

    session_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("treatment_sessions.id"))
    kind: Mapped[str] = mapped_column(String(16))
    content: Mapped[dict[str, Any]] = mapped_column(JSON)
    version: Mapped[int] = mapped_column(Integer, default=1)
    recorded_by: Mapped[str | None] = mapped_column(String(64))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
