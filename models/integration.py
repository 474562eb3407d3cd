from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, IdMixin, utcnow

CHANNELS = ("observations", "hl7v2", "fhir")


class QuarantinedReading(IdMixin, Base):
    """A pushed reading (or whole message) Vigil could not store, kept with what was sent so
    nothing from a device is silently lost. Administrators list them; nothing is deleted."""

    __tablename__ = "quarantined_readings"
    __table_args__ = (
        CheckConstraint(
            "channel IN (" + ", ".join(f"'{c}'" for c in CHANNELS) + ")", name="channel"
        ),
        Index("ix_quarantined_readings_received", "received_at", "id"),
    )

    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    channel: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(80))
    device_identifier: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(String(40))
    detail: Mapped[str] = mapped_column(Text)
    raw: Mapped[Any] = mapped_column(JSON)
    message_control_id: Mapped[str | None] = mapped_column(String(200))
    item_index: Mapped[int | None] = mapped_column(Integer)
    session_id: Mapped[uuid.UUID | None]


class Hl7Message(IdMixin, Base):
    """Every ORU^R01 processed, by sender and MSH-10, with the ACK it got: a repeated message
    is answered with the stored ACK and stores nothing (the unique constraint decides)."""

    __tablename__ = "hl7_messages"
    __table_args__ = (UniqueConstraint("sender", "control_id"),)

    sender: Mapped[str] = mapped_column(String(255))
    control_id: Mapped[str] = mapped_column(String(200))
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    source: Mapped[str] = mapped_column(String(80))
    ack_code: Mapped[str] = mapped_column(String(2))
    ack: Mapped[str] = mapped_column(Text)
    stored: Mapped[int] = mapped_column(Integer, default=0)
    duplicates: Mapped[int] = mapped_column(Integer, default=0)
    skipped: Mapped[int] = mapped_column(Integer, default=0)
    rejected: Mapped[int] = mapped_column(Integer, default=0)
