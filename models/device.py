from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, IdMixin, utcnow


class Device(IdMixin, Base):
    """A monitor that pushes readings, known by its EUI-64 or serial number."""

    __tablename__ = "devices"

    # EUI-64s are stored normalized (16 upper-case hex digits) so every format finds them.
    identifier: Mapped[str] = mapped_column(String(64), unique=True)
    model: Mapped[str | None] = mapped_column(String(200))
    location: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(64))


class DeviceBinding(IdMixin, Base):
    """A device attached to a session: its readings from the session's check-in until the
    session ends (or the binding is released) belong to that session.

    A device has at most one open binding (``released_at IS NULL``): a partial unique index,
    which PostgreSQL and SQLite both enforce, so two nurses binding one monitor at the same
    moment cannot both succeed. Released bindings stay: late readings are routed through them.
    """

    __tablename__ = "device_bindings"
    __table_args__ = (
        Index(
            "uq_device_bindings_open_device",
            "device_id",
            unique=True,
            sqlite_where=text("released_at IS NULL"),
            postgresql_where=text("released_at IS NULL"),
        ),
        Index("ix_device_bindings_device_bound", "device_id", "bound_at"),
    )

    device_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("devices.id"))
    session_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("treatment_sessions.id"), index=True)
    bound_at: Mapped[datetime] = mapped_column(default=utcnow)
    bound_by: Mapped[str | None] = mapped_column(String(64))
    released_at: Mapped[datetime | None]
    released_by: Mapped[str | None] = mapped_column(String(64))
    release_reason: Mapped[str | None] = mapped_column(Text)
