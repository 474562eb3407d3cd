"""Integration clients: API keys with 256 bits of entropy, shown once, stored hashed, revocable."""

from __future__ import annotations

from fastapi import APIRouter, status

from api.audit import AuditDep
from api.db import DbSession
from api.integration_clients import service
from api.integration_clients.schemas import ClientCreate, ClientCreated, ClientRead
from api.openapi import PROBLEMS, problems
from api.pagination import Cursor, Limit, Page

router = APIRouter(
    prefix="/v1/integration-clients", tags=["integration clients"], responses=PROBLEMS
)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=ClientCreated,
    summary="Register an integration client and issue its API key (shown once)",
)
async def create_client(body: ClientCreate, db: DbSession, audit: AuditDep) -> ClientCreated:
    client, key = await service.create_client(db, audit, body.name)
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
    rows, next_cursor = await service.list_clients(db, audit, limit=limit, cursor=cursor)
    return Page(items=[ClientRead.model_validate(c) for c in rows], next_cursor=next_cursor)


@router.post(
    "/{client_id}/revoke",
    response_model=ClientRead,
    summary="Revoke a client's key",
    responses=problems(404, 409),
)
async def revoke_client(client_id: str, db: DbSession, audit: AuditDep) -> ClientRead:
    return ClientRead.model_validate(await service.revoke_client(db, audit, client_id))
