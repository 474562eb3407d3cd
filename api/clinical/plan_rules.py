"""What makes a dosing plan revision coherent (SPEC §3). Pure: values in, problems out."""

from __future__ import annotations

import math
from collections.abc import Mapping

from api.clinical.administration import ESKETAMINE_DEVICE_MG
from api.clinical.thresholds import validate_thresholds

ESKETAMINE_MIN_MONITORING_MINUTES = 120  # Spravato REMS: at least 2 hours (DOMAIN.md)


def plan_problems(plan: Mapping[str, object]) -> list[tuple[str, str]]:
    """Return (field, message) for every rule the plan breaks; empty when coherent."""
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
    if medication == "esketamine":
        minutes = plan.get("min_monitoring_minutes")
        if isinstance(minutes, int) and minutes < ESKETAMINE_MIN_MONITORING_MINUTES:
            problems.append(
                ("min_monitoring_minutes", "esketamine needs at least 120 minutes of monitoring")
            )
    thresholds = plan.get("thresholds")
    if isinstance(thresholds, Mapping):
        problems.extend(
            (f"thresholds.{key}", message) for key, message in validate_thresholds(thresholds)
        )
    return problems


def _whole_devices(dose_mg: float) -> bool:
    devices = dose_mg / ESKETAMINE_DEVICE_MG
    return dose_mg > 0 and math.isclose(devices, round(devices), abs_tol=1e-9)
