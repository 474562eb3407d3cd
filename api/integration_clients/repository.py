from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api.pagination import cut_page, keyset
from models import IntegrationClient


async def client_by_id(db: AsyncSession, client_id: uuid.UUID | None) -> IntegrationClient | None:
    return await db.get(IntegrationClient, client_id) if client_id else None


async def page_clients(
    db: AsyncSession, *, limit: int, cursor: str | None
) -> tuple[list[IntegrationClient], str | None]:
    """Oldest first; keyset on (created_at, id)."""
    stmt = keyset(
        select(IntegrationClient),
        cursor=cursor,
        limit=limit,
        sort=IntegrationClient.created_at,
        tiebreak=IntegrationClient.id,
    )
    return cut_page(list((await db.scalars(stmt)).all()), limit, lambda c: (c.created_at, c.id))
