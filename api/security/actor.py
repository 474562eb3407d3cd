"""Who is calling: staff bearer token or integration API key, resolved once per request."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request
from sqlalchemy import bindparam, exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from api.db import detached_read
from api.deps import Actor
from api.errors import Unauthorized, database_unavailable
from api.security.tokens import api_key_matches, api_key_prefix, is_api_key, read_token
from api.types import parse_id
from models import IntegrationClient, RevokedToken, User


def bearer_token(request: Request) -> str:
    header = request.headers.get("authorization")
    if not header:
        raise Unauthorized("Log in and send 'Authorization: Bearer <token>'.")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Send credentials as 'Authorization: Bearer <token>'.")
    return token.strip()


async def resolve_actor(request: Request) -> Actor:
    token = bearer_token(request)
    db: AsyncSession | None = getattr(request.state, "db", None)
    if db is not None:
        # The request's own transaction (``authorize`` put it there): no second connection
        # checkout, ping and transaction for the look-up every request makes.
        return await _actor_for(db, request, token)
    async with request.app.state.session_factory() as own:
        try:
            return await _actor_for(own, request, token)
        finally:
            await own.rollback()


# Built once: every request runs one of them.
_CLIENT = select(
    IntegrationClient.id,
    IntegrationClient.name,
    IntegrationClient.key_hash,
    IntegrationClient.revoked_at,
).where(IntegrationClient.key_prefix == bindparam("prefix"))
_USER = select(
    User.id,
    User.role,
    User.username,
    User.disabled,
    User.token_generation,
    exists().where(RevokedToken.jti == bindparam("jti")).label("revoked"),
).where(User.id == bindparam("user_id"))


async def actor_for_credential(db: AsyncSession, token: str, *, secret: str) -> Actor | None:
    """Who ``token`` (bearer token or API key) authenticates right now; None when nobody:
    malformed, expired, logged out, issued before the user's last password change, reset,
    disable or role change, the user disabled, or the key revoked. One query."""
    if is_api_key(token):
        client = (await db.execute(_CLIENT, {"prefix": api_key_prefix(token)})).first()
        if (
            client is None
            or client.revoked_at is not None
            or not api_key_matches(token, client.key_hash)
        ):
            return None
        return Actor(id=str(client.id), role="integration", kind="integration", name=client.name)
    claims = read_token(token, secret=secret)
    user_id = parse_id(claims.user_id) if claims else None
    if claims is None or user_id is None:
        return None
    user = (await db.execute(_USER, {"user_id": user_id, "jti": claims.jti})).first()
    if user is None or user.disabled or user.revoked or user.token_generation != claims.generation:
        return None
    return Actor(id=str(user.id), role=user.role, kind="user", name=user.username)


def still_valid_check(request: Request) -> Callable[[], Awaitable[bool]]:
    """For a response that outlives its request (a live stream): a check, to run again and
    again, that the credentials the request came with are still valid: the same look-up as
    at the request's start (token signature and expiry, the user enabled and every rule on
    which tokens stay valid; an integration key not revoked), in a transaction of its own.

    A request authenticated without a bearer header (e.g. a single-use stream ticket) is
    checked by who it acts as: the user still enabled, the client not revoked.

    While the database cannot be reached the answer is "still valid": nothing is served
    from it meanwhile, and the next check decides.
    """
    header = request.headers.get("authorization")
    token = bearer_token(request) if header else None
    actor: Actor | None = getattr(request.state, "actor", None)
    factory = request.app.state.session_factory

    async def check(db: AsyncSession) -> bool:
        if token is not None:
            await _actor_for(db, request, token)
            return True
        return actor is not None and await _actor_still_enabled(db, actor)

    async def still_valid() -> bool:
        # detached: a stream cancelled during the check must not leave its transaction open
        try:
            return await detached_read(factory, check)
        except Unauthorized:
            return False
        except Exception as exc:
            if database_unavailable(exc):
                return True
            raise

    return still_valid


async def _actor_still_enabled(db: AsyncSession, actor: Actor) -> bool:
    actor_id = parse_id(actor.id)
    if actor_id is None:
        return False
    if actor.kind == "integration":
        return await integration_client_active(db, actor_id)
    user = (await db.execute(_USER, {"user_id": actor_id, "jti": ""})).first()
    return user is not None and not user.disabled and user.role == actor.role


_CLIENT_ACTIVE = select(IntegrationClient.revoked_at).where(
    IntegrationClient.id == bindparam("client_id")
)


async def integration_client_active(db: AsyncSession, client_id: uuid.UUID) -> bool:
    """Whether an integration client exists and is not revoked (for channels without a key
    on every message, such as MLLP)."""
    found = (await db.execute(_CLIENT_ACTIVE, {"client_id": client_id})).first()
    return found is not None and found.revoked_at is None


async def _actor_for(db: AsyncSession, request: Request, token: str) -> Actor:
    actor = await actor_for_credential(db, token, secret=request.app.state.secret_key)
    if actor is None:
        if is_api_key(token):
            raise Unauthorized("The API key is not valid or has been revoked.")
        raise Unauthorized(
            "The token is not valid, has expired or was ended (logout, password change, "
            "disabled account); log in again."
        )
    return actor


def install_actor_resolver(app: FastAPI) -> None:
    app.state.actor_resolver = resolve_actor


async def credential_still_valid(db: AsyncSession, credential: str, *, secret: str) -> bool:
    """Does ``credential`` (a staff bearer token or an integration API key) still authenticate
    anyone? False once the token expired, was logged out or ended by a password change, reset,
    disable or role change, or the key was revoked. One query in ``db``; call it again at every
    heartbeat of anything long-lived that was let in with this credential."""
    return await actor_for_credential(db, credential, secret=secret) is not None
