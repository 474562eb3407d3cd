from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, IdMixin, utcnow

SCREENING_DECISIONS = ("eligible", "eligible_with_precautions", "not_eligible")
_DECISION_SQL = ", ".join(f"'{d}'" for d in SCREENING_DECISIONS)


class Screening(IdMixin, Base):
    """One pre-treatment screening of a patient (SPEC §11). Each one supersedes the last: the
    current screening is the latest by ``screened_at``. Never changed once written.

    ``failed_adequate_antidepressant_trials`` and ``meets_trd_criterion`` are derived from
    ``prior_treatments`` when recorded (api.clinical.screening) and stored, so the record shows
    what the clinician saw. ``baseline`` holds the scored pre-treatment assessments."""

    __tablename__ = "screenings"
    __table_args__ = (
        CheckConstraint(f"decision IN ({_DECISION_SQL})", name="decision"),
        CheckConstraint(
            "decision = 'eligible' OR decision_reason IS NOT NULL", name="decision_reason"
        ),
        Index("ix_screenings_patient_screened", "patient_id", "screened_at"),
    )

    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id"))
    screened_at: Mapped[datetime]
    indication: Mapped[str] = mapped_column(String(16))
    diagnoses: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    prior_treatments: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    failed_adequate_antidepressant_trials: Mapped[int] = mapped_column(Integer)
    meets_trd_criterion: Mapped[bool] = mapped_column(Boolean)
    contraindications: Mapped[dict[str, str]] = mapped_column(JSON)
    childbearing_potential: Mapped[bool] = mapped_column(Boolean)
    baseline: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    consent_signed_at: Mapped[datetime]
    consent_document_version: Mapped[str] = mapped_column(String(64))
    rems_enrolled_at: Mapped[datetime | None]
    rems_reference: Mapped[str | None] = mapped_column(String(128))
    decision: Mapped[str] = mapped_column(String(32))
    decision_reason: Mapped[str | None] = mapped_column(Text)
    valid_until: Mapped[date]
    recorded_by: Mapped[str | None] = mapped_column(String(64))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
