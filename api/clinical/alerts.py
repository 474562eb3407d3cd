"""Alert decisions for readings and PHQ-9 item 9 (SPEC §6 "Alerts"; limits SPEC §5).

Readings of every phase raise alerts (SPEC §6: a pre-dose 212/124 alerts as a post-dose one
does; the pre-dose limits remain a gate, not an alert). A reading outside the session's alert
limits (limits inclusive: equal is inside) raises exactly one alert (SPEC §6: one reading raises
at most one alert).

Severity rule (SPEC §6):

* **SpO2 below ``spo2_min``: always critical** (SPEC §6; pulse oximetry is required monitoring,
  DOMAIN.md).
* Otherwise **critical when the reading is at least a margin beyond its limit**, else warning:

  ===================  ==========================  ==============================================
  kind                 limit                       critical when
  ===================  ==========================  ==============================================
  systolic_bp_high     systolic_max (180)          ≥ limit + 20 (≥ 200 mmHg)
  diastolic_bp_high    diastolic_max (110)         ≥ limit + 10 (≥ 120 mmHg; with 200 systolic
                                                   the conventional hypertensive-crisis level)
  heart_rate_low       heart_rate_min (50)         ≤ limit − 10 (≤ 40 /min)
  heart_rate_high      heart_rate_max (120)        ≥ limit + 30 (≥ 150 /min)
  respiratory_rate_low respiratory_rate_min (10)   ≤ limit − 2 (≤ 8 /min: respiratory depression)
  respiratory_rate_high respiratory_rate_max (24)  never (warning only)
  etco2_high           etco2_max (50)              ≥ limit + 10 (≥ 60 mmHg: hypoventilation)
  temperature_high     temperature_max (38.5)      never (warning only)
  spo2_low             spo2_min (92)               always
  ===================  ==========================  ==============================================

  Margins are relative to the session's limit, so a plan that moves a limit moves its critical
  level with it. ``mean_bp`` has no limits and never alerts.

Pass the session's full limits (:func:`api.clinical.thresholds.effective_thresholds`); a key
missing from the mapping falls back to the SPEC §5 default rather than silently skipping the check.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, tzinfo
from enum import StrEnum

from api.clinical.labels import clinic_time, fmt_number, vital_label, with_unit
from api.clinical.phase import Phase
from api.clinical.thresholds import THRESHOLD_KEYS, beyond, breaches, limit_of, outside_word
from api.clinical.vitals import VitalCode


class Severity(StrEnum):
    warning = "warning"
    critical = "critical"


@dataclass(frozen=True)
class AlertDecision:
    kind: str
    severity: Severity
    message: str
    vital: str
    value: float
    limit: float


@dataclass(frozen=True)
class AlertRule:
    """One alert kind: the limit it watches and its critical margin. The vital and the
    direction (above a maximum, below a minimum) are the limit's own
    (:data:`api.clinical.thresholds.THRESHOLD_KEYS`)."""

    kind: str
    threshold_key: str
    critical_margin: float | None  # None: never critical; 0: always critical

    @property
    def vital(self) -> VitalCode:
        vital = THRESHOLD_KEYS[self.threshold_key].vital
        assert vital is not None
        return vital


ALERT_RULES: tuple[AlertRule, ...] = (
    AlertRule("systolic_bp_high", "systolic_max", 20),
    AlertRule("diastolic_bp_high", "diastolic_max", 10),
    AlertRule("heart_rate_low", "heart_rate_min", 10),
    AlertRule("heart_rate_high", "heart_rate_max", 30),
    AlertRule("spo2_low", "spo2_min", 0),
    AlertRule("respiratory_rate_low", "respiratory_rate_min", 2),
    AlertRule("respiratory_rate_high", "respiratory_rate_max", None),
    AlertRule("etco2_high", "etco2_max", 10),
    AlertRule("temperature_high", "temperature_max", None),
)

# The rules for each vital, in ALERT_RULES order (evaluated for every reading of every batch).
_RULES_BY_VITAL: dict[str, tuple[AlertRule, ...]] = {
    str(code): tuple(rule for rule in ALERT_RULES if rule.vital == code) for code in VitalCode
}

ALERT_KINDS: frozenset[str] = frozenset({rule.kind for rule in ALERT_RULES} | {"phq9_self_harm"})


_STAGES = {Phase.pre: "before dosing", Phase.intra: "during dosing", Phase.post: "after dosing"}


def evaluate_reading(
    code: str,
    value: float,
    phase: Phase,
    thresholds: Mapping[str, float],
    *,
    measured_at: datetime | None = None,
    tz: tzinfo | None = None,
    recorded_by_name: str | None = None,
) -> AlertDecision | None:
    """The alert a reading of any phase raises, or None (inside limits, or no limits).

    The message names when the reading was measured (in ``tz``, the clinic's zone, with its
    offset) and who recorded it, when given."""
    for rule in _RULES_BY_VITAL.get(code, ()):
        key = rule.threshold_key
        limit = limit_of(thresholds, key)
        if not breaches(key, value, limit):
            continue
        word = outside_word(key)
        critical = (
            rule.critical_margin is not None and beyond(key, value, limit) >= rule.critical_margin
        )
        severity = Severity.critical if critical else Severity.warning
        stage = _STAGES[phase]
        context = []
        if measured_at is not None and tz is not None:
            context.append(f"measured {clinic_time(measured_at, tz)}")
        if recorded_by_name:
            context.append(f"recorded by {recorded_by_name}")
        where = f" ({', '.join(context)})" if context else ""
        message = (
            f"{vital_label(code)} {with_unit(code, value)} {stage}{where} is {word} the alert "
            f"limit of {with_unit(code, limit)}."
        )
        if critical:
            message += " Critical: check the patient now."
        else:
            message += " Recheck it and tell the prescriber if it stays there."
        return AlertDecision(
            kind=rule.kind,
            severity=severity,
            message=message,
            vital=str(rule.vital),
            value=float(value),
            limit=limit,
        )
    return None


PHQ9_ITEM9_ANSWERS = (
    "not at all",
    "several days",
    "more than half the days",
    "nearly every day",
)


def phq9_self_harm_alert(item9: int) -> AlertDecision | None:
    """Critical alert when PHQ-9 item 9 (thoughts of self-harm) is above 0 (SPEC §6, DOMAIN.md).

    ``item9`` must be 0–3 (ValueError otherwise).
    """
    if isinstance(item9, bool) or not isinstance(item9, int) or not 0 <= item9 <= 3:
        raise ValueError(f"PHQ-9 item 9 must be an integer from 0 to 3, got {item9!r}")
    if item9 == 0:
        return None
    return AlertDecision(
        kind="phq9_self_harm",
        severity=Severity.critical,
        message=(
            f"PHQ-9 item 9 (thoughts of being better off dead or of self-harm) answered "
            f"{fmt_number(item9)} ({PHQ9_ITEM9_ANSWERS[item9]}). Assess suicide risk now."
        ),
        vital="phq9_item9",
        value=float(item9),
        limit=0.0,
    )
