from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, CheckConstraint, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, utcnow

EVENT_KINDS = ("reading", "alert", "status")


class LiveEvent(Base):
    """The append-only outbox behind the live streams (SSE).

    Written in the same transaction as the change it announces; ``id`` only grows and is the
    SSE event id, so ``Last-Event-ID`` resumes across processes and restarts. Ids are given
    under a transaction-level lock inside COMMIT (see ``api.live.outbox``), so they become visible
    in id order and a reader never skips one that commits late.
    """

    __tablename__ = "live_events"
    __table_args__ = (
        CheckConstraint("kind IN (" + ", ".join(f"'{k}'" for k in EVENT_KINDS) + ")", name="kind"),
        Index("ix_live_events_session_id_id", "session_id", "id"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    kind: Mapped[str] = mapped_column(String(16))
    session_id: Mapped[uuid.UUID | None]
    patient_id: Mapped[uuid.UUID | None]
    payload: Mapped[Any] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
