from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, IdMixin, utcnow

SESSION_STATUSES = (
    "scheduled",
    "checked_in",
    "dosing",
    "monitoring",
    "discharged",
    "cancelled",
    "transferred",
)
_STATUS_SQL = ", ".join(f"'{s}'" for s in SESSION_STATUSES)


class TreatmentSession(IdMixin, Base):
    """One clinic visit: check-in, dosing, monitoring, discharge."""

    __tablename__ = "treatment_sessions"
    __table_args__ = (
        CheckConstraint(f"status IN ({_STATUS_SQL})", name="status"),
        ForeignKeyConstraint(
            ["plan_id", "plan_revision"],
            ["dosing_plan_revisions.plan_id", "dosing_plan_revisions.revision"],
            name="fk_treatment_sessions_plan_revision",
        ),
        Index("ix_treatment_sessions_scheduled_at_id", "scheduled_at", "id"),
        Index("ix_treatment_sessions_patient_scheduled", "patient_id", "scheduled_at"),
    )

    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id"))
    plan_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("dosing_plans.id"))
    plan_revision: Mapped[int]
    status: Mapped[str] = mapped_column(String(16), default="scheduled")
    scheduled_at: Mapped[datetime]
    location: Mapped[str | None] = mapped_column(String(64))
    # the clinician answerable for the session (a user id): the REMS form's monitoring provider
    responsible_clinician: Mapped[str | None] = mapped_column(String(64))
    checked_in_at: Mapped[datetime | None]
    dosing_started_at: Mapped[datetime | None]
    dosing_ended_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    weight_kg: Mapped[float | None] = mapped_column(Float)
    weight_basis: Mapped[str | None] = mapped_column(String(16))
    basis_weight_kg: Mapped[float | None] = mapped_column(Float)
    dose_mg_per_kg: Mapped[float | None] = mapped_column(Float)
    uncapped_dose_mg: Mapped[float | None] = mapped_column(Float)
    planned_dose_mg: Mapped[float | None] = mapped_column(Float)
    dose_capped: Mapped[bool] = mapped_column(Boolean, default=False)
    version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(64))


class SessionTransition(IdMixin, Base):
    """Every status change, with who made it and any override: part of the clinical record."""

    __tablename__ = "session_transitions"

    session_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("treatment_sessions.id"), index=True)
    from_status: Mapped[str] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime]
    reason: Mapped[str | None] = mapped_column(Text)
    override_reason: Mapped[str | None] = mapped_column(Text)
    overridden: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    recorded_by: Mapped[str | None] = mapped_column(String(64))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
