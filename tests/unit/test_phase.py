"""Phase derivation (SPEC §4)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from api.clinical.phase import Phase, derive_phase, in_bounds, phase_bounds

START = datetime(2026, 12, 1, 14, 0, tzinfo=UTC)
END = START + timedelta(minutes=40)
S = timedelta(seconds=1)


@pytest.mark.parametrize(
    ("measured_at", "expected"),
    [
        (START - S, Phase.pre),
        (START, Phase.intra),
        (START + timedelta(minutes=20), Phase.intra),
        (END - S, Phase.intra),
        (END, Phase.post),
        (END + timedelta(hours=2), Phase.post),
    ],
)
def test_boundaries(measured_at: datetime, expected: Phase) -> None:
    assert derive_phase(measured_at, START, END) is expected


def test_not_started_is_pre() -> None:
    assert derive_phase(START + timedelta(hours=5), None, None) is Phase.pre


def test_started_not_ended_is_intra_from_start() -> None:
    assert derive_phase(START - S, START, None) is Phase.pre
    assert derive_phase(START + timedelta(hours=3), START, None) is Phase.intra


def test_other_offset_compares_by_instant() -> None:
    eastern = timezone(timedelta(hours=-5))
    assert derive_phase(datetime(2026, 12, 1, 9, 0, tzinfo=eastern), START, END) is Phase.intra


def test_zero_length_dosing() -> None:
    # An instantaneous dose (e.g. IM): start == end, so the start instant is already post.
    assert derive_phase(START, START, START) is Phase.post
    assert derive_phase(START - S, START, START) is Phase.pre


def test_phase_values() -> None:
    assert [p.value for p in Phase] == ["pre", "intra", "post"]


def test_naive_rejected() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        derive_phase(datetime(2026, 12, 1, 14, 0), START, END)


def test_end_without_start_rejected() -> None:
    with pytest.raises(ValueError, match="dosing_started_at"):
        derive_phase(START, None, END)


def test_end_before_start_rejected() -> None:
    with pytest.raises(ValueError, match="before"):
        derive_phase(START, END, START)


@pytest.mark.parametrize(
    ("start", "end"), [(None, None), (START, None), (START, END), (START, START)]
)
def test_the_bounds_cover_every_instant_once_and_label_it(
    start: datetime | None, end: datetime | None
) -> None:
    """The labeler and the SQL filter apply the same bounds (api/vitals/repository.py)."""
    bounds = phase_bounds(start, end)
    for at in (START - S, START, START + S, END - S, END, END + S):
        inside = [phase for phase, b in bounds.items() if in_bounds(at, b)]
        assert inside == [derive_phase(at, start, end)]
