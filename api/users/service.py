"""Staff accounts: create, list, change, disable and enable, passwords, lock-outs.

A password change or reset, a disable and a role change move the user's token generation on,
which ends every token issued before (``api.security.tokens``); enabling does not move it
back."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from api.audit import Audit
from api.auth.service import unlock
from api.errors import Conflict, Forbidden, NotFound, ValidationFailed, field_error
from api.security.passwords import hash_password, password_problem, verify_password
from api.types import parse_id
from api.users import repository
from api.users.schemas import UserCreate, UserUpdate
from models import User


def check_password(password: str, username: str, loc: list[str | int]) -> None:
    problem = password_problem(password, username)
    if problem:
        raise ValidationFailed([field_error(loc, f"The password {problem}.")])


async def create_user(db: AsyncSession, *, data: UserCreate, created_by: str | None) -> User:
    check_password(data.password, data.username, ["body", "password"])
    user = User(
        username=data.username,
        display_name=data.display_name,
        role=data.role,
        phone=data.phone,
        email=data.email,
        password_hash=hash_password(data.password),
        created_by=created_by,
    )
    db.add(user)
    try:
        async with db.begin_nested():
            await db.flush()
    except IntegrityError:
        raise Conflict(f"The username {data.username} is taken.", field="username") from None
    return user


async def get_user(db: AsyncSession, user_id: str | uuid.UUID) -> User:
    uid = user_id if isinstance(user_id, uuid.UUID) else parse_id(user_id)
    user = await repository.user_by_id(db, uid)
    if user is None:
        raise NotFound(f"No user with id {user_id}.")
    return user


async def find_user(db: AsyncSession, id_or_username: str) -> User:
    """By id or username (the CLI's way of naming someone)."""
    user = await repository.user_by_id(db, parse_id(id_or_username))
    if user is None:
        user = await repository.user_by_username(db, id_or_username)
    if user is None:
        raise NotFound(f"No user with id or username {id_or_username}.")
    return user


async def list_users(
    db: AsyncSession, *, limit: int = 500, cursor: str | None = None
) -> tuple[list[User], str | None]:
    return await repository.page_users(db, limit=limit, cursor=cursor)


async def list_staff(
    db: AsyncSession,
    audit: Audit,
    *,
    roles: Sequence[str] | None,
    active: bool | None,
    limit: int,
    cursor: str | None,
) -> tuple[list[User], str | None]:
    """Staff members (to pick witnesses and clinicians), by username."""
    audit.record("read", "staff", None)
    return await repository.page_users(db, limit=limit, cursor=cursor, roles=roles, active=active)


def end_tokens(user: User) -> None:
    """Every token issued to ``user`` so far stops working."""
    user.token_generation += 1


async def set_disabled(db: AsyncSession, audit: Audit, user_id: str, disabled: bool) -> User:
    user = await get_user(db, user_id)
    if str(user.id) == audit.actor.id and disabled:
        raise Conflict("You cannot disable your own account.")
    if disabled and not user.disabled:
        end_tokens(user)
    user.disabled = disabled
    await db.flush()
    audit.record("disable" if disabled else "enable", "user", user.id)
    return user


async def update_user(db: AsyncSession, audit: Audit, user_id: str, data: UserUpdate) -> User:
    user = await get_user(db, user_id)
    changes: dict[str, Any] = data.model_dump(exclude_unset=True)
    for required in ("role", "display_name"):
        if required in changes and changes[required] is None:
            raise ValidationFailed([field_error(["body", required], "may not be null")])
    role = changes.get("role")
    if role is not None and role != user.role:
        if str(user.id) == audit.actor.id:
            raise Conflict(
                "You cannot change your own role; ask another administrator.", field="role"
            )
        end_tokens(user)
    for name, value in changes.items():
        setattr(user, name, value)
    await db.flush()
    audit.record("update", "user", user.id, detail=",".join(sorted(changes)) or None)
    return user


async def change_own_password(db: AsyncSession, audit: Audit, current: str, new: str) -> User:
    user = await get_user(db, audit.actor.id)
    if not verify_password(current, user.password_hash):
        raise Forbidden(
            "The current password is not right; type it again, or ask an administrator to "
            "reset it.",
            field="current",
        )
    check_password(new, user.username, ["body", "new"])
    if verify_password(new, user.password_hash):
        raise ValidationFailed(
            [field_error(["body", "new"], "The new password is the same as the current one.")]
        )
    user.password_hash = hash_password(new)
    end_tokens(user)
    await db.flush()
    audit.record("change_password", "user", user.id)
    return user


async def reset_password(db: AsyncSession, audit: Audit | None, user_id: str, new: str) -> User:
    user = await (get_user(db, user_id) if audit else find_user(db, user_id))
    check_password(new, user.username, ["body", "password"])
    user.password_hash = hash_password(new)
    end_tokens(user)
    await unlock(db, user)
    await db.flush()
    if audit:
        audit.record("reset_password", "user", user.id)
    return user


async def unlock_user(db: AsyncSession, audit: Audit | None, user_id: str) -> User:
    user = await (get_user(db, user_id) if audit else find_user(db, user_id))
    await unlock(db, user)
    await db.flush()
    if audit:
        audit.record("unlock", "user", user.id)
    return user
