"""Words and units a nurse reads in alert and gate messages (canonical UCUM units, SPEC §5).

Codes and canonical units come from :mod:`api.clinical.vitals`; this only renders them.
"""

from __future__ import annotations

from datetime import datetime, tzinfo

from api.clinical.vitals import VITALS, VitalCode

VITAL_LABELS: dict[VitalCode, str] = {
    VitalCode.heart_rate: "Heart rate",
    VitalCode.systolic_bp: "Systolic BP",
    VitalCode.diastolic_bp: "Diastolic BP",
    VitalCode.mean_bp: "Mean BP",
    VitalCode.spo2: "SpO2",
    VitalCode.respiratory_rate: "Respiratory rate",
    VitalCode.temperature: "Temperature",
    VitalCode.etco2: "EtCO2",
}

# How the canonical UCUM unit is written for people (appended after the number).
UNIT_LABELS: dict[VitalCode, str] = {
    VitalCode.heart_rate: " beats/min",
    VitalCode.systolic_bp: " mmHg",
    VitalCode.diastolic_bp: " mmHg",
    VitalCode.mean_bp: " mmHg",
    VitalCode.spo2: "%",
    VitalCode.respiratory_rate: " breaths/min",
    VitalCode.temperature: " °C",
    VitalCode.etco2: " mmHg",
}


def vital_label(code: str) -> str:
    """``Systolic BP`` for ``systolic_bp``; unknown codes are returned unchanged."""
    try:
        return VITAL_LABELS[VitalCode(code)]
    except ValueError:
        return code


def fmt_number(value: float) -> str:
    """Up to one decimal, no trailing ``.0``: 150 → ``150``, 38.5 → ``38.5``."""
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def with_unit(code: str, value: float) -> str:
    """``150 mmHg``, ``91%``, ``38.6 °C``; unknown codes get their number only."""
    try:
        vital = VitalCode(code)
    except ValueError:
        return fmt_number(value)
    assert vital in VITALS
    return f"{fmt_number(value)}{UNIT_LABELS[vital]}"


def clinic_time(value: datetime, tz: tzinfo) -> str:
    """A time as a nurse reads it: in the clinic's zone, to the minute, with its offset
    (``2026-12-01 09:58 -05:00``). ``value`` must be aware."""
    local = value.astimezone(tz)
    offset = local.strftime("%z") or "+0000"
    return f"{local:%Y-%m-%d %H:%M} {offset[:3]}:{offset[3:]}"
