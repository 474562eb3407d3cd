"""A reading measured more than 12 hours before the session (SPEC §4)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from api.clinical.reading_time import too_early_problem

CHECK_IN = datetime(2026, 12, 1, 14, 0, tzinfo=UTC)
SCHEDULED = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
NY = ZoneInfo("America/New_York")


def test_twelve_hours_before_check_in_is_the_bound() -> None:
    kw = {"checked_in_at": CHECK_IN, "scheduled_at": SCHEDULED, "tz": NY}
    assert too_early_problem(CHECK_IN - timedelta(hours=12), **kw) is None  # type: ignore[arg-type]
    problem = too_early_problem(CHECK_IN - timedelta(hours=12, seconds=1), **kw)  # type: ignore[arg-type]
    assert problem is not None
    assert "check-in time (2026-12-01 09:00 -05:00)" in problem


def test_scheduled_at_counts_while_not_checked_in() -> None:
    kw = {"checked_in_at": None, "scheduled_at": SCHEDULED, "tz": NY}
    assert too_early_problem(SCHEDULED - timedelta(hours=11), **kw) is None  # type: ignore[arg-type]
    problem = too_early_problem(SCHEDULED - timedelta(hours=13), **kw)  # type: ignore[arg-type]
    assert problem is not None
    assert "scheduled" in problem
    far = too_early_problem(datetime(1970, 1, 1, tzinfo=UTC), **kw)  # type: ignore[arg-type]
    assert far is not None
