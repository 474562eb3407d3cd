from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from api.audit import Audit
from api.errors import Conflict, NotFound
from api.security.passwords import hash_password
from api.types import parse_id
from api.users.schemas import UserCreate
from models import User


async def create_user(db: AsyncSession, *, data: UserCreate, created_by: str | None) -> User:
    user = User(
        username=data.username,
        display_name=data.display_name,
        role=data.role,
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


async def get_user(db: AsyncSession, user_id: str) -> User:
    uid = parse_id(user_id)
    user = await db.get(User, uid) if uid else None
    if user is None:
        raise NotFound(f"No user with id {user_id}.")
    return user


async def list_users(db: AsyncSession) -> list[User]:
    return list((await db.scalars(select(User).order_by(User.username))).all())


async def set_disabled(db: AsyncSession, audit: Audit, user_id: str, disabled: bool) -> User:
    user = await get_user(db, user_id)
    if str(user.id) == audit.actor.id and disabled:
        raise Conflict("You cannot disable your own account.")
    user.disabled = disabled
    await db.flush()
    audit.record("disable" if disabled else "enable", "user", user.id)
    return user
