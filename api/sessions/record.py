"""Parts of the session record owned by other domains (administrations, alerts)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from models import TreatmentSession


async def extra_record_parts(db: AsyncSession, session: TreatmentSession) -> dict[str, Any]:
    return {
        "administrations": [],
        "alert_counts": {"open": 0, "acknowledged": 0, "resolved": 0, "critical_open": 0},
    }
