"""Phase of a reading, derived from the session timeline (SPEC §4 "Phase").

The phase is never trusted from the client: ``pre`` before dosing started, ``intra`` from dosing
start (inclusive) to dosing end (exclusive), ``post`` from dosing end on. While dosing has started
but not ended, every reading from the start on is ``intra``.

All datetimes must be timezone-aware (DOMAIN.md "Lessons": naive local times produced wrong UTC
in earlier systems); a naive datetime raises ValueError rather than being compared silently.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from enum import StrEnum


class Phase(StrEnum):
    pre = "pre"
    intra = "intra"
    post = "post"


def require_aware(name: str, value: datetime) -> None:
    """Raise ValueError when ``value`` has no UTC offset."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {value.isoformat()}")


def derive_phase(
    measured_at: datetime,
    dosing_started_at: datetime | None,
    dosing_ended_at: datetime | None,
) -> Phase:
    """Return the phase a reading measured at ``measured_at`` belongs to (SPEC §4).

    ``dosing_ended_at`` without ``dosing_started_at``, or an end before the start, is an
    inconsistent timeline and raises ValueError.
    """
    return phase_labeler(dosing_started_at, dosing_ended_at)(measured_at)


#: The instants of one phase: from ``[0]`` (inclusive) to ``[1]`` (exclusive); None at either
#: end is unbounded. A phase with no instant on a timeline has no bounds (None).
Bounds = tuple[datetime | None, datetime | None]


def phase_bounds(
    dosing_started_at: datetime | None, dosing_ended_at: datetime | None
) -> dict[Phase, Bounds | None]:
    """The bounds of each phase on one session timeline: the rule itself, which the labeler
    below and the SQL filter of a timeline query both apply (SPEC §4 "Phase").

    ``dosing_ended_at`` without ``dosing_started_at``, or an end before the start, is an
    inconsistent timeline and raises ValueError."""
    if dosing_started_at is None:
        if dosing_ended_at is not None:
            raise ValueError("dosing_ended_at is set but dosing_started_at is not")
        return {Phase.pre: (None, None), Phase.intra: None, Phase.post: None}
    require_aware("dosing_started_at", dosing_started_at)
    if dosing_ended_at is None:
        return {
            Phase.pre: (None, dosing_started_at),
            Phase.intra: (dosing_started_at, None),
            Phase.post: None,
        }
    require_aware("dosing_ended_at", dosing_ended_at)
    if dosing_ended_at < dosing_started_at:
        raise ValueError("dosing_ended_at is before dosing_started_at")
    return {
        Phase.pre: (None, dosing_started_at),
        Phase.intra: (dosing_started_at, dosing_ended_at),
        Phase.post: (dosing_ended_at, None),
    }


def in_bounds(measured_at: datetime, bounds: Bounds | None) -> bool:
    if bounds is None:
        return False
    start, end = bounds
    return (start is None or measured_at >= start) and (end is None or measured_at < end)


def since_dosing_started(moment: datetime, dosing_started_at: datetime | None) -> bool:
    """Is ``moment`` past the ``pre`` phase (dosing has started and it is not before the start)?
    The one reading of "after dosing started" for scores, readings and gaps."""
    return not in_bounds(moment, phase_bounds(dosing_started_at, None)[Phase.pre])


def phase_labeler(
    dosing_started_at: datetime | None, dosing_ended_at: datetime | None
) -> Callable[[datetime], Phase]:
    """The phase rule for one session timeline, checked once, applied to many readings (a
    500-reading timeline page labels every row)."""
    phases = [(p, b) for p, b in phase_bounds(dosing_started_at, dosing_ended_at).items() if b]

    def label(measured_at: datetime) -> Phase:
        if measured_at.tzinfo is not UTC:  # UTC, as every stored reading is, is aware
            require_aware("measured_at", measured_at)
        for phase, bounds in phases:
            if in_bounds(measured_at, bounds):
                return phase
        raise AssertionError("the phases of a timeline cover every instant")  # pragma: no cover

    return label
