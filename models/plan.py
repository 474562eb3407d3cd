from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, IdMixin, utcnow


class DosingPlan(IdMixin, Base):
    """A patient's dosing plan; its content lives in immutable revisions."""

    __tablename__ = "dosing_plans"
    __table_args__ = (CheckConstraint("status IN ('active', 'discontinued')", name="status"),)

    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="active")
    current_revision: Mapped[int] = mapped_column(Integer, default=1)
    version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(64))
    discontinued_at: Mapped[datetime | None]
    discontinued_by: Mapped[str | None] = mapped_column(String(64))
    discontinue_reason: Mapped[str | None] = mapped_column(Text)


class DosingPlanRevision(IdMixin, Base):
    """One full, never-edited version of a plan. Sessions pin (plan_id, revision)."""

    __tablename__ = "dosing_plan_revisions"
    __table_args__ = (
        UniqueConstraint("plan_id", "revision"),
        CheckConstraint("(dose_mg_per_kg IS NULL) <> (dose_mg IS NULL)", name="exactly_one_dose"),
        CheckConstraint("medication IN ('ketamine', 'esketamine')", name="medication"),
        CheckConstraint(
            "route IN ('iv_infusion', 'im', 'intranasal', 'sublingual', 'oral')", name="route"
        ),
        CheckConstraint("max_dose_mg > 0", name="max_dose_positive"),
        # PostgreSQL only (SQLite cannot add a CHECK to a referenced table in place).
        CheckConstraint("course_phase IN ('induction', 'maintenance')", name="course_phase"),
    )

    plan_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("dosing_plans.id"))
    revision: Mapped[int]
    medication: Mapped[str] = mapped_column(String(16))
    route: Mapped[str] = mapped_column(String(16))
    indication: Mapped[str] = mapped_column(String(16))
    dose_mg_per_kg: Mapped[float | None] = mapped_column(Float)
    dose_mg: Mapped[float | None] = mapped_column(Float)
    weight_basis: Mapped[str | None] = mapped_column(String(16))
    max_dose_mg: Mapped[float] = mapped_column(Float)
    infusion_minutes: Mapped[int | None]
    min_monitoring_minutes: Mapped[int]
    sessions_planned: Mapped[int | None]
    schedule_note: Mapped[str | None] = mapped_column(Text)
    course_phase: Mapped[str] = mapped_column(
        String(16), default="induction", server_default="induction"
    )
    min_interval_hours: Mapped[float | None] = mapped_column(Float)
    thresholds: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # why the dose is above the usual range / why a limit is looser than the clinic's (SPEC §3)
    above_usual_reason: Mapped[str | None] = mapped_column(Text)
    thresholds_reason: Mapped[str | None] = mapped_column(Text)
    reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(64))
