"""Vital-sign thresholds: clinic defaults, per-plan overrides, validation (SPEC §3, §5).

Two groups (SPEC §5):

* ``pre`` — the pre-dose gate limits (``pre_*``), checked before dosing starts.
* ``alert`` — limits during and after dosing; a reading outside them raises an alert and blocks
  discharge.
* ``discharge`` — ``discharge_baseline_tolerance_pct``: how far (percent) above the pre-dose
  baseline a systolic, diastolic or heart rate may be at discharge when it is above the
  pre-dose limit (SPEC §4).

Limits are inclusive: a value equal to a ``*_max`` or ``*_min`` is inside the limit.

Which way a limit points is written once, in :data:`THRESHOLD_KEYS`, and compared once, in
:func:`breaches`: alert rules, the gates' limit tables (:func:`limit_keys`) and the loosening
check of plans (:func:`loosens`) derive from them. The limits in force for a session are
:func:`effective_thresholds` of the clinic's settings and the plan's overrides; a plan is
validated against that same combination (:func:`validate_thresholds`).

The defaults are SPEC §5's, "for a clinic to review, not clinical advice". The "sensible range"
of each key only stops typing mistakes (e.g. a systolic limit of 1400); it is not a clinical
recommendation.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from api.clinical.numbers import is_finite_number
from api.clinical.vitals import VitalCode


class Direction(StrEnum):
    min = "min"  # a reading below the limit is outside it
    max = "max"  # a reading above the limit is outside it


class ThresholdGroup(StrEnum):
    pre = "pre"
    alert = "alert"
    discharge = "discharge"
    cadence = "cadence"  # how often a blood pressure is due (SPEC §5, §6 vitals_overdue)


@dataclass(frozen=True)
class ThresholdKey:
    key: str
    vital: VitalCode | None  # None: not a limit of one vital (the discharge tolerance)
    direction: Direction
    group: ThresholdGroup
    low: float  # sensible range of the limit itself, inclusive, canonical unit
    high: float


DEFAULT_THRESHOLDS: dict[str, float] = {
    "pre_systolic_max": 140,
    "pre_diastolic_max": 90,
    "pre_heart_rate_min": 50,
    "pre_heart_rate_max": 110,
    "pre_spo2_min": 94,
    "systolic_max": 180,
    "diastolic_max": 110,
    "heart_rate_min": 50,
    "heart_rate_max": 120,
    "spo2_min": 92,
    "respiratory_rate_min": 10,
    "respiratory_rate_max": 24,
    "etco2_max": 50,
    "temperature_max": 38.5,
    # discharge: how far above its pre-dose baseline a systolic, diastolic or heart rate may be
    "discharge_baseline_tolerance_pct": 20,
    "vitals_interval_minutes": 15,
}

_V = VitalCode
_MIN, _MAX = Direction.min, Direction.max
_PRE, _ALERT = ThresholdGroup.pre, ThresholdGroup.alert

THRESHOLD_KEYS: dict[str, ThresholdKey] = {
    k.key: k
    for k in (
        ThresholdKey("pre_systolic_max", _V.systolic_bp, _MAX, _PRE, 60, 250),
        ThresholdKey("pre_diastolic_max", _V.diastolic_bp, _MAX, _PRE, 30, 150),
        ThresholdKey("pre_heart_rate_min", _V.heart_rate, _MIN, _PRE, 20, 220),
        ThresholdKey("pre_heart_rate_max", _V.heart_rate, _MAX, _PRE, 30, 220),
        ThresholdKey("pre_spo2_min", _V.spo2, _MIN, _PRE, 50, 100),
        ThresholdKey("systolic_max", _V.systolic_bp, _MAX, _ALERT, 60, 250),
        ThresholdKey("diastolic_max", _V.diastolic_bp, _MAX, _ALERT, 30, 150),
        ThresholdKey("heart_rate_min", _V.heart_rate, _MIN, _ALERT, 20, 220),
        ThresholdKey("heart_rate_max", _V.heart_rate, _MAX, _ALERT, 30, 220),
        ThresholdKey("spo2_min", _V.spo2, _MIN, _ALERT, 50, 100),
        ThresholdKey("respiratory_rate_min", _V.respiratory_rate, _MIN, _ALERT, 2, 60),
        ThresholdKey("respiratory_rate_max", _V.respiratory_rate, _MAX, _ALERT, 2, 60),
        ThresholdKey("etco2_max", _V.etco2, _MAX, _ALERT, 10, 100),
        ThresholdKey("temperature_max", _V.temperature, _MAX, _ALERT, 34, 42),
        ThresholdKey(
            "discharge_baseline_tolerance_pct", None, _MAX, ThresholdGroup.discharge, 0, 100
        ),
        ThresholdKey(
            "vitals_interval_minutes", _V.systolic_bp, _MAX, ThresholdGroup.cadence, 1, 120
        ),
    )
}


def _min_max_pairs() -> tuple[tuple[str, str], ...]:
    """(min key, max key) pairs of one vital in one group, which must satisfy min < max:
    derived from each key's direction, so a new key pairs itself."""
    pairs = []
    for low in THRESHOLD_KEYS.values():
        if low.direction is not Direction.min:
            continue
        for high in THRESHOLD_KEYS.values():
            if (
                high.direction is Direction.max
                and high.vital == low.vital
                and high.group == low.group
            ):
                pairs.append((low.key, high.key))
    return tuple(pairs)


MIN_MAX_PAIRS: tuple[tuple[str, str], ...] = _min_max_pairs()


def limit_of(thresholds: Mapping[str, float], key: str) -> float:
    """The limit ``key`` in ``thresholds``; a key missing from the mapping falls back to the
    SPEC §5 default rather than silently skipping the check."""
    return float(thresholds.get(key, DEFAULT_THRESHOLDS[key]))


def breaches(key: str, value: float, limit: float) -> bool:
    """Is ``value`` outside the limit ``key`` set at ``limit``? Above a maximum or below a
    minimum; equal is inside (limits are inclusive). The one comparison of every limit."""
    if THRESHOLD_KEYS[key].direction is Direction.max:
        return value > limit
    return value < limit


def beyond(key: str, value: float, limit: float) -> float:
    """How far ``value`` is past the limit ``key`` at ``limit`` (positive outside it)."""
    if THRESHOLD_KEYS[key].direction is Direction.max:
        return value - limit
    return limit - value


def outside_word(key: str) -> str:
    """``above`` for a maximum, ``below`` for a minimum: where a value outside it lies."""
    return "above" if THRESHOLD_KEYS[key].direction is Direction.max else "below"


def limit_keys(group: ThresholdGroup, vital: str) -> tuple[str, ...]:
    """The limits of ``vital`` in ``group``, its maximum before its minimum (a gate reports
    the maximum first when both are breached)."""
    keys = [k for k in THRESHOLD_KEYS.values() if k.group == group and k.vital == vital]
    keys.sort(key=lambda k: k.direction is not Direction.max)
    return tuple(k.key for k in keys)


def limit_key(group: ThresholdGroup, vital: str, direction: Direction) -> str | None:
    """The key of ``vital``'s maximum or minimum in ``group``; None when it has none."""
    for spec in THRESHOLD_KEYS.values():
        if spec.group == group and spec.vital == vital and spec.direction is direction:
            return spec.key
    return None


def loosens(key: str, value: float, clinic_value: float) -> bool:
    """Does ``value`` for ``key`` let through a reading the clinic's setting would not?
    A higher maximum or a lower minimum loosens; equal or tighter does not: the new limit is
    itself outside the clinic's (:func:`breaches`)."""
    return breaches(key, value, clinic_value)


def loosened_limits(
    overrides: Mapping[str, object], clinic: Mapping[str, float]
) -> list[tuple[str, str]]:
    """(key, message) for every override looser than the clinic's setting (SPEC §5: it needs
    ``thresholds_reason``). Unknown or non-numeric keys are left to :func:`validate_thresholds`."""
    out: list[tuple[str, str]] = []
    for key, value in overrides.items():
        if key not in THRESHOLD_KEYS or not is_finite_number(value):
            continue
        clinic_value = limit_of(clinic, key)
        if loosens(key, float(value), clinic_value):
            word = outside_word(key)
            out.append((key, f"{key} {value:g} is {word} the clinic's setting of {clinic_value:g}"))
    return out


def validate_thresholds(
    overrides: Mapping[str, object],
    *,
    defaults: Mapping[str, float] = DEFAULT_THRESHOLDS,
) -> list[tuple[str, str]]:
    """Return every problem with a set of threshold overrides as ``(key, message)``; [] if fine.

    Checks: unknown key; not a finite number (bools rejected); outside the key's sensible range;
    a ``*_min`` not below its ``*_max``, also when one side comes from ``defaults`` (the clinic's
    defaults; SPEC §5 values unless given). Use it for plan ``thresholds`` and for clinic defaults.
    """
    problems: list[tuple[str, str]] = []
    valid: dict[str, float] = {}
    for key, value in overrides.items():
        spec = THRESHOLD_KEYS.get(key)
        if spec is None:
            problems.append((key, f"unknown threshold {key!r}; known: {sorted(THRESHOLD_KEYS)}"))
            continue
        if not is_finite_number(value):
            problems.append((key, f"{key} must be a finite number"))
            continue
        if not spec.low <= value <= spec.high:
            problems.append(
                (
                    key,
                    f"{key} of {value:g} is outside the sensible range {spec.low:g}–{spec.high:g}",
                )
            )
            continue
        valid[key] = float(value)

    # the limits in force: the clinic's with these on top, as a session will apply them
    in_force = effective_thresholds(defaults, valid)
    for min_key, max_key in MIN_MAX_PAIRS:
        if min_key not in valid and max_key not in valid:
            continue
        if (min_key in overrides and min_key not in valid) or (
            max_key in overrides and max_key not in valid
        ):
            continue  # already reported
        low, high = in_force[min_key], in_force[max_key]
        if not low < high:
            key = min_key if min_key in valid else max_key
            problems.append((key, f"{min_key} ({low:g}) must be below {max_key} ({high:g})"))
    return problems


def effective_thresholds(
    clinic_defaults: Mapping[str, float], plan_overrides: Mapping[str, float] | None
) -> dict[str, float]:
    """The limits that apply to a session: SPEC §5 defaults, then clinic defaults, then the plan.

    Every known key is present in the result; unknown keys are dropped (validate them first with
    :func:`validate_thresholds`).
    """
    result = {key: float(value) for key, value in DEFAULT_THRESHOLDS.items()}
    for layer in (clinic_defaults, plan_overrides or {}):
        for key, value in layer.items():
            if key in THRESHOLD_KEYS:
                result[key] = float(value)
    return result
