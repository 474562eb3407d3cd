from __future__ import annotations

from fastapi import APIRouter, status

from api.audit import AuditDep
from api.db import DbSession
from api.openapi import PROBLEMS, problems
from api.users import service
from api.users.schemas import UserCreate, UserRead

router = APIRouter(prefix="/v1/users", tags=["users"], responses=PROBLEMS)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=UserRead,
    summary="Create a staff user",
    responses=problems(409),
)
async def create_user(body: UserCreate, db: DbSession, audit: AuditDep) -> UserRead:
    user = await service.create_user(db, data=body, created_by=audit.actor.id)
    audit.record("create", "user", user.id)
    return UserRead.model_validate(user)


@router.get("", response_model=list[UserRead], summary="Staff users")
async def list_users(db: DbSession, audit: AuditDep) -> list[UserRead]:
    audit.record("read", "user", None)
    return [UserRead.model_validate(u) for u in await service.list_users(db)]


@router.get("/me", response_model=UserRead, summary="The logged-in user")
async def me(db: DbSession, audit: AuditDep) -> UserRead:
    return UserRead.model_validate(await service.get_user(db, audit.actor.id))


@router.post(
    "/{user_id}/disable",
    response_model=UserRead,
    summary="Disable a user (tokens stop working)",
    responses=problems(404, 409),
)
async def disable(user_id: str, db: DbSession, audit: AuditDep) -> UserRead:
    return UserRead.model_validate(await service.set_disabled(db, audit, user_id, True))


@router.post(
    "/{user_id}/enable",
    response_model=UserRead,
    summary="Enable a user again",
    responses=problems(404),
)
async def enable(user_id: str, db: DbSession, audit: AuditDep) -> UserRead:
    return UserRead.model_validate(await service.set_disabled(db, audit, user_id, False))
