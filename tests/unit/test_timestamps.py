"""Request timestamps: aware, kept in UTC, not in the future beyond the configured tolerance."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import TypeAdapter, ValidationError

from api.config import get_settings
from api.types import PastTimestamp

PAST = TypeAdapter(PastTimestamp)


def test_a_timestamp_is_kept_in_utc() -> None:
    sent = datetime(2026, 11, 20, 3, 0, tzinfo=timezone(timedelta(hours=-5)))
    got = PAST.validate_python(sent)
    assert got == sent
    assert got.tzinfo is UTC


def test_the_future_tolerance_is_the_configured_one_and_the_error_names_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("VIGIL_FUTURE_TOLERANCE_SECONDS", "30")
    get_settings.cache_clear()
    now = datetime.now(UTC)
    assert PAST.validate_python(now + timedelta(seconds=20)) > now
    with pytest.raises(ValidationError, match=r"more than 30 s past the server clock"):
        PAST.validate_python(now + timedelta(seconds=60))
