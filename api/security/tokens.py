"""Signed, expiring bearer tokens for staff (JWT, HS256) and API keys for integration clients.

A staff token carries the user's ``token_generation`` (``gen``) when it was issued and a
``jti``: it stops working when the user's generation moves on (a password change or reset, a
disable, a role change: re-enabling does not move it back) or when its ``jti`` is revoked
(``POST /v1/auth/logout``). :func:`api.security.actor.credential_still_valid` is the one check,
for every request and for anything that holds a credential for longer (live streams, MLLP).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt

ALGORITHM = "HS256"
ISSUER = "vigil"
API_KEY_PREFIX = "vk_"
_PREFIX_CHARS = 12


@dataclass(frozen=True)
class TokenClaims:
    user_id: str
    role: str
    generation: int = 0
    jti: str = ""
    expires_at: float = 0.0


def issue_token(
    *, user_id: uuid.UUID, role: str, secret: str, ttl_minutes: int, generation: int = 0
) -> str:
    now = datetime.now(UTC)
    payload = {
        "sub": str(user_id),
        "role": role,
        "gen": generation,
        "iss": ISSUER,
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(minutes=ttl_minutes)).timestamp()),
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(payload, secret, algorithm=ALGORITHM)


# Tokens whose signature was already checked, with their expiry: a staff client sends the same
# token with every request, and decoding and verifying it again each time was a tenth of a
# single-reading post. A token cannot change, its expiry is checked at every use, and the key
# includes the secret (a rotated secret finds nothing). Whether the user is still enabled is
# looked up in the database on every request regardless. Bounded: cleared when full.
_VERIFIED: dict[tuple[str, str], tuple[TokenClaims, float]] = {}
_VERIFIED_MAX = 4096


def read_token(token: str, *, secret: str) -> TokenClaims | None:
    """Claims of a valid token; None for a malformed, tampered or expired one."""
    known = _VERIFIED.get((secret, token))
    if known is not None:
        claims, expires = known
        return claims if datetime.now(UTC).timestamp() < expires else None
    try:
        payload = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            issuer=ISSUER,
            options={"require": ["sub", "exp", "iat", "iss"]},
        )
    except jwt.PyJWTError:
        return None
    generation = payload.get("gen", 0)
    claims = TokenClaims(
        user_id=str(payload["sub"]),
        role=str(payload.get("role", "")),
        generation=generation if type(generation) is int else -1,
        jti=str(payload.get("jti", ""))[:64],
        expires_at=float(payload["exp"]),
    )
    if len(_VERIFIED) >= _VERIFIED_MAX:
        _VERIFIED.clear()
    _VERIFIED[(secret, token)] = (claims, float(payload["exp"]))
    return claims


def new_api_key() -> tuple[str, str, str]:
    """A fresh key (shown once), its lookup prefix and its hash. 256 bits of entropy."""
    key = API_KEY_PREFIX + secrets.token_urlsafe(32)
    return key, api_key_prefix(key), hash_api_key(key)


def is_api_key(token: str) -> bool:
    return token.startswith(API_KEY_PREFIX)


def api_key_prefix(key: str) -> str:
    return key[len(API_KEY_PREFIX) : len(API_KEY_PREFIX) + _PREFIX_CHARS]


def hash_api_key(key: str) -> str:
    """SHA-256 suffices for a 256-bit random key (nothing to brute-force), and stays fast on the
    ingest hot path where every push presents its key."""
    return hashlib.sha256(key.encode()).hexdigest()


def api_key_matches(key: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_api_key(key), stored_hash)
