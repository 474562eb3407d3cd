"""What a clinical record needs to be retracted (SPEC §1: nothing clinical is ever deleted).

A mistaken dose or score is not removed: its ``status`` becomes ``entered-in-error`` with who
retracted it, when and why, and it stops counting (totals, gates, trends, forms). Rows that
existed before retraction was possible read ``final`` (the server default).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, String, Text
from sqlalchemy.orm import Mapped, mapped_column

FINAL = "final"
ENTERED_IN_ERROR = "entered-in-error"
STATUS_CHECK = f"status IN ('{FINAL}', '{ENTERED_IN_ERROR}')"


class RetractableMixin:
    """``status`` and the three retraction fields. Each table adds
    ``CheckConstraint(STATUS_CHECK, name="status")`` to its ``__table_args__``."""

    status: Mapped[str] = mapped_column(String(24), default=FINAL, server_default=FINAL)
    retracted_at: Mapped[datetime | None]
    retracted_by: Mapped[str | None] = mapped_column(String(64))
    retraction_reason: Mapped[str | None] = mapped_column(Text)

    @classmethod
    def not_retracted(cls) -> ColumnElement[bool]:
        """The one filter for "this record still counts" (not entered in error)."""
        return cls.status == FINAL
