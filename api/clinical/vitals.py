"""Vital-sign codes, canonical UCUM units, accepted alternatives and possible ranges (SPEC §5).

Pure values and functions: the one place that says what a vital sign is. Every entry point
(REST, device push, HL7 v2, FHIR) normalizes readings through :func:`normalize`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum


class VitalCode(StrEnum):
    heart_rate = "heart_rate"
    systolic_bp = "systolic_bp"
    diastolic_bp = "diastolic_bp"
    mean_bp = "mean_bp"
    spo2 = "spo2"
    respiratory_rate = "respiratory_rate"
    temperature = "temperature"
    etco2 = "etco2"


KPA_TO_MMHG = 7.500615758


def _kpa_to_mmhg(value: float) -> float:
    return value * KPA_TO_MMHG


def _degf_to_cel(value: float) -> float:
    return (value - 32.0) * 5.0 / 9.0


@dataclass(frozen=True, slots=True)
class VitalDefinition:
    code: VitalCode
    loinc: str
    display: str
    unit: str  # canonical UCUM unit
    low: float  # physically possible range, canonical unit, inclusive
    high: float
    conversions: dict[str, Callable[[float], float]]  # accepted unit -> to the canonical one

    @property
    def accepted_units(self) -> list[str]:
        """The units a reading of this vital may be sent in (UCUM): canonical first."""
        return [self.unit, *self.conversions]

    def accepts(self, unit: str) -> bool:
        """Whether ``unit`` (spelled the UCUM way) is accepted for this vital."""
        return unit == self.unit or unit in self.conversions


VITALS: dict[VitalCode, VitalDefinition] = {
    d.code: d
    for d in (
        VitalDefinition(VitalCode.heart_rate, "8867-4", "Heart rate", "/min", 0, 350, {}),
        VitalDefinition(
            VitalCode.systolic_bp,
            "8480-6",
            "Systolic blood pressure",
            "mm[Hg]",
            20,
            300,
            {"kPa": _kpa_to_mmhg},
        ),
        VitalDefinition(
            VitalCode.diastolic_bp,
            "8462-4",
            "Diastolic blood pressure",
            "mm[Hg]",
            10,
            250,
            {"kPa": _kpa_to_mmhg},
        ),
        VitalDefinition(
            VitalCode.mean_bp,
            "8478-0",
            "Mean blood pressure",
            "mm[Hg]",
            15,
            280,
            {"kPa": _kpa_to_mmhg},
        ),
        VitalDefinition(
            VitalCode.spo2, "59408-5", "Oxygen saturation (pulse oximetry)", "%", 0, 100, {}
        ),
        VitalDefinition(
            VitalCode.respiratory_rate, "9279-1", "Respiratory rate", "/min", 0, 150, {}
        ),
        VitalDefinition(
            VitalCode.temperature,
            "8310-5",
            "Body temperature",
            "Cel",
            25,
            45,
            {"[degF]": _degf_to_cel},
        ),
        VitalDefinition(
            VitalCode.etco2,
            "19889-5",
            "End-tidal CO2",
            "mm[Hg]",
            0,
            150,
            {"kPa": _kpa_to_mmhg},
        ),
    )
}

# Plain spellings that devices and people send for the UCUM units above.
UNIT_ALIASES: dict[str, str] = {
    "mmhg": "mm[Hg]",
    "mm hg": "mm[Hg]",
    "mm[hg]": "mm[Hg]",
    "kpa": "kPa",
    "%": "%",
    "percent": "%",
    "/min": "/min",
    "bpm": "/min",
    "beats/min": "/min",
    "{beats}/min": "/min",
    "{breaths}/min": "/min",
    "breaths/min": "/min",
    "rpm": "/min",
    "1/min": "/min",
    "cel": "Cel",
    "°c": "Cel",
    "degc": "Cel",
    "c": "Cel",
    "[degf]": "[degF]",
    "°f": "[degF]",
    "degf": "[degF]",
    "f": "[degF]",
}


#: How each canonical UCUM unit is written as plain text (FHIR ``Quantity.unit``): the inverse
#: of :data:`UNIT_ALIASES` for the units readings are stored in.
PLAIN_UNITS: dict[str, str] = {
    "/min": "/min",
    "mm[Hg]": "mmHg",
    "%": "%",
    "Cel": "C",
    "[degF]": "degF",
}


def canonical_unit_spelling(unit: str) -> str:
    """Map a plain spelling (``mmHg``, ``bpm``) to its UCUM form; unknown spellings pass through."""
    return UNIT_ALIASES.get(unit.strip().lower(), unit.strip())


def plain_unit_spelling(unit: str) -> str:
    """A UCUM unit as plain text (``mm[Hg]`` -> ``mmHg``); others pass through."""
    return PLAIN_UNITS.get(unit, unit)


# By plain code string: a reading's code is looked up once per reading of every batch, and
# constructing the enum member first cost more than the lookup.
_BY_CODE: dict[str, VitalDefinition] = {str(code): d for code, d in VITALS.items()}


def accepts_unit(code: str, unit: str) -> bool:
    """Whether ``unit`` (spelled the UCUM way: see :func:`canonical_unit_spelling`) is accepted
    for the vital ``code``: the one rule every entry point (REST, device push, HL7 v2, FHIR)
    checks units by. Unknown codes accept nothing."""
    definition = _BY_CODE.get(code)
    return definition is not None and definition.accepts(unit)


def accepted_units(code: str) -> list[str]:
    """The UCUM units accepted for the vital ``code`` (canonical first), for error messages."""
    return _BY_CODE[code].accepted_units


class VitalValueError(ValueError):
    """A reading that cannot be stored: unknown code or unit, not finite, or impossible."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True, slots=True)
class NormalizedValue:
    value: float
    unit: str
    original_value: float
    original_unit: str


def normalize(code: str, value: float, unit: str) -> NormalizedValue:
    """Convert a reading to its canonical unit and check it is physically possible.

    Raises :class:`VitalValueError` naming the offending field (``code``, ``unit`` or ``value``).
    """
    definition = _BY_CODE.get(code) if isinstance(code, str) else None
    if definition is None:
        raise VitalValueError("code", f"unknown vital sign code {code!r}")
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise VitalValueError("value", "value must be a finite number")
    # Most readings arrive in the canonical unit already: no need to look up a spelling.
    spelled = unit if unit == definition.unit else canonical_unit_spelling(unit)
    if not definition.accepts(spelled):
        accepted = definition.accepted_units
        raise VitalValueError(
            "unit", f"unit {unit!r} is not accepted for {code}; use one of {accepted}"
        )
    if spelled == definition.unit:
        canonical = float(value)
    else:
        canonical = round(definition.conversions[spelled](float(value)), 2)
    if not definition.low <= canonical <= definition.high:
        raise VitalValueError(
            "value",
            f"{code} of {canonical:g} {definition.unit} is outside the possible range "
            f"{definition.low:g}–{definition.high:g} {definition.unit}",
        )
    return NormalizedValue(canonical, definition.unit, float(value), unit)
