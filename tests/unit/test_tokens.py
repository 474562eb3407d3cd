"""Staff tokens: a token verified once is remembered, but never past its expiry, and never for
another secret."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from api.security import tokens

SECRET = "a-test-secret-of-a-reasonable-length-0001"


def test_a_remembered_token_still_expires(monkeypatch: pytest.MonkeyPatch) -> None:
    user = uuid.uuid4()
    token = tokens.issue_token(user_id=user, role="nurse", secret=SECRET, ttl_minutes=5)
    claims = tokens.read_token(token, secret=SECRET)
    assert claims is not None
    assert (claims.user_id, claims.role, claims.generation) == (str(user), "nurse", 0)
    assert len(claims.jti) == 32
    assert (SECRET, token) in tokens._VERIFIED  # the second read is served from memory
    assert tokens.read_token(token, secret=SECRET) == claims

    later = datetime.now(UTC) + timedelta(minutes=6)

    class Clock(datetime):
        @classmethod
        def now(cls, tz: object = None) -> datetime:  # type: ignore[override]
            return later

    monkeypatch.setattr(tokens, "datetime", Clock)
    assert tokens.read_token(token, secret=SECRET) is None


def test_a_remembered_token_is_not_valid_under_another_secret() -> None:
    token = tokens.issue_token(user_id=uuid.uuid4(), role="nurse", secret=SECRET, ttl_minutes=5)
    assert tokens.read_token(token, secret=SECRET) is not None
    assert tokens.read_token(token, secret=SECRET + "-rotated") is None
