"""``vigil users create --username NAME --role ROLE``: password from stdin or a prompt."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys

from pydantic import ValidationError


def _read_password() -> str:
    if sys.stdin.isatty():
        first = getpass.getpass("Password: ")
        if getpass.getpass("Repeat password: ") != first:
            raise SystemExit("passwords do not match")
        return first
    return sys.stdin.readline().rstrip("\n")


async def _create(args: argparse.Namespace, password: str) -> int:
    from api.config import get_settings
    from api.db import create_engine, create_session_factory
    from api.errors import Conflict
    from api.users.schemas import UserCreate
    from api.users.service import create_user

    try:
        data = UserCreate(
            username=args.username,
            password=password,
            role=args.role,
            display_name=args.display_name or args.username,
        )
    except ValidationError as exc:
        for error in exc.errors():
            print(f"{'.'.join(map(str, error['loc']))}: {error['msg']}", file=sys.stderr)
        return 2
    engine = create_engine(get_settings())
    try:
        async with create_session_factory(engine)() as db:
            try:
                user = await create_user(db, data=data, created_by="cli")
            except Conflict as exc:
                print(exc.detail, file=sys.stderr)
                return 1
            await db.commit()
            print(f"created {user.role} {user.username} ({user.id})")
            return 0
    finally:
        await engine.dispose()


def _handle(args: argparse.Namespace) -> int:
    return asyncio.run(_create(args, _read_password()))


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    users = sub.add_parser("users", help="manage staff users")
    users_sub = users.add_subparsers(dest="users_command", required=True)
    create = users_sub.add_parser("create", help="create a staff user")
    create.add_argument("--username", required=True)
    create.add_argument("--role", required=True, choices=["admin", "clinician", "nurse"])
    create.add_argument("--display-name")
    create.set_defaults(handler=_handle)
