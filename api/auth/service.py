"""Staff login with lock-outs per account and address (``api.auth.throttle``); logout.

Every outcome is audited."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi import Request
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from api.audit import audit_row, client_address
from api.auth.throttle import Counter, count_failure, locked
from api.config import Settings
from api.deps import Actor
from api.errors import Unauthorized
from api.precommit import queue_audit
from api.security.passwords import verify_password
from api.security.tokens import issue_token, read_token
from api.types import parse_id
from models import LoginThrottle, RevokedToken, User
from models.base import utcnow

BAD_LOGIN = "Wrong username or password, or the account is locked or disabled."


def new_token(request: Request, user: User) -> str:
    settings: Settings = request.app.state.settings
    return issue_token(
        user_id=user.id,
        role=user.role,
        secret=request.app.state.secret_key,
        ttl_minutes=settings.token_ttl_minutes,
        generation=user.token_generation,
    )


async def login(request: Request, settings: Settings, username: str, password: str) -> str:
    """A token for good credentials. Failures say nothing about which part was wrong, count
    towards the lock-outs, and are written (with the audit event) in their own transaction."""
    factory = request.app.state.session_factory
    async with factory() as db:
        # The user's row is locked: one login of an account at a time, so its counters and
        # its per-address row are read and written by one transaction.
        user = await db.scalar(select(User).where(User.username == username).with_for_update())
        now = utcnow()
        ok = verify_password(password, user.password_hash if user else None)
        actor = Actor(id=str(user.id), role=user.role) if user else None
        address = (client_address(request) or "unknown")[:64]
        pair = (
            await db.scalar(
                select(LoginThrottle).where(
                    LoginThrottle.user_id == user.id, LoginThrottle.client_address == address
                )
            )
            if user is not None
            else None
        )
        reason: str | None = None
        if user is None:
            reason = "unknown user"
        elif user.disabled:
            reason = "disabled"
        else:
            pair_counter = Counter(
                pair.failures if pair else 0,
                pair.last_failure_at if pair else None,
                pair.locked_until if pair else None,
            )
            account = Counter(user.failed_logins, user.last_failed_login_at, user.locked_until)
            known = pair is not None and pair.last_success_at is not None
            if locked(now, pair_counter, account, known_address=known):
                reason = "locked"
            elif not ok:
                reason = _count(settings, now, user, pair_counter, account)
                if pair is None:
                    pair = LoginThrottle(user_id=user.id, client_address=address)
                    db.add(pair)
                pair.failures = pair_counter.failures
                pair.last_failure_at = pair_counter.last_failure_at
                pair.locked_until = pair_counter.locked_until
        if reason is not None:
            queue_audit(
                db,
                [
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
                ],
            )
            await db.commit()
            raise Unauthorized(BAD_LOGIN)
        assert user is not None
        user.failed_logins = 0
        user.last_failed_login_at = None
        if pair is None:
            pair = LoginThrottle(user_id=user.id, client_address=address)
            db.add(pair)
        pair.failures = 0
        pair.locked_until = None
        pair.last_success_at = now
        queue_audit(
            db,
            [
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
            ],
        )
        await db.commit()
        return new_token(request, user)


def _count(settings: Settings, now: datetime, user: User, pair: Counter, account: Counter) -> str:
    lockout = timedelta(minutes=settings.login_lockout_minutes)
    reason = "wrong password"
    if count_failure(now, pair, settings.login_max_failures, lockout):
        reason = "wrong password; locked from this address"
    if count_failure(now, account, settings.login_account_max_failures, lockout):
        reason = "wrong password; account locked except from known addresses"
    user.failed_logins = account.failures
    user.last_failed_login_at = account.last_failure_at
    user.locked_until = account.locked_until
    return reason


async def unlock(db: AsyncSession, user: User) -> None:
    """Clear every lock-out of ``user`` (account-wide and per address)."""
    user.failed_logins = 0
    user.last_failed_login_at = None
    user.locked_until = None
    for pair in await db.scalars(select(LoginThrottle).where(LoginThrottle.user_id == user.id)):
        pair.failures = 0
        pair.last_failure_at = None
        pair.locked_until = None


async def logout(db: AsyncSession, token: str, secret: str) -> None:
    """End ``token`` (it was just accepted, so it is a valid staff token): its ``jti`` is
    revoked until the token would have expired; revocations past that are pruned."""
    claims = read_token(token, secret=secret)
    user_id = parse_id(claims.user_id) if claims else None
    if claims is None or not claims.jti or user_id is None:
        return
    now = utcnow()
    await db.execute(delete(RevokedToken).where(RevokedToken.expires_at < now))
    if await db.get(RevokedToken, claims.jti) is None:
        db.add(
            RevokedToken(
                jti=claims.jti,
                user_id=user_id,
                expires_at=datetime.fromtimestamp(claims.expires_at, UTC),
                revoked_at=now,
            )
        )
        await db.flush()
