from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession


async def open_critical_alert_ids_for_session(db: AsyncSession, session_id: uuid.UUID) -> list[str]:
    return []  # alerts arrive with the clinical-safety work


async def raise_alerts_for_readings(
    db: AsyncSession, session: object, readings: list[dict[str, object]]
) -> list[dict[str, object]]:
    return []  # alerts arrive with the clinical-safety work


async def resolve_alerts_for_observation(db: AsyncSession, observation_id: uuid.UUID) -> None:
    return None  # alerts arrive with the clinical-safety work
