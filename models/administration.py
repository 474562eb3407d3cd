from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import Boolean, CheckConstraint, Float, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, IdMixin, utcnow
from models.retraction import STATUS_CHECK, RetractableMixin

WITNESS_STATUSES = ("pending", "witnessed", "not_confirmed")
# witnessed_at is set exactly when the witness confirmed
WITNESSED_AT_CHECK = (
    "(witness_status IS NOT NULL AND witness_status = 'witnessed' AND witnessed_at IS NOT NULL)"
    " OR (witnessed_at IS NULL AND (witness_status IS NULL OR witness_status <> 'witnessed'))"
)


class Administration(RetractableMixin, IdMixin, Base):
    """A dose given in a session, with its waste: the controlled-substance record
    (21 CFR 1304.22(c); DOMAIN.md "Controlled substances"). Never deleted: a mistaken one is
    retracted (entered-in-error), stops counting toward the session total, and stays in the log."""

    __tablename__ = "administrations"
    __table_args__ = (
        CheckConstraint("medication IN ('ketamine', 'esketamine')", name="medication"),
        CheckConstraint(
            "route IN ('iv_infusion', 'im', 'intranasal', 'sublingual', 'oral')", name="route"
        ),
        CheckConstraint("dose_mg > 0", name="dose_positive"),
        CheckConstraint("wasted_mg IS NULL OR wasted_mg >= 0", name="waste_not_negative"),
        CheckConstraint(
            "wasted_mg IS NULL OR wasted_mg = 0 OR waste_witness_id IS NOT NULL",
            name="waste_witnessed",
        ),
        CheckConstraint(
            "waste_witness_id IS NULL OR waste_witness_id <> administered_by",
            name="witness_other_person",
        ),
        CheckConstraint("ended_at IS NULL OR ended_at >= started_at", name="ended_after_start"),
        CheckConstraint("devices IS NULL OR devices > 0", name="devices_positive"),
        CheckConstraint(STATUS_CHECK, name="status"),
        CheckConstraint(
            "witness_status IS NULL OR witness_status IN ('pending', 'witnessed', 'not_confirmed')",
            name="witness_status",
        ),
        CheckConstraint(
            "wasted_mg IS NULL OR wasted_mg = 0 OR witness_status IS NOT NULL",
            name="waste_has_witness_status",
        ),
        CheckConstraint(WITNESSED_AT_CHECK, name="witnessed_at"),
        Index("ix_administrations_session_started", "session_id", "started_at"),
        Index("ix_administrations_started_id", "started_at", "id"),
        Index("ix_administrations_lot_number", "lot_number"),
    )

    session_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("treatment_sessions.id"))
    medication: Mapped[str] = mapped_column(String(16))
    route: Mapped[str] = mapped_column(String(16))
    dose_mg: Mapped[float] = mapped_column(Float)
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    lot_number: Mapped[str] = mapped_column(String(64))
    expiry_date: Mapped[date | None]
    concentration_mg_per_ml: Mapped[float | None] = mapped_column(Float)
    volume_drawn_ml: Mapped[float | None] = mapped_column(Float)
    volume_administered_ml: Mapped[float | None] = mapped_column(Float)
    wasted_mg: Mapped[float | None] = mapped_column(Float)
    waste_witness_id: Mapped[str | None] = mapped_column(String(64))
    devices: Mapped[int | None]
    ndc: Mapped[str | None] = mapped_column(String(32))
    container: Mapped[str | None] = mapped_column(String(200))
    # waste only: pending until the witness confirms it signed in as themselves; waste recorded
    # before that rule reads not_confirmed (SPEC §6)
    witness_status: Mapped[str | None] = mapped_column(String(16))
    witnessed_at: Mapped[datetime | None]
    exceeds_planned_dose: Mapped[bool] = mapped_column(Boolean, default=False)
    override_reason: Mapped[str | None] = mapped_column(Text)
    administered_by: Mapped[str] = mapped_column(String(64))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
