"""Per-session vital trend rows (SPEC §7 ``trends?code=``): pre-dose last, intra max, post last.

Phase comes from each session's own timeline (:func:`api.clinical.phase.derive_phase`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from api.clinical.phase import Phase, derive_phase


@dataclass(frozen=True)
class TrendReading:
    value: float
    measured_at: datetime


def session_trend(
    readings: Sequence[TrendReading],
    *,
    dosing_started_at: datetime | None,
    dosing_ended_at: datetime | None,
) -> dict[str, float | datetime | None]:
    """``pre_dose_last``, ``intra_max``, ``post_last`` (each with its ``_at``); None when absent.

    Ties: the latest reading wins for "last"; the earliest of equal maxima for "max".
    """
    pre: TrendReading | None = None
    intra: TrendReading | None = None
    post: TrendReading | None = None
    for r in sorted(readings, key=lambda r: r.measured_at):
        phase = derive_phase(r.measured_at, dosing_started_at, dosing_ended_at)
        if phase is Phase.pre:
            pre = r
        elif phase is Phase.intra:
            if intra is None or r.value > intra.value:
                intra = r
        else:
            post = r
    return {
        "pre_dose_last": pre.value if pre else None,
        "pre_dose_last_at": pre.measured_at if pre else None,
        "intra_max": intra.value if intra else None,
        "intra_max_at": intra.measured_at if intra else None,
        "post_last": post.value if post else None,
        "post_last_at": post.measured_at if post else None,
    }
