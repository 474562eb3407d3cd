from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Float, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, IdMixin, utcnow


class Patient(IdMixin, Base):
    __tablename__ = "patients"
    __table_args__ = (
        CheckConstraint("sex IN ('female', 'male', 'other', 'unknown')", name="sex"),
        CheckConstraint("height_cm IS NULL OR (height_cm > 30 AND height_cm < 260)", name="height"),
    )

    mrn: Mapped[str] = mapped_column(String(64), unique=True)
    # The MRN after Unicode case folding (api.patients.mrn.mrn_key), computed by the app so it
    # is the same on both databases: MRNs differing only in case are one patient.
    mrn_key: Mapped[str] = mapped_column(String(255), index=True, unique=True)
    given_name: Mapped[str] = mapped_column(String(200))
    family_name: Mapped[str] = mapped_column(String(200))
    birth_date: Mapped[date]
    sex: Mapped[str] = mapped_column(String(16))
    height_cm: Mapped[float | None] = mapped_column(Float)
    address: Mapped[str | None] = mapped_column(String(500))
    version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_by: Mapped[str | None] = mapped_column(String(64))

    def __repr__(self) -> str:  # no demographics in reprs: they end up in logs
        return f"Patient(id={self.id})"
