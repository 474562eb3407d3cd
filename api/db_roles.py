"""PostgreSQL: the application runs as a role that cannot rewrite the audit trail (SPEC §9).

Two roles: the **owner** (owns the schema; runs ``vigil migrate`` and this command) and the
**application** role (``DATABASE_URL`` of ``vigil serve``), which gets the rights the app
needs: SELECT, INSERT, UPDATE, DELETE on Vigil's tables, except ``audit_events`` where it may
only INSERT and SELECT, and ``alembic_version`` which it may only read. Not owning the tables,
it cannot ALTER them, so it cannot disable or drop the append-only trigger either.

``vigil db grant-app-role NAME`` (run as the owner, after every ``vigil migrate``: it is
idempotent) creates the role if needed (LOGIN; the password from ``VIGIL_APP_DB_PASSWORD``, if
set) and (re)grants exactly those rights. docs/postgresql-roles.md walks through it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import sys

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


def _ident(name: str) -> str:
    if not _NAME.fullmatch(name):
        raise ValueError(f"role names are lowercase letters, digits and _ (got {name!r})")
    return f'"{name}"'


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def grant_statements(role: str, database: str, password: str | None = None) -> list[str]:
    r = _ident(role)
    create = (
        "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = "
        f"{_literal(role)}) THEN CREATE ROLE {r} LOGIN; END IF; END $$"
    )
    statements = [create]
    if password:
        statements.append(f"ALTER ROLE {r} LOGIN PASSWORD {_literal(password)}")
    db = '"' + database.replace('"', '""') + '"'
    return [
        *statements,
        f"GRANT CONNECT ON DATABASE {db} TO {r}",
        f"GRANT USAGE ON SCHEMA public TO {r}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {r}",
        f"GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO {r}",
        # the audit trail: append and read, nothing else (from PUBLIC neither)
        "REVOKE UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON audit_events FROM PUBLIC",
        f"REVOKE ALL ON audit_events FROM {r}",
        f"GRANT SELECT, INSERT ON audit_events TO {r}",
        # the schema's version is the owner's to move
        f"REVOKE ALL ON alembic_version FROM {r}",
        f"GRANT SELECT ON alembic_version TO {r}",
        # tables a later migration adds (the command is run again after it regardless)
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE "
        f"ON TABLES TO {r}",
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT, UPDATE "
        f"ON SEQUENCES TO {r}",
    ]


async def grant_app_role(conn: AsyncConnection, role: str, password: str | None = None) -> None:
    """Create/grant ``role`` as the application role of the database ``conn`` is on."""
    owner = await conn.scalar(
        text("SELECT tableowner FROM pg_tables WHERE tablename = 'audit_events'")
    )
    if owner is None:
        raise RuntimeError("no audit_events table here: run `vigil migrate` first")
    if owner == role:
        raise RuntimeError(
            f"{role} owns the tables: the application role must be another role than the "
            "owner that runs the migrations"
        )
    database = str(await conn.scalar(text("SELECT current_database()")))
    for statement in grant_statements(role, database, password):
        await conn.execute(text(statement))
    member = await conn.scalar(
        text("SELECT pg_has_role(:role, :owner, 'MEMBER')"), {"role": role, "owner": owner}
    )
    if member:
        raise RuntimeError(
            f"{role} is a member of the owner role {owner}, so it has the owner's rights; "
            f"REVOKE {owner} FROM {role} first"
        )


async def _run(role: str) -> int:
    from api.config import get_settings
    from api.db import create_engine

    settings = get_settings()
    if not settings.is_postgres:
        print("grant-app-role is for PostgreSQL (DATABASE_URL=postgresql+asyncpg://...)")
        return 2
    engine = create_engine(settings)
    try:
        async with engine.begin() as conn:
            await grant_app_role(conn, role, os.environ.get("VIGIL_APP_DB_PASSWORD") or None)
    except (RuntimeError, ValueError) as exc:
        print(exc, file=sys.stderr)
        return 1
    finally:
        await engine.dispose()
    print(f"{role}: may read and append audit_events only, and use every other table")
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    db = sub.add_parser("db", help="database administration (PostgreSQL roles)")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    grant = db_sub.add_parser(
        "grant-app-role",
        help="create/grant the application's role (run as the owner, after each migrate)",
    )
    grant.add_argument("role", help="the role `vigil serve` connects as, e.g. vigil_app")
    grant.set_defaults(handler=lambda args: asyncio.run(_run(args.role)))
