"""One blood-pressure reading: a systolic and a diastolic with the same ``measured_at`` (SPEC §5).

The one pairing rule every place that pairs BP halves uses (checking a new reading, the vitals
summary, FHIR panels): halves pair when their keys are equal (the ``measured_at``, plus whatever
else must match there, such as the session and the status). When one key has several halves of
one code, the last in input order is the one that counts for the checks and the summary
(:func:`bp_pairs`); a listing that shows every reading pairs them one to one in input order
instead (:func:`bp_pairs_in_order`: FHIR panels), so none is hidden. And the one check of a
pair: systolic must be above diastolic.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable

SYSTOLIC = "systolic_bp"
DIASTOLIC = "diastolic_bp"
BP_CODES = frozenset({SYSTOLIC, DIASTOLIC})


def is_bp_half(code: str) -> bool:
    return code in BP_CODES


def bp_pairs(halves: Iterable[tuple[str, Hashable]]) -> list[tuple[int, int]]:
    """(systolic index, diastolic index) for each BP reading among ``halves``.

    ``halves``: (code, key) for each reading, in input order; codes other than the two halves
    are ignored (their index still counts). Pairs come in the order their key first appears.
    """
    last: dict[Hashable, dict[str, int]] = {}
    for index, (code, key) in enumerate(halves):
        if code in BP_CODES:
            last.setdefault(key, {})[code] = index
    return [(at[SYSTOLIC], at[DIASTOLIC]) for at in last.values() if len(at) == 2]


def bp_pairs_in_order(halves: Iterable[tuple[str, Hashable]]) -> list[tuple[int, int]]:
    """(systolic index, diastolic index) for every pairing of halves with equal keys, one to one
    in input order (the first waiting half of the other code takes each), for a listing that
    shows every reading; pairs come in the order their second half appears."""
    waiting: dict[tuple[Hashable, str], list[int]] = {}
    pairs: list[tuple[int, int]] = []
    for index, (code, key) in enumerate(halves):
        if code not in BP_CODES:
            continue
        other = DIASTOLIC if code == SYSTOLIC else SYSTOLIC
        candidates = waiting.get((key, other))
        if candidates:
            first = candidates.pop(0)
            pairs.append((index, first) if code == SYSTOLIC else (first, index))
        else:
            waiting.setdefault((key, code), []).append(index)
    return pairs


def pair_problem(systolic: float, diastolic: float) -> str | None:
    """Why a systolic and a diastolic cannot be one BP reading, or None."""
    if systolic > diastolic:
        return None
    return (
        f"systolic {systolic:g} must be above diastolic {diastolic:g} for one "
        "blood-pressure reading (same measured_at)"
    )
