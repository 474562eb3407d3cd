"""First start on an empty database: create ``admin`` from VIGIL_BOOTSTRAP_ADMIN_PASSWORD."""

from __future__ import annotations

import logging

from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from api.errors import database_unavailable
from api.security.passwords import hash_password, password_problem
from models import User

log = logging.getLogger("vigil.security")


async def bootstrap_admin(app: FastAPI) -> None:
    if not app.state.readiness.ready:
        return
    try:
        await _create_admin_if_no_users(app)
    except Exception as exc:
        if not database_unavailable(exc):
            raise
        # The database went away between the readiness check and here. Start anyway (the API
        # answers 503 until it is back) instead of failing start-up, which would make the
        # supervisor stop every worker; the next start creates the admin if still needed.
        log.warning("bootstrap admin not checked: database unavailable (%s)", type(exc).__name__)


async def _create_admin_if_no_users(app: FastAPI) -> None:
    password = app.state.settings.bootstrap_admin_password
    async with app.state.session_factory() as db:
        if await db.scalar(select(func.count()).select_from(User)):
            return
        if not password:
            log.warning(
                "no users yet: set VIGIL_BOOTSTRAP_ADMIN_PASSWORD or run `vigil users create`"
            )
            return
        problem = password_problem(password, "admin")
        if problem:
            raise RuntimeError(f"VIGIL_BOOTSTRAP_ADMIN_PASSWORD: the password {problem}")
        db.add(
            User(
                username="admin",
                display_name="Administrator",
                role="admin",
                password_hash=hash_password(password),
                created_by="bootstrap",
            )
        )
        try:
            await db.commit()
            log.info("created the bootstrap admin user")
        except IntegrityError:  # another process got there first
            await db.rollback()
