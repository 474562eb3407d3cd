"""``vigil users list|create|disable|enable|reset-password|unlock``.

Passwords come from stdin (or a prompt on a terminal), never from the command line. Users are
named by username or id. Every change is audited with actor ``cli``.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
import uuid
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from models import User


def _read_password() -> str:
    if sys.stdin.isatty():
        first = getpass.getpass("Password: ")
        if getpass.getpass("Repeat password: ") != first:
            raise SystemExit("passwords do not match")
        return first
    return sys.stdin.readline().rstrip("\n")


def _cli_audit(db: AsyncSession, action: str, user: User) -> None:
    from api.precommit import queue_audit
    from models.base import utcnow

    queue_audit(
        db,
        [
            {
                "id": uuid.uuid4(),
                "at": utcnow(),
                "actor_id": "cli",
                "role": None,
                "action": action,
                "resource_type": "user",
                "resource_id": str(user.id),
                "patient_id": None,
                "client_address": None,
                "request_id": None,
                "outcome": "success",
                "detail": f"vigil users {action}",
            }
        ],
    )


async def _with_db(work: Callable[[AsyncSession], Awaitable[int]]) -> int:
    from api.config import get_settings
    from api.db import create_engine, create_session_factory
    from api.errors import DomainError

    engine = create_engine(get_settings())
    try:
        async with create_session_factory(engine)() as db:
            try:
                status = await work(db)
            except DomainError as exc:
                errors: list[dict[str, Any]] = exc.extra.get("errors") or []
                print("; ".join(str(e["msg"]) for e in errors) or exc.detail, file=sys.stderr)
                return 1
            await db.commit()
            return status
    finally:
        await engine.dispose()


def _describe(user: User) -> str:
    state = "disabled" if user.disabled else "active"
    return f"{user.username}\t{user.role}\t{state}\t{user.display_name}\t{user.id}"


async def _create(args: argparse.Namespace, password: str) -> int:
    from api.users.schemas import UserCreate
    from api.users.service import create_user

    try:
        data = UserCreate(
            username=args.username,
            password=password,
            role=args.role,
            display_name=args.display_name or args.username,
            phone=args.phone,
            email=args.email,
        )
    except ValidationError as exc:
        for error in exc.errors():
            print(f"{'.'.join(map(str, error['loc']))}: {error['msg']}", file=sys.stderr)
        return 2

    async def work(db: AsyncSession) -> int:
        user = await create_user(db, data=data, created_by="cli")
        _cli_audit(db, "create", user)
        print(f"created {user.role} {user.username} ({user.id})")
        return 0

    return await _with_db(work)


async def _list(_args: argparse.Namespace) -> int:
    from api.users.service import list_users

    async def work(db: AsyncSession) -> int:
        cursor: str | None = None
        while True:
            users, cursor = await list_users(db, limit=500, cursor=cursor)
            for user in users:
                print(_describe(user))
            if cursor is None:
                return 0

    return await _with_db(work)


async def _change(args: argparse.Namespace, password: str | None = None) -> int:
    from api.users import service

    async def work(db: AsyncSession) -> int:
        action = args.users_command
        if action == "reset-password":
            assert password is not None
            user = await service.reset_password(db, None, args.user, password)
        elif action == "unlock":
            user = await service.unlock_user(db, None, args.user)
        else:
            user = await service.find_user(db, args.user)
            if action == "disable" and not user.disabled:
                service.end_tokens(user)
            user.disabled = action == "disable"
        _cli_audit(db, action, user)
        print(f"{action}: {_describe(user)}")
        return 0

    return await _with_db(work)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    users = sub.add_parser("users", help="manage staff users")
    users_sub = users.add_subparsers(dest="users_command", required=True)
    create = users_sub.add_parser("create", help="create a staff user (password on stdin)")
    create.add_argument("--username", required=True)
    create.add_argument("--role", required=True, choices=["admin", "clinician", "nurse"])
    create.add_argument("--display-name")
    create.add_argument("--phone")
    create.add_argument("--email")
    create.set_defaults(handler=lambda args: asyncio.run(_create(args, _read_password())))
    listing = users_sub.add_parser("list", help="every user: username, role, state, name, id")
    listing.set_defaults(handler=lambda args: asyncio.run(_list(args)))
    for name, help_text in (
        ("disable", "disable a user (their tokens end for good)"),
        ("enable", "enable a user again (old tokens stay ended)"),
        ("unlock", "clear a user's lock-outs"),
        ("reset-password", "set a user's password (on stdin); ends their tokens"),
    ):
        command = users_sub.add_parser(name, help=help_text)
        command.add_argument("user", help="username or id")
        if name == "reset-password":
            command.set_defaults(handler=lambda args: asyncio.run(_change(args, _read_password())))
        else:
            command.set_defaults(handler=lambda args: asyncio.run(_change(args)))
