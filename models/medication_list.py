from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, IdMixin, utcnow

MEDICATION_CLASSES = (
    "benzodiazepine",
    "sedative_hypnotic",
    "psychostimulant",
    "maoi",
    "opioid",
    "antidepressant",
    "mood_stabilizer",
    "antipsychotic",
    "other",
)


class MedicationListVersion(IdMixin, Base):
    """One version of a patient's current medicines (SPEC §11). A change is a new version;
    every version is kept, and the REMS form reads the one in force at the session. The
    unique (patient, version) settles two concurrent writers: one wins, the other is 409."""

    __tablename__ = "medication_list_versions"
    __table_args__ = (UniqueConstraint("patient_id", "version"),)

    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id"))
    version: Mapped[int] = mapped_column(Integer)
    items: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    recorded_by: Mapped[str | None] = mapped_column(String(64))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
