"""vitals_due_at and the overdue rule (SPEC §6), as pure functions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from api.clinical.overdue import is_overdue, next_bp_due, vitals_due_at

START = datetime(2026, 12, 1, 14, 0, tzinfo=UTC)


def due(**kw: object) -> datetime | None:
    args: dict[str, object] = {
        "status": "monitoring",
        "medication": "ketamine",
        "dosing_started_at": START,
        "first_administration_at": None,
        "latest_bp_at": None,
        "interval_minutes": 15,
        **kw,
    }
    return vitals_due_at(**args)  # type: ignore[arg-type]


def m(minutes: float) -> datetime:
    return START + timedelta(minutes=minutes)


def test_null_outside_dosing_and_monitoring() -> None:
    for status in ("scheduled", "checked_in", "discharged", "cancelled", "transferred"):
        assert due(status=status) is None
    assert due(status="dosing") == m(15)


def test_gap_starts_at_the_later_of_dosing_start_and_the_latest_bp() -> None:
    assert due() == m(15)
    assert due(latest_bp_at=m(-5)) == m(15)  # a pre-dose BP does not start the gap
    assert due(latest_bp_at=m(22)) == m(37)
    assert due(latest_bp_at=m(22), interval_minutes=10) == m(32)


def test_esketamine_window_due_by_the_50th_minute_after_the_first_device() -> None:
    eske = {"medication": "esketamine", "interval_minutes": 30}
    assert due(**eske) == m(30)  # the interval comes first
    assert due(**eske, latest_bp_at=m(25)) == m(50)  # 25 + 30 = 55: the window's 50 first
    # the first device counts, not dosing start
    assert due(**eske, latest_bp_at=m(25), first_administration_at=m(4)) == m(54)
    # a BP at or after minute 30 closes the window: the interval alone
    assert due(**eske, latest_bp_at=m(30)) == m(60)
    assert due(**eske, latest_bp_at=m(41)) == m(71)
    # ketamine has no window
    assert due(interval_minutes=30, latest_bp_at=m(25)) == m(55)


def test_overdue_only_strictly_after_due() -> None:
    state = next_bp_due(
        status="dosing",
        medication="ketamine",
        dosing_started_at=START,
        first_administration_at=None,
        latest_bp_at=None,
        interval_minutes=15,
    )
    assert state is not None
    assert state.gap_started_at == START
    assert not is_overdue(state, m(15))
    assert is_overdue(state, m(15) + timedelta(seconds=1))
    assert not is_overdue(None, m(100))
