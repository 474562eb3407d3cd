"""Usual dose ranges for a dosing plan (SPEC §3 "Usual dose ranges"; DOMAIN.md "Usual doses").

A rule table, one row per (medication, route), and one function that places a plan revision in
it: inside the usual range, above it (allowed with an ``above_usual_reason``), or refused
(422). The table is the clinic's: ``VIGIL_DOSE_LIMITS`` (JSON) overrides any key of any row of
:data:`DEFAULT_DOSE_LIMITS`; a key set to ``null`` removes that limit.

Keys of a row (all optional):

* ``usual_max_mg_per_kg`` / ``max_mg_per_kg``: weight-based plans. Above the usual maximum needs
  a reason; above the maximum is refused.
* ``usual_max_mg`` / ``max_mg``: fixed-dose plans (``dose_mg``). ``max_mg`` also bounds
  ``max_dose_mg`` of every plan on the route, weight-based ones too: ``max_dose_mg`` is the
  ceiling of a session's total, overrides included, so it must not sit above the route's
  maximum.
* ``usual_doses_mg`` / ``above_usual_doses_mg``: the only fixed doses accepted (esketamine nasal
  spray: 56 or 84 usual, 28 with a reason, anything else refused).
* ``min_infusion_minutes``: an infusion shorter than this is above usual (needs a reason).

Defaults: SPEC §3's table. Ketamine by the other routes is "clinic-configured"; the defaults
given for them here keep every route non-anaesthetic (ASKP3, DOMAIN.md) and are values for a
clinic to review, not clinical advice. A (medication, route) with no row has no usual range (only
``max_dose_mg`` and the plan's own coherence rules apply); the clinic adds one to check it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from api.clinical.numbers import is_finite_number

# Written as JSON would be, so the defaults and VIGIL_DOSE_LIMITS read the same.
DEFAULT_DOSE_LIMITS: dict[str, dict[str, dict[str, Any]]] = {
    "ketamine": {
        "iv_infusion": {
            "usual_max_mg_per_kg": 0.75,
            "max_mg_per_kg": 1.0,  # 1-1.5 mg/kg IV is the anaesthetic induction range
            "min_infusion_minutes": 40,
            "usual_max_mg": 75,
            "max_mg": 150,
        },
        "im": {
            "usual_max_mg_per_kg": 0.5,
            "max_mg_per_kg": 1.0,
            "usual_max_mg": 50,
            "max_mg": 100,
        },
        "intranasal": {
            "usual_max_mg_per_kg": 0.75,
            "max_mg_per_kg": 1.5,
            "usual_max_mg": 50,
            "max_mg": 100,
        },
        "sublingual": {
            "usual_max_mg_per_kg": 1.0,
            "max_mg_per_kg": 3.0,
            "usual_max_mg": 150,
            "max_mg": 300,
        },
        "oral": {
            "usual_max_mg_per_kg": 1.0,
            "max_mg_per_kg": 3.0,
            "usual_max_mg": 150,
            "max_mg": 300,
        },
    },
    "esketamine": {
        "intranasal": {
            "usual_doses_mg": [56, 84],
            "above_usual_doses_mg": [28],  # e.g. older adults, where a label allows it
            "max_mg": 84,
        },
    },
}

MEDICATION_WORDS = {"ketamine": "ketamine", "esketamine": "esketamine"}
ROUTE_WORDS = {
    "iv_infusion": "IV infusion",
    "im": "IM injection",
    "intranasal": "intranasal",
    "sublingual": "sublingual",
    "oral": "oral",
}


@dataclass(frozen=True)
class RouteLimits:
    """One row of the table (see the module docstring for each key)."""

    usual_max_mg_per_kg: float | None = None
    max_mg_per_kg: float | None = None
    usual_max_mg: float | None = None
    max_mg: float | None = None
    usual_doses_mg: tuple[float, ...] | None = None
    above_usual_doses_mg: tuple[float, ...] | None = None
    min_infusion_minutes: int | None = None


_NUMBER_KEYS = ("usual_max_mg_per_kg", "max_mg_per_kg", "usual_max_mg", "max_mg")
_LIST_KEYS = ("usual_doses_mg", "above_usual_doses_mg")
_KEYS = frozenset(f.name for f in fields(RouteLimits))


def _positive(value: object) -> bool:
    return is_finite_number(value) and value > 0


def _row(where: str, raw: Mapping[str, Any]) -> RouteLimits:
    unknown = set(raw) - _KEYS
    if unknown:
        raise ValueError(f"{where}: unknown keys {sorted(unknown)}; known: {sorted(_KEYS)}")
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if value is None:
            continue
        if key in _LIST_KEYS:
            if not isinstance(value, list | tuple) or not all(_positive(v) for v in value):
                raise ValueError(f"{where}.{key}: a list of positive numbers of mg")
            values[key] = tuple(float(v) for v in value)
        elif key == "min_infusion_minutes":
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"{where}.{key}: a positive whole number of minutes")
            values[key] = value
        else:
            if not _positive(value):
                raise ValueError(f"{where}.{key}: a positive number")
            values[key] = float(value)
    row = RouteLimits(**values)
    for usual, top in (("usual_max_mg_per_kg", "max_mg_per_kg"), ("usual_max_mg", "max_mg")):
        low, high = getattr(row, usual), getattr(row, top)
        if low is not None and high is not None and low > high:
            raise ValueError(f"{where}: {usual} ({low:g}) is above {top} ({high:g})")
    return row


def merge_dose_limits(
    overrides: Mapping[str, Any] | None,
) -> dict[str, dict[str, dict[str, Any]]]:
    """The defaults with the clinic's overrides on top, key by key; validated (ValueError).

    ``{"ketamine": {"im": {"max_mg_per_kg": 0.8}}}`` changes that one limit; a new
    (medication, route) row may be added whole; ``null`` removes a limit."""
    merged: dict[str, dict[str, dict[str, Any]]] = {
        med: {route: dict(row) for route, row in routes.items()}
        for med, routes in DEFAULT_DOSE_LIMITS.items()
    }
    for med, routes in (overrides or {}).items():
        if med not in MEDICATION_WORDS:
            raise ValueError(f"dose limits: unknown medication {med!r}")
        if not isinstance(routes, Mapping):
            raise ValueError(f"dose limits: {med} must map routes to limits")
        for route, row in routes.items():
            if route not in ROUTE_WORDS:
                raise ValueError(f"dose limits: unknown route {route!r} for {med}")
            if not isinstance(row, Mapping):
                raise ValueError(f"dose limits: {med}.{route} must be an object of limits")
            merged.setdefault(med, {}).setdefault(route, {}).update(row)
    for med, routes in merged.items():
        for route, row in routes.items():
            _row(f"{med}.{route}", row)
    return merged


def limits_for(
    table: Mapping[str, Mapping[str, Mapping[str, Any]]], medication: str, route: str
) -> RouteLimits | None:
    raw = table.get(medication, {}).get(route)
    return None if raw is None else _row(f"{medication}.{route}", raw)


@dataclass(frozen=True)
class DoseRange:
    """Where a plan falls: ``refused`` (field, message) pairs make it a 422; ``above_usual``
    messages say why it needs an ``above_usual_reason``."""

    refused: list[tuple[str, str]] = field(default_factory=list)
    above_usual: list[str] = field(default_factory=list)


def _mg(value: float) -> str:
    return f"{value:g} mg"


def _doses(values: tuple[float, ...]) -> str:
    return " or ".join(_mg(v) for v in values)


def classify_dose(
    *,
    medication: str,
    route: str,
    dose_mg_per_kg: float | None,
    dose_mg: float | None,
    max_dose_mg: float | None,
    infusion_minutes: int | None,
    limits: RouteLimits | None,
) -> DoseRange:
    """Place a plan's dose in its route's row (SPEC §3). Pure; ``limits`` None: no range."""
    result = DoseRange()
    if limits is None:
        return result
    what = f"{MEDICATION_WORDS.get(medication, medication)} by {ROUTE_WORDS.get(route, route)}"
    refused, above = result.refused, result.above_usual

    if dose_mg_per_kg is not None:
        if limits.max_mg_per_kg is not None and dose_mg_per_kg > limits.max_mg_per_kg:
            refused.append(
                (
                    "dose_mg_per_kg",
                    f"{dose_mg_per_kg:g} mg/kg is above the maximum of {limits.max_mg_per_kg:g} "
                    f"mg/kg for {what} (the anaesthetic range); it cannot be planned",
                )
            )
        elif limits.usual_max_mg_per_kg is not None and dose_mg_per_kg > limits.usual_max_mg_per_kg:
            above.append(
                f"{dose_mg_per_kg:g} mg/kg is above the usual range for {what} (up to "
                f"{limits.usual_max_mg_per_kg:g} mg/kg)"
            )

    if dose_mg is not None:
        if limits.usual_doses_mg is not None:
            extra = limits.above_usual_doses_mg or ()
            if any(math.isclose(dose_mg, d) for d in limits.usual_doses_mg):
                pass
            elif any(math.isclose(dose_mg, d) for d in extra):
                above.append(
                    f"{_mg(dose_mg)} is below the usual {_doses(limits.usual_doses_mg)} of {what}"
                )
            else:
                accepted = _doses(tuple(sorted((*limits.usual_doses_mg, *extra))))
                refused.append(
                    ("dose_mg", f"{_mg(dose_mg)} of {what} is not a dose given: use {accepted}")
                )
        elif limits.max_mg is not None and dose_mg > limits.max_mg:
            refused.append(
                (
                    "dose_mg",
                    f"{_mg(dose_mg)} is above the maximum of {_mg(limits.max_mg)} for {what}",
                )
            )
        elif limits.usual_max_mg is not None and dose_mg > limits.usual_max_mg:
            above.append(
                f"{_mg(dose_mg)} is above the usual range for {what} (up to "
                f"{_mg(limits.usual_max_mg)})"
            )

    if max_dose_mg is not None and limits.max_mg is not None and max_dose_mg > limits.max_mg:
        refused.append(
            (
                "max_dose_mg",
                f"max_dose_mg {_mg(max_dose_mg)} is above the maximum of {_mg(limits.max_mg)} "
                f"a session for {what}",
            )
        )

    if (
        infusion_minutes is not None
        and limits.min_infusion_minutes is not None
        and infusion_minutes < limits.min_infusion_minutes
    ):
        above.append(
            f"an infusion over {infusion_minutes} minutes is faster than the usual "
            f"{limits.min_infusion_minutes} minutes or more"
        )
    return result
