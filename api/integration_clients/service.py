"""Integration clients: API keys with 256 bits of entropy, shown once, stored hashed, revocable."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from api.audit import Audit
from api.errors import Conflict, NotFound
from api.integration_clients import repository
from api.security.tokens import new_api_key
from api.types import parse_id
from models import IntegrationClient
from models.base import utcnow


async def create_client(db: AsyncSession, audit: Audit, name: str) -> tuple[IntegrationClient, str]:
    """The new client and its API key (the only time the key is seen)."""
    key, prefix, key_hash = new_api_key()
    client = IntegrationClient(
        name=name, key_prefix=prefix, key_hash=key_hash, created_by=audit.actor.id
    )
    db.add(client)
    await db.flush()
    audit.record("create", "integration_client", client.id)
    return client, key


async def list_clients(
    db: AsyncSession, audit: Audit, *, limit: int, cursor: str | None
) -> tuple[list[IntegrationClient], str | None]:
    rows, next_cursor = await repository.page_clients(db, limit=limit, cursor=cursor)
    audit.record("read", "integration_client", None)
    return rows, next_cursor


async def revoke_client(db: AsyncSession, audit: Audit, client_id: str) -> IntegrationClient:
    client = await repository.client_by_id(db, parse_id(client_id))
    if client is None:
        raise NotFound(f"No integration client with id {client_id}.")
    if client.revoked_at is not None:
        raise Conflict("This client's key is already revoked.")
    client.revoked_at = utcnow()
    client.revoked_by = audit.actor.id
    await db.flush()
    audit.record("revoke", "integration_client", client.id)
    return client
