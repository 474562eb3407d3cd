from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, status

from api.audit import AuditDep
from api.auth.schemas import TokenResponse
from api.auth.service import new_token
from api.db import DbSession
from api.errors import ValidationFailed, field_error
from api.openapi import PROBLEMS, problems
from api.pagination import Cursor, Limit, Page
from api.users import service
from api.users.schemas import (
    PasswordChange,
    PasswordReset,
    StaffRead,
    StaffRole,
    UserCreate,
    UserRead,
    UserUpdate,
)

router = APIRouter(prefix="/v1/users", tags=["users"], responses=PROBLEMS)
staff_router = APIRouter(prefix="/v1/staff", tags=["users"], responses=PROBLEMS)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=UserRead,
    summary="Create a staff user",
    responses=problems(409, 422),
)
async def create_user(body: UserCreate, db: DbSession, audit: AuditDep) -> UserRead:
    user = await service.create_user(db, data=body, created_by=audit.actor.id)
    audit.record("create", "user", user.id)
    return UserRead.model_validate(user)


@router.get("", response_model=Page[UserRead], summary="Staff users, by username")
async def list_users(
    db: DbSession, audit: AuditDep, limit: Limit = 50, cursor: Cursor = None
) -> Page[UserRead]:
    audit.record("read", "user", None)
    rows, next_cursor = await service.list_users(db, limit=limit, cursor=cursor)
    return Page(items=[UserRead.model_validate(u) for u in rows], next_cursor=next_cursor)


@router.get("/me", response_model=UserRead, summary="The logged-in user")
async def me(db: DbSession, audit: AuditDep) -> UserRead:
    return UserRead.model_validate(await service.get_user(db, audit.actor.id))


@router.post(
    "/me/password",
    response_model=TokenResponse,
    summary="Change your own password (ends every token you had; answers a new one)",
    responses=problems(403, 422),
)
async def change_password(
    body: PasswordChange, request: Request, db: DbSession, audit: AuditDep
) -> TokenResponse:
    user = await service.change_own_password(db, audit, body.current, body.new)
    return TokenResponse(
        access_token=new_token(request, user),
        expires_in=request.app.state.settings.token_ttl_minutes * 60,
    )


@router.patch(
    "/{user_id}",
    response_model=UserRead,
    summary="Change a user's role, display name, phone or email (a role change ends their tokens)",
    responses=problems(404, 409, 422),
)
async def update_user(user_id: str, body: UserUpdate, db: DbSession, audit: AuditDep) -> UserRead:
    return UserRead.model_validate(await service.update_user(db, audit, user_id, body))


@router.post(
    "/{user_id}/password",
    response_model=UserRead,
    summary="Reset a user's password (ends their tokens, clears their lock-outs)",
    responses=problems(404, 422),
)
async def reset_password(
    user_id: str, body: PasswordReset, db: DbSession, audit: AuditDep
) -> UserRead:
    return UserRead.model_validate(await service.reset_password(db, audit, user_id, body.password))


@router.post(
    "/{user_id}/unlock",
    response_model=UserRead,
    summary="Clear a user's lock-outs (from every address)",
    responses=problems(404),
)
async def unlock(user_id: str, db: DbSession, audit: AuditDep) -> UserRead:
    return UserRead.model_validate(await service.unlock_user(db, audit, user_id))


@router.post(
    "/{user_id}/disable",
    response_model=UserRead,
    summary="Disable a user (their tokens end for good)",
    responses=problems(404, 409),
)
async def disable(user_id: str, db: DbSession, audit: AuditDep) -> UserRead:
    return UserRead.model_validate(await service.set_disabled(db, audit, user_id, True))


@router.post(
    "/{user_id}/enable",
    response_model=UserRead,
    summary="Enable a user again (they log in again: old tokens stay ended)",
    responses=problems(404),
)
async def enable(user_id: str, db: DbSession, audit: AuditDep) -> UserRead:
    return UserRead.model_validate(await service.set_disabled(db, audit, user_id, False))


@staff_router.get(
    "",
    response_model=Page[StaffRead],
    summary="Staff members, to pick witnesses and clinicians (by username)",
)
async def list_staff(
    db: DbSession,
    audit: AuditDep,
    role: Annotated[
        str | None, Query(description="Comma-separated roles, e.g. `clinician,nurse`")
    ] = None,
    active: bool | None = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[StaffRead]:
    rows, next_cursor = await service.list_staff(
        db,
        audit,
        roles=_roles(role) if role else None,
        active=active,
        limit=limit,
        cursor=cursor,
    )
    return Page(
        items=[
            StaffRead(
                id=u.id,
                username=u.username,
                display_name=u.display_name,
                role=u.role,
                active=not u.disabled,
            )
            for u in rows
        ],
        next_cursor=next_cursor,
    )


def _roles(value: str) -> list[StaffRole]:
    allowed: tuple[StaffRole, ...] = ("admin", "clinician", "nurse")
    roles = [r.strip() for r in value.split(",") if r.strip()]
    bad = [r for r in roles if r not in allowed]
    if bad or not roles:
        raise ValidationFailed(
            [field_error(["query", "role"], f"roles are {', '.join(allowed)} (got {value})")]
        )
    return [r for r in allowed if r in roles]
