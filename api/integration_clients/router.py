"""Integration clients: API keys with 256 bits of entropy, shown once, stored hashed, revocable."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, status
from pydantic import ConfigDict, Field
from sqlalchemy import select

from api.audit import AuditDep
from api.db import DbSession
from api.errors import Conflict, NotFound
from api.openapi import PROBLEMS, problems
from api.pagination import Cursor, Limit, Page, cut_page, keyset
from api.security.tokens import new_api_key
from api.types import Id, ReadModel, StrictModel, parse_id
from models import IntegrationClient
from models.base import utcnow

router = APIRouter(
    prefix="/v1/integration-clients", tags=["integration clients"], responses=PROBLEMS
)


class ClientCreate(StrictModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"name": "ward-2 monitor gateway"}]})

    name: str = Field(min_length=1, max_length=200)


class ClientRead(ReadModel):
    id: Id
    name: str
    created_at: datetime
    revoked_at: datetime | None


class ClientCreated(ClientRead):
    api_key: str = Field(description="Shown once; store it now. Vigil keeps only a hash.")


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=ClientCreated,
    summary="Register an integration client and issue its API key (shown once)",
)
async def create_client(body: ClientCreate, db: DbSession, audit: AuditDep) -> ClientCreated:
    key, prefix, key_hash = new_api_key()
    client = IntegrationClient(
        name=body.name, key_prefix=prefix, key_hash=key_hash, created_by=audit.actor.id
    )
    db.add(client)
    await db.flush()
    audit.record("create", "integration_client", client.id)
    return ClientCreated(
        id=client.id, name=client.name, created_at=client.created_at, revoked_at=None, api_key=key
    )


@router.get(
    "",
    response_model=Page[ClientRead],
    summary="Integration clients, oldest first (keys never shown)",
)
async def list_clients(
    db: DbSession, audit: AuditDep, limit: Limit = 50, cursor: Cursor = None
) -> Page[ClientRead]:
    stmt = keyset(
        select(IntegrationClient),
        cursor=cursor,
        limit=limit,
        sort=IntegrationClient.created_at,
        tiebreak=IntegrationClient.id,
    )
    rows, next_cursor = cut_page(
        list((await db.scalars(stmt)).all()), limit, lambda c: (c.created_at, c.id)
    )
    audit.record("read", "integration_client", None)
    return Page(items=[ClientRead.model_validate(c) for c in rows], next_cursor=next_cursor)


@router.post(
    "/{client_id}/revoke",
    response_model=ClientRead,
    summary="Revoke a client's key",
    responses=problems(404, 409),
)
async def revoke_client(client_id: str, db: DbSession, audit: AuditDep) -> ClientRead:
    cid = parse_id(client_id)
    client = await db.get(IntegrationClient, cid) if cid else None
    if client is None:
        raise NotFound(f"No integration client with id {client_id}.")
    if client.revoked_at is not None:
        raise Conflict("This client's key is already revoked.")
    client.revoked_at = utcnow()
    client.revoked_by = audit.actor.id
    await db.flush()
    audit.record("revoke", "integration_client", client.id)
    return ClientRead.model_validate(client)
