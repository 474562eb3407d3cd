from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from api.clinical.gates import SedationScore


async def sedation_scores_for_session(
    db: AsyncSession, session_id: uuid.UUID
) -> list[SedationScore]:
    return []  # assessments arrive with the clinical-safety work
