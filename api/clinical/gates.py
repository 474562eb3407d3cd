"""Pre-dose and discharge gates (SPEC §4 transition table; DOMAIN.md Spravato label/REMS).

Both gates are evaluated *as of* ``at`` on readings by ``measured_at`` (callers pass only
non-retracted readings). Readings measured after ``at`` are ignored. Each function returns every
unmet item, [] when the gate is met, in a stable order:

* pre-dose: systolic, diastolic, heart rate, SpO2.
* discharge: min_monitoring, then systolic, diastolic, heart rate, SpO2, then the sedation
  score, then each open critical alert in the order given.

Per vital the **most recent** reading in the window counts (SPEC §4); if two readings of one
vital share that timestamp, the later one in the input counts. Windows include both ends.
A vital with no reading in its window is ``stale_reading`` when an older reading exists and
``missing_reading`` otherwise. Limits are inclusive (equal is inside).

Pre-dose limits: ``pre_systolic_max``, ``pre_diastolic_max``, ``pre_heart_rate_max``,
``pre_spo2_min``. Discharge limits are the alert limits: ``systolic_max``, ``diastolic_max``,
``heart_rate_min``/``heart_rate_max``, ``spo2_min``. Pass the session's full limits
(:func:`api.clinical.thresholds.effective_thresholds`); a missing key falls back to SPEC §5.

Sedation: among MOAA/S and RASS scores administered at or after dosing start and at or before
``at`` (other instruments are ignored), the latest must be MOAA/S 5 or RASS 0.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import datetime, timedelta

from api.clinical.labels import vital_label, with_unit
from api.clinical.thresholds import DEFAULT_THRESHOLDS
from api.clinical.vitals import VitalCode

PREDOSE_WINDOW = timedelta(minutes=30)
DISCHARGE_WINDOW = timedelta(minutes=15)

GATE_VITALS: tuple[VitalCode, ...] = (
    VitalCode.systolic_bp,
    VitalCode.diastolic_bp,
    VitalCode.heart_rate,
    VitalCode.spo2,
)

# (vital, min key or None, max key or None)
PREDOSE_LIMITS: dict[VitalCode, tuple[str | None, str | None]] = {
    VitalCode.systolic_bp: (None, "pre_systolic_max"),
    VitalCode.diastolic_bp: (None, "pre_diastolic_max"),
    VitalCode.heart_rate: (None, "pre_heart_rate_max"),
    VitalCode.spo2: ("pre_spo2_min", None),
}
DISCHARGE_LIMITS: dict[VitalCode, tuple[str | None, str | None]] = {
    VitalCode.systolic_bp: (None, "systolic_max"),
    VitalCode.diastolic_bp: (None, "diastolic_max"),
    VitalCode.heart_rate: ("heart_rate_min", "heart_rate_max"),
    VitalCode.spo2: ("spo2_min", None),
}

SEDATION_INSTRUMENTS = {"moaas": ("MOAA/S", 5), "rass": ("RASS", 0)}


@dataclass(frozen=True)
class GateReading:
    code: str
    value: float
    measured_at: datetime


@dataclass(frozen=True)
class SedationScore:
    instrument: str  # moaas | rass
    score: int
    administered_at: datetime


@dataclass(frozen=True)
class Unmet:
    """One unmet gate item (SPEC §4 ``unmet`` list entry)."""

    code: str
    message: str
    vital: str | None = None
    value: float | None = None
    limit: float | None = None
    remaining_minutes: int | None = None
    alert_id: str | None = None
    # the checklist field a ``checklist_item`` names (SPEC §11)
    item: str | None = None
    # False: no clinician's override passes this item (screening, checklist stops); None: the
    # gate's own rule for the code decides
    overridable: bool | None = None

    def as_dict(self) -> dict[str, object]:
        """The problem-detail entry: ``code``, ``message`` and whichever other fields are set."""
        out: dict[str, object] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is not None:
                out[f.name] = value
        return out


def _latest(readings: Sequence[GateReading]) -> GateReading | None:
    best: GateReading | None = None
    for r in readings:
        if best is None or r.measured_at >= best.measured_at:
            best = r
    return best


def _minutes_before(at: datetime, earlier: datetime) -> int:
    return int((at - earlier).total_seconds() // 60)


def _check_vitals(
    *,
    at: datetime,
    window: timedelta,
    not_before: datetime | None,
    readings: Sequence[GateReading],
    thresholds: Mapping[str, float],
    limits: Mapping[VitalCode, tuple[str | None, str | None]],
    when: str,
    limit_word: str,
) -> list[Unmet]:
    window_start = at - window
    if not_before is not None and not_before > window_start:
        window_start = not_before
    window_minutes = int(window.total_seconds() // 60)
    unmet: list[Unmet] = []
    for vital in GATE_VITALS:
        label = vital_label(vital)
        of_vital = [r for r in readings if r.code == vital and r.measured_at <= at]
        current = _latest([r for r in of_vital if r.measured_at >= window_start])
        if current is None:
            older = _latest(of_vital)
            if older is None:
                unmet.append(
                    Unmet(
                        code="missing_reading",
                        vital=str(vital),
                        message=f"No {label} reading has been recorded {when}.",
                    )
                )
            else:
                minutes = _minutes_before(at, older.measured_at)
                unmet.append(
                    Unmet(
                        code="stale_reading",
                        vital=str(vital),
                        message=(
                            f"No {label} reading in the {window_minutes} minutes {when} "
                            f"(last one {minutes} minutes earlier)."
                        ),
                    )
                )
            continue
        min_key, max_key = limits[vital]
        value = current.value
        if max_key is not None:
            limit = float(thresholds.get(max_key, DEFAULT_THRESHOLDS[max_key]))
            if value > limit:
                unmet.append(
                    Unmet(
                        code="above_limit",
                        vital=str(vital),
                        value=value,
                        limit=limit,
                        message=(
                            f"{label} {with_unit(vital, value)} is above the {limit_word} "
                            f"limit of {with_unit(vital, limit)}."
                        ),
                    )
                )
                continue
        if min_key is not None:
            limit = float(thresholds.get(min_key, DEFAULT_THRESHOLDS[min_key]))
            if value < limit:
                unmet.append(
                    Unmet(
                        code="below_limit",
                        vital=str(vital),
                        value=value,
                        limit=limit,
                        message=(
                            f"{label} {with_unit(vital, value)} is below the {limit_word} "
                            f"limit of {with_unit(vital, limit)}."
                        ),
                    )
                )
    return unmet


def evaluate_predose_gate(
    *, at: datetime, readings: Sequence[GateReading], thresholds: Mapping[str, float]
) -> list[Unmet]:
    """SPEC §4 ``dosing``: the four vitals measured in [at − 30 min, at], inside pre-dose limits."""
    return _check_vitals(
        at=at,
        window=PREDOSE_WINDOW,
        not_before=None,
        readings=readings,
        thresholds=thresholds,
        limits=PREDOSE_LIMITS,
        when="before dosing",
        limit_word="pre-dose",
    )


def evaluate_discharge_gate(
    *,
    at: datetime,
    dosing_started_at: datetime | None,
    readings: Sequence[GateReading],
    sedation_scores: Sequence[SedationScore],
    open_critical_alert_ids: Sequence[str],
    thresholds: Mapping[str, float],
    min_monitoring_minutes: int,
) -> list[Unmet]:
    """SPEC §4 ``discharged``: monitoring time, recent vitals inside the alert limits, resolved
    sedation, no open critical alert.

    ``remaining_minutes`` is rounded up (37.2 minutes left → 37 would discharge early, so 38).
    Without a dosing start nothing counts as "after dosing": min_monitoring reports the full
    minimum, vitals are missing/stale and the sedation score is missing.
    """
    unmet: list[Unmet] = []
    required = timedelta(minutes=min_monitoring_minutes)
    if dosing_started_at is None:
        remaining = min_monitoring_minutes
        unmet.append(
            Unmet(
                code="min_monitoring",
                remaining_minutes=remaining,
                message="Dosing has not started, so monitoring time has not begun.",
            )
        )
    else:
        elapsed = at - dosing_started_at
        if elapsed < required:
            remaining = math.ceil((required - elapsed).total_seconds() / 60)
            unmet.append(
                Unmet(
                    code="min_monitoring",
                    remaining_minutes=remaining,
                    message=(
                        f"Minimum monitoring time of {min_monitoring_minutes} minutes not "
                        f"reached: {remaining} minutes remaining."
                    ),
                )
            )

    after_start = (
        [r for r in readings if r.measured_at >= dosing_started_at]
        if dosing_started_at is not None
        else []
    )
    unmet += _check_vitals(
        at=at,
        window=DISCHARGE_WINDOW,
        not_before=dosing_started_at,
        readings=after_start,
        thresholds=thresholds,
        limits=DISCHARGE_LIMITS,
        when="before discharge",
        limit_word="alert",
    )

    scores = [
        s
        for s in sedation_scores
        if s.instrument in SEDATION_INSTRUMENTS
        and dosing_started_at is not None
        and dosing_started_at <= s.administered_at <= at
    ]
    latest: SedationScore | None = None
    for s in scores:
        if latest is None or s.administered_at >= latest.administered_at:
            latest = s
    if latest is None:
        unmet.append(
            Unmet(
                code="missing_sedation_score",
                message="No sedation score (MOAA/S or RASS) recorded since dosing started.",
            )
        )
    else:
        name, resolved = SEDATION_INSTRUMENTS[latest.instrument]
        if latest.score != resolved:
            shown = f"{latest.score:+d}" if latest.instrument == "rass" else str(latest.score)
            unmet.append(
                Unmet(
                    code="sedation_not_resolved",
                    value=float(latest.score),
                    message=(
                        f"Latest sedation score is {name} {shown}; sedation has not resolved "
                        f"({name} {resolved} needed)."
                    ),
                )
            )

    for alert_id in open_critical_alert_ids:
        unmet.append(
            Unmet(
                code="open_critical_alert",
                alert_id=str(alert_id),
                message="A critical alert for this session is still open; acknowledge or "
                "resolve it first.",
            )
        )
    return unmet
