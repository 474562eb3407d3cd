"""Staff login with lock-out after repeated failures (all outcomes audited)."""

from __future__ import annotations

from datetime import timedelta

from fastapi import Request
from sqlalchemy import select

from api.audit import audit_row
from api.config import Settings
from api.deps import Actor
from api.errors import Unauthorized
from api.security.passwords import verify_password
from api.security.tokens import issue_token
from models import User
from models.base import utcnow

BAD_LOGIN = "Wrong username or password, or the account is locked or disabled."


async def login(request: Request, settings: Settings, username: str, password: str) -> str:
    """A token for good credentials. Failures say nothing about which part was wrong, count
    towards a lock-out, and are written (with the audit event) in their own transaction."""
    factory = request.app.state.session_factory
    async with factory() as db:
        user = await db.scalar(select(User).where(User.username == username).with_for_update())
        now = utcnow()
        ok = verify_password(password, user.password_hash if user else None)
        actor = Actor(id=str(user.id), role=user.role) if user else None
        if (
            user is None
            or user.disabled
            or not ok
            or (user.locked_until is not None and user.locked_until > now)
        ):
            reason = (
                "unknown user"
                if user is None
                else (
                    "disabled"
                    if user.disabled
                    else "locked"
                    if user.locked_until and user.locked_until > now
                    else "wrong password"
                )
            )
            if user is not None and not user.disabled and ok is False:
                user.failed_logins += 1
                if user.failed_logins >= settings.login_max_failures:
                    user.locked_until = now + timedelta(minutes=settings.login_lockout_minutes)
                    user.failed_logins = 0
                    reason = "wrong password; account locked"
            db.add(
                audit_row(
                    request,
                    actor,
                    action="login",
                    resource_type="user",
                    resource_id=str(user.id) if user else None,
                    patient_id=None,
                    outcome="failure",
                    detail=reason,
                )
            )
            await db.commit()
            raise Unauthorized(BAD_LOGIN)
        user.failed_logins = 0
        user.locked_until = None
        db.add(
            audit_row(
                request,
                actor,
                action="login",
                resource_type="user",
                resource_id=str(user.id),
                patient_id=None,
                outcome="success",
                detail=None,
            )
        )
        await db.commit()
        return issue_token(
            user_id=user.id,
            role=user.role,
            secret=request.app.state.secret_key,
            ttl_minutes=settings.token_ttl_minutes,
        )
