"""The one BP pairing rule (api/clinical/bp.py)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone

from api.clinical.bp import bp_pairs, bp_pairs_in_order, pair_problem
from api.readings.repository import bp_lock_key

T = datetime(2026, 12, 1, 14, 0, tzinfo=UTC)


def test_halves_with_the_same_key_pair_others_do_not() -> None:
    halves = [
        ("systolic_bp", T),
        ("heart_rate", T),
        ("diastolic_bp", T + timedelta(seconds=1)),
        ("diastolic_bp", T),
    ]
    assert bp_pairs(halves) == [(0, 3)]


def test_the_last_half_of_one_code_at_one_key_counts() -> None:
    halves = [("systolic_bp", T), ("diastolic_bp", T), ("systolic_bp", T)]
    assert bp_pairs(halves) == [(2, 1)]


def test_keys_can_hold_more_than_the_time() -> None:
    halves = [("systolic_bp", ("a", T)), ("diastolic_bp", ("b", T)), ("diastolic_bp", ("a", T))]
    assert bp_pairs(halves) == [(0, 2)]


def test_systolic_must_be_above_diastolic() -> None:
    assert pair_problem(120, 80) is None
    assert pair_problem(80, 80) == (
        "systolic 80 must be above diastolic 80 for one blood-pressure reading (same measured_at)"
    )


def test_the_lock_of_one_bp_reading_is_one_key_for_any_spelling_of_its_time() -> None:
    sid = uuid.uuid4()
    plus_two = T.astimezone(timezone(timedelta(hours=2)))
    assert bp_lock_key(sid, T) == bp_lock_key(sid, plus_two)
    assert bp_lock_key(sid, T) != bp_lock_key(sid, T + timedelta(microseconds=1))
    assert bp_lock_key(sid, T) != bp_lock_key(uuid.uuid4(), T)
    # Times at the calendar's edge are refused after the lock; the key must not overflow.
    for edge in (
        datetime.min.replace(tzinfo=timezone(timedelta(hours=14))),
        datetime.max.replace(tzinfo=timezone(timedelta(hours=-14))),
    ):
        assert -(2**31) <= bp_lock_key(sid, edge) < 2**31


def test_a_listing_pairs_every_half_one_to_one_in_order() -> None:
    halves = [
        ("systolic_bp", "t"),
        ("systolic_bp", "t"),
        ("diastolic_bp", "t"),
        ("heart_rate", "t"),
        ("diastolic_bp", "t"),
    ]
    assert bp_pairs_in_order(halves) == [(0, 2), (1, 4)]
    # the checks count the last of each code instead
    assert bp_pairs(halves) == [(1, 4)]
