"""Queries on staff accounts that other domains need (names for messages)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api.types import parse_id
from models import User


async def display_name(db: AsyncSession, user_id: str | None) -> str | None:
    """A staff member's display name for a message, or None."""
    if not user_id:
        return None
    uid = parse_id(user_id)
    if uid is None:
        return None
    return await db.scalar(select(User.display_name).where(User.id == uid))
