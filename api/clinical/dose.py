"""Session dose computation (SPEC §3 "Dose for a session"; DOMAIN.md "Ketamine and esketamine").

The dose is computed once, at check-in, from that day's weight, and stored on the session with
everything needed to re-check it: the weight, the weight basis, the basis weight, mg/kg and the
resulting mg (DOMAIN.md: the weight basis is not settled in the literature, so store them all).

Rules:

* Weight-based plans: ``dose_mg_per_kg × basis weight``. Basis weight is the actual weight
  (default), the ideal body weight (Devine) or the adjusted body weight
  (``IBW + 0.4 × (actual − IBW)``).
* The basis weight is never more than the actual weight (SPEC §3; DOMAIN.md "Usual doses"): an
  ideal or adjusted basis above the day's weight would give an underweight patient more than
  the mg/kg asked for, so the actual weight is used and ``basis_limited_to_actual`` says so.
* Fixed plans: ``dose_mg`` (the day's weight is still recorded when given).
* Either way the result is capped at the plan's ``max_dose_mg`` and rounded to 0.1 mg with
  decimal ROUND_HALF_UP (float ``round`` is banker's rounding on binary fractions: 10.45 would
  become 10.4).

Decisions recorded here:

* The dose is ``dose_mg_per_kg × basis weight`` rounded once, to 0.1 mg, as SPEC §3 says; the
  basis weight is not rounded first (rounding it to 0.01 kg first moved thousands of realistic
  ideal and adjusted doses by 0.1 mg). ``basis_weight_kg`` is shown rounded to 0.01 kg, so
  ``dose_mg_per_kg × basis_weight_kg`` on the stored record reproduces ``uncapped_dose_mg``
  within the 0.05 mg of the dose's rounding plus ``dose_mg_per_kg × 0.005``.
* The cap is applied after rounding. A cap with more than one decimal is rounded *down* to 0.1 mg
  so the planned dose never exceeds the cap. ``capped`` is true exactly when the cap lowered the
  dose.
* Height is only needed for the ideal and adjusted bases.
* Below 152.4 cm (60 in) Devine gives no guidance; we do not subtract (IBW is 50 / 45.5 kg).
* When actual < IBW both the ideal and the adjusted basis lie above the actual weight, so both
  are limited to the actual weight.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal
from enum import StrEnum

DEVINE_BASE_MALE_KG = 50.0
DEVINE_BASE_OTHER_KG = 45.5  # female, other, unknown (SPEC §3)
DEVINE_KG_PER_CM = 0.9055  # 2.3 kg per inch
DEVINE_BASE_HEIGHT_CM = 152.4  # 60 inches
ADJUSTED_FACTOR = 0.4

_TENTH = Decimal("0.1")
_HUNDREDTH = Decimal("0.01")


class WeightBasis(StrEnum):
    actual = "actual"
    ideal = "ideal"
    adjusted = "adjusted"


def _require_positive(name: str, value: float) -> None:
    if isinstance(value, bool) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")


def ideal_body_weight_kg(height_cm: float, sex: str) -> float:
    """Devine ideal body weight (SPEC §3).

    50 kg for ``male``, 45.5 kg for ``female``, ``other`` and ``unknown`` (and any other value),
    plus 0.9055 kg per cm above 152.4 cm. Below 152.4 cm nothing is subtracted.
    """
    _require_positive("height_cm", height_cm)
    base = DEVINE_BASE_MALE_KG if sex.strip().lower() == "male" else DEVINE_BASE_OTHER_KG
    return base + DEVINE_KG_PER_CM * max(0.0, height_cm - DEVINE_BASE_HEIGHT_CM)


def adjusted_body_weight_kg(actual_kg: float, ibw_kg: float) -> float:
    """Adjusted body weight: ``IBW + 0.4 × (actual − IBW)`` (SPEC §3)."""
    return ibw_kg + ADJUSTED_FACTOR * (actual_kg - ibw_kg)


@dataclass(frozen=True)
class DoseComputation:
    """What is stored on the session at check-in (SPEC §3)."""

    weight_kg: float | None
    weight_basis: str | None  # None for fixed-dose plans
    basis_weight_kg: float | None
    dose_mg_per_kg: float | None
    uncapped_dose_mg: float
    planned_dose_mg: float
    capped: bool
    basis_limited_to_actual: bool = False


class DoseInputMissing(Exception):
    """The dose cannot be computed because the day's weight or the patient's height is missing.

    ``code`` is ``missing_weight`` or ``missing_height`` (the SPEC §4 unmet codes).
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _dec(value: float) -> Decimal:
    # str() gives the shortest repr, so 0.15 is Decimal("0.15"), not 0.1499999...
    return Decimal(str(value))


def _round_tenth(value: Decimal) -> Decimal:
    return value.quantize(_TENTH, rounding=ROUND_HALF_UP)


def compute_session_dose(
    *,
    dose_mg_per_kg: float | None,
    dose_mg: float | None,
    weight_basis: str | None,
    max_dose_mg: float,
    weight_kg: float | None,
    height_cm: float | None,
    sex: str,
) -> DoseComputation:
    """Compute a session's planned dose (SPEC §3).

    Exactly one of ``dose_mg_per_kg`` and ``dose_mg`` must be given (ValueError otherwise).
    Raises :class:`DoseInputMissing` when a weight-based plan has no weight, or an ideal/adjusted
    plan has no height. Non-positive or non-finite numbers raise ValueError.
    """
    if (dose_mg_per_kg is None) == (dose_mg is None):
        raise ValueError("exactly one of dose_mg_per_kg and dose_mg must be given")
    _require_positive("max_dose_mg", max_dose_mg)
    if weight_kg is not None:
        _require_positive("weight_kg", weight_kg)
    cap = _dec(max_dose_mg).quantize(_TENTH, rounding=ROUND_FLOOR)

    if dose_mg is not None:
        _require_positive("dose_mg", dose_mg)
        uncapped = _round_tenth(_dec(dose_mg))
        planned = min(uncapped, cap)
        return DoseComputation(
            weight_kg=None if weight_kg is None else float(weight_kg),
            weight_basis=None,
            basis_weight_kg=None,
            dose_mg_per_kg=None,
            uncapped_dose_mg=float(uncapped),
            planned_dose_mg=float(planned),
            capped=planned < uncapped,
        )

    assert dose_mg_per_kg is not None
    _require_positive("dose_mg_per_kg", dose_mg_per_kg)
    try:
        basis = WeightBasis(weight_basis or WeightBasis.actual)
    except ValueError:
        raise ValueError(
            f"weight_basis must be one of {[b.value for b in WeightBasis]}, got {weight_basis!r}"
        ) from None
    if weight_kg is None:
        raise DoseInputMissing(
            "missing_weight",
            "Today's weight is needed to compute the dose for this weight-based plan.",
        )
    if basis is WeightBasis.actual:
        basis_kg = weight_kg
    else:
        if height_cm is None:
            raise DoseInputMissing(
                "missing_height",
                f"The patient's height is needed to compute the {basis.value} body weight "
                "for this plan.",
            )
        ibw = ideal_body_weight_kg(height_cm, sex)
        basis_kg = ibw if basis is WeightBasis.ideal else adjusted_body_weight_kg(weight_kg, ibw)
    limited = basis_kg > weight_kg
    if limited:
        basis_kg = weight_kg

    basis_dec = _dec(basis_kg).quantize(_HUNDREDTH, rounding=ROUND_HALF_UP)
    uncapped = _round_tenth(_dec(dose_mg_per_kg) * _dec(basis_kg))
    planned = min(uncapped, cap)
    return DoseComputation(
        weight_kg=float(weight_kg),
        weight_basis=basis.value,
        basis_weight_kg=float(basis_dec),
        dose_mg_per_kg=float(dose_mg_per_kg),
        uncapped_dose_mg=float(uncapped),
        planned_dose_mg=float(planned),
        capped=planned < uncapped,
        basis_limited_to_actual=limited,
    )
