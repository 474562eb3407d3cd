"""What makes a dosing plan revision coherent (SPEC §3). Pure: values in, problems out."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from api.clinical.administration import ESKETAMINE_DEVICE_MG
from api.clinical.dose_ranges import DEFAULT_DOSE_LIMITS, classify_dose, limits_for
from api.clinical.thresholds import DEFAULT_THRESHOLDS, loosened_limits, validate_thresholds

ESKETAMINE_MIN_MONITORING_MINUTES = 120  # Spravato REMS: at least 2 hours (DOMAIN.md)
KETAMINE_MIN_MONITORING_MINUTES = 30  # default of VIGIL_MIN_MONITORING_MINUTES (SPEC §3)


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def plan_problems(
    plan: Mapping[str, object],
    *,
    dose_limits: Mapping[str, Mapping[str, Mapping[str, Any]]] = DEFAULT_DOSE_LIMITS,
    clinic_thresholds: Mapping[str, float] = DEFAULT_THRESHOLDS,
    ketamine_min_monitoring_minutes: int = KETAMINE_MIN_MONITORING_MINUTES,
) -> list[tuple[str, str]]:
    """Return (field, message) for every rule the plan breaks; empty when coherent.

    ``dose_limits`` is the clinic's usual-range table (VIGIL_DOSE_LIMITS merged over the
    defaults), ``clinic_thresholds`` the clinic's limits the plan's ``thresholds`` override
    (SPEC §5: the combination must be coherent; loosening needs ``thresholds_reason``), and
    ``ketamine_min_monitoring_minutes`` VIGIL_MIN_MONITORING_MINUTES."""
    problems: list[tuple[str, str]] = []
    per_kg = plan.get("dose_mg_per_kg")
    fixed = plan.get("dose_mg")
    route = plan.get("route")
    medication = plan.get("medication")
    max_dose = plan.get("max_dose_mg")

    if (per_kg is None) == (fixed is None):
        problems.append(("dose_mg_per_kg", "give exactly one of dose_mg_per_kg or dose_mg"))
    if fixed is not None and plan.get("weight_basis") is not None:
        problems.append(("weight_basis", "weight_basis applies to weight-based plans only"))
    if isinstance(fixed, int | float) and isinstance(max_dose, int | float) and fixed > max_dose:
        problems.append(("dose_mg", f"dose_mg {fixed:g} is above max_dose_mg {max_dose:g}"))
    if route == "iv_infusion" and plan.get("infusion_minutes") is None:
        problems.append(("infusion_minutes", "required for iv_infusion"))
    if route != "iv_infusion" and plan.get("infusion_minutes") is not None:
        problems.append(("infusion_minutes", "only iv_infusion plans have infusion_minutes"))
    # SPEC §3 constrains intranasal esketamine (Spravato, whole 28 mg devices); esketamine by
    # other routes (IV esketamine is used outside the US) is dosed like ketamine.
    if medication == "esketamine" and route == "intranasal":
        if per_kg is not None:
            problems.append(
                ("dose_mg_per_kg", "intranasal esketamine is dosed in mg (whole 28 mg devices)")
            )
        if isinstance(fixed, int | float) and not _whole_devices(float(fixed)):
            problems.append(
                ("dose_mg", f"esketamine dose_mg must be a multiple of {ESKETAMINE_DEVICE_MG}")
            )
    minutes = plan.get("min_monitoring_minutes")
    least = (
        ESKETAMINE_MIN_MONITORING_MINUTES
        if medication == "esketamine"
        else ketamine_min_monitoring_minutes
    )
    if isinstance(minutes, int) and minutes < least:
        problems.append(
            (
                "min_monitoring_minutes",
                f"{medication} needs at least {least} minutes of monitoring after dosing",
            )
        )
    problems.extend(_dose_range_problems(plan, dose_limits))
    thresholds = plan.get("thresholds")
    if isinstance(thresholds, Mapping):
        problems.extend(
            (f"thresholds.{key}", message)
            for key, message in validate_thresholds(thresholds, defaults=clinic_thresholds)
        )
        loosened = loosened_limits(thresholds, clinic_thresholds)
        if loosened and not plan.get("thresholds_reason"):
            problems.append(
                (
                    "thresholds_reason",
                    "; ".join(message for _, message in loosened)
                    + ": a limit looser than the clinic's needs thresholds_reason (why, at "
                    "least 10 characters), or keep the clinic's limit",
                )
            )
    return problems


def _dose_range_problems(
    plan: Mapping[str, object], dose_limits: Mapping[str, Mapping[str, Mapping[str, Any]]]
) -> list[tuple[str, str]]:
    medication, route = plan.get("medication"), plan.get("route")
    if not isinstance(medication, str) or not isinstance(route, str):
        return []
    minutes = plan.get("infusion_minutes")
    placed = classify_dose(
        medication=medication,
        route=route,
        dose_mg_per_kg=_number(plan.get("dose_mg_per_kg")),
        dose_mg=_number(plan.get("dose_mg")),
        max_dose_mg=_number(plan.get("max_dose_mg")),
        infusion_minutes=minutes if isinstance(minutes, int) else None,
        limits=limits_for(dose_limits, medication, route),
    )
    problems = list(placed.refused)
    reason = plan.get("above_usual_reason")
    if placed.above_usual and not reason:
        problems.append(
            (
                "above_usual_reason",
                "; ".join(placed.above_usual)
                + ": give above_usual_reason (why, at least 10 characters) or plan a usual dose",
            )
        )
    elif not placed.above_usual and not placed.refused and reason:
        problems.append(
            (
                "above_usual_reason",
                "the dose is within the usual range: leave above_usual_reason out",
            )
        )
    return problems


def _whole_devices(dose_mg: float) -> bool:
    devices = dose_mg / ESKETAMINE_DEVICE_MG
    return dose_mg > 0 and math.isclose(devices, round(devices), abs_tol=1e-9)
