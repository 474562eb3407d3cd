"""Queries on staff accounts."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api.pagination import cut_page, keyset
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


async def user_by_id(db: AsyncSession, user_id: uuid.UUID | None) -> User | None:
    return await db.get(User, user_id) if user_id else None


async def user_by_username(db: AsyncSession, username: str) -> User | None:
    return await db.scalar(select(User).where(User.username == username))


async def page_users(
    db: AsyncSession,
    *,
    limit: int,
    cursor: str | None,
    roles: Sequence[str] | None = None,
    active: bool | None = None,
) -> tuple[list[User], str | None]:
    """One page by username (unique), the cursor holding the last username; only ``roles``
    and only active (or only disabled) accounts when given."""
    stmt = select(User)
    if roles is not None:
        stmt = stmt.where(User.role.in_(roles))
    if active is not None:
        stmt = stmt.where(User.disabled.is_(not active))
    stmt = keyset(stmt, cursor=cursor, limit=limit, sort=User.username, tiebreak=User.id, kind=str)
    rows = list((await db.scalars(stmt)).all())
    return cut_page(rows, limit, lambda u: (u.username, u.id))
