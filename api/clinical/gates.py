"""Check-in, pre-dose and discharge gates (SPEC §4 transition table; DOMAIN.md Spravato
label/REMS). Pure: values in, unmet items out.

Every gate is evaluated *as of* ``at`` on readings by ``measured_at`` (callers pass only
non-retracted records); anything measured after ``at`` is ignored. Each gate returns every unmet
item, [] when it is met, in SPEC order:

* pre-dose (:func:`evaluate_predose_gate`): systolic, diastolic, heart rate, SpO2; then the
  eligibility items and the checklist items the caller passes in (screening, SPEC §11); then the
  plan (``plan_discontinued`` or ``plan_changed``).
* discharge (:func:`evaluate_discharge_gate`): ``min_monitoring``; systolic, diastolic, heart
  rate, SpO2, respiratory rate; sedation; dissociation; the discharge-checklist items the caller
  passes in; open alerts; the unwitnessed-waste items the caller passes in.

Each gate is a concatenation of small named functions, one per group of items, so another group
slots in where SPEC puts it.

Per vital the **most recent** reading in the window counts (SPEC §4); if two readings of one
vital share that timestamp, the later one in the input counts. Windows include both ends.
A vital with no reading in its window is ``stale_reading`` when an older reading exists and
``missing_reading`` otherwise. Limits are inclusive (equal is inside).

**The monitoring clock** starts at the first non-retracted administration's start, else at the
dosing start (:func:`monitoring_clock_start`).

**Baseline**: the reading of systolic, diastolic and heart rate that counted at the dosing
transition (:func:`predose_baseline`), frozen on the session then. At discharge each of them is
either inside its pre-dose maximum or at most ``discharge_baseline_tolerance_pct`` above the
baseline; a fall below it is not held against the patient (the alert limits catch low values).

**Overrides**: :func:`is_overridable` is the one list of what a clinician's ``override_reason``
passes (SPEC §4 "Refusals and overrides"); every item carries ``overridable``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta, tzinfo

from api.clinical.labels import clinic_time, fmt_number, utc_iso, vital_label, with_unit
from api.clinical.thresholds import (
    Direction,
    ThresholdGroup,
    breaches,
    limit_key,
    limit_keys,
    limit_of,
    outside_word,
)
from api.clinical.vitals import VitalCode

PREDOSE_WINDOW = timedelta(minutes=30)
DISCHARGE_WINDOW = timedelta(minutes=15)
SEDATION_WINDOW = timedelta(minutes=30)
CADSS_RESOLVED_MAX = 4  # a CADSS total of 4 or less: dissociation resolved (DOMAIN.md)

PREDOSE_VITALS: tuple[VitalCode, ...] = (
    VitalCode.systolic_bp,
    VitalCode.diastolic_bp,
    VitalCode.heart_rate,
    VitalCode.spo2,
)
DISCHARGE_VITALS: tuple[VitalCode, ...] = (*PREDOSE_VITALS, VitalCode.respiratory_rate)
GATE_VITALS = DISCHARGE_VITALS  # every vital a gate reads
BASELINE_VITALS: tuple[VitalCode, ...] = (
    VitalCode.systolic_bp,
    VitalCode.diastolic_bp,
    VitalCode.heart_rate,
)

# The limits each gate checks per vital: the pre-dose group (``pre_*``) before dosing, the alert
# limits at discharge; which keys and their direction are THRESHOLD_KEYS' (api.clinical.thresholds).
PREDOSE_LIMITS: dict[VitalCode, tuple[str, ...]] = {
    vital: limit_keys(ThresholdGroup.pre, vital) for vital in PREDOSE_VITALS
}
DISCHARGE_LIMITS: dict[VitalCode, tuple[str, ...]] = {
    vital: limit_keys(ThresholdGroup.alert, vital) for vital in DISCHARGE_VITALS
}

SEDATION_INSTRUMENTS = {"moaas": ("MOAA/S", 5), "rass": ("RASS", 0)}

# --------------------------------------------------------------------------------- overrides

# (step, code, checklist item or None): the items a clinician's override_reason passes, and
# nothing else (SPEC §4 "Refusals and overrides"). Steps are the transition targets, plus
# "administration" for a dose above the planned dose.
_OVERRIDABLE: frozenset[tuple[str, str, str | None]] = frozenset(
    {
        ("dosing", "above_limit", None),
        ("dosing", "below_limit", None),
        ("dosing", "checklist_item", "escort"),
        ("dosing", "checklist_item", "medication_changes"),
        ("dosing", "checklist_item", "pregnancy_test"),  # only when declined, see below
        ("discharged", "above_limit", None),
        ("discharged", "below_limit", None),
        ("discharged", "not_near_baseline", None),
        ("discharged", "checklist_item", "escort_present"),
        ("discharged", "min_monitoring", None),  # ketamine only, see below
        ("checked_in", "interval_too_short", None),
        ("administration", "above_planned_dose", None),
    }
)


#: Who may pass an overridable gate item with an ``override_reason``.
OVERRIDE_ROLES = frozenset({"clinician"})


def is_overridable(
    step: str,
    code: str,
    *,
    item: str | None = None,
    medication: str | None = None,
    pregnancy_test: str | None = None,
) -> bool:
    """Would a clinician's ``override_reason`` pass this item (whoever asks)?

    ``min_monitoring`` only for ketamine (the esketamine 2 hours are the REMS minimum); the
    ``pregnancy_test`` checklist item only when the test was ``declined`` (a positive test is
    a stop no one overrides).
    """
    if (step, code, item if code == "checklist_item" else None) not in _OVERRIDABLE:
        return False
    if code == "min_monitoring" and medication != "ketamine":
        return False
    return not (item == "pregnancy_test" and pregnancy_test != "declined")


# ------------------------------------------------------------------------------------ values


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
class CadssScore:
    total: int
    administered_at: datetime


@dataclass(frozen=True)
class OpenAlert:
    id: str
    severity: str  # warning | critical
    message: str
    created_at: datetime


@dataclass(frozen=True)
class Unmet:
    """One unmet gate item (SPEC §4 ``unmet`` list entry).

    ``as_dict`` shows ``code``, ``message``, ``overridable`` and whichever other fields are
    set; ``extra`` holds fields of one code that are shown even when null (``baseline``,
    ``earliest_at``, ``current_planned_dose_mg``)."""

    code: str
    message: str
    overridable: bool = False
    vital: str | None = None
    value: float | None = None
    limit: float | None = None
    remaining_minutes: int | None = None
    alert_id: str | None = None
    administration_id: str | None = None  # waste_unwitnessed
    severity: str | None = None
    item: str | None = None
    extra: Mapping[str, object] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {}
        for f in fields(self):
            if f.name == "extra":
                continue
            value = getattr(self, f.name)
            if value is not None:
                out[f.name] = value
        out.update(self.extra)
        return out


def _latest(readings: Sequence[GateReading]) -> GateReading | None:
    best: GateReading | None = None
    for r in readings:
        if best is None or r.measured_at >= best.measured_at:
            best = r
    return best


def _minutes_before(at: datetime, earlier: datetime) -> int:
    return int((at - earlier).total_seconds() // 60)


def _counting_reading(
    readings: Sequence[GateReading], vital: str, *, at: datetime, window_start: datetime
) -> GateReading | None:
    return _latest([r for r in readings if r.code == vital and window_start <= r.measured_at <= at])


# ---------------------------------------------------------------------------------- vitals


def _in_sentence(label: str) -> str:
    """``Heart rate`` → ``heart rate`` inside a sentence; ``SpO2``, ``EtCO2`` stay."""
    return label if label[:2] in ("Sp", "Et") else label[0].lower() + label[1:]


def _override_hint(overridable: bool) -> str:
    return (
        " A clinician may override with override_reason."
        if overridable
        else " This cannot be overridden."
    )


def vital_items(
    *,
    step: str,
    at: datetime,
    window: timedelta,
    not_before: datetime | None,
    readings: Sequence[GateReading],
    thresholds: Mapping[str, float],
    vitals: Sequence[VitalCode],
    limits: Mapping[VitalCode, tuple[str, ...]],
    when: str,
    limit_word: str,
    tz: tzinfo,
    baseline: Mapping[str, float] | None = None,
) -> list[Unmet]:
    """Each vital measured in the window and inside its limits; with ``baseline`` (discharge)
    also near its pre-dose baseline."""
    window_start = at - window
    if not_before is not None and not_before > window_start:
        window_start = not_before
    window_minutes = int(window.total_seconds() // 60)
    limits_overridable = is_overridable(step, "above_limit")
    unmet: list[Unmet] = []
    for vital in vitals:
        label = vital_label(vital)
        named = _in_sentence(label)
        of_vital = [
            r
            for r in readings
            if r.code == vital
            and r.measured_at <= at
            and (not_before is None or r.measured_at >= not_before)
        ]
        current = _latest([r for r in of_vital if r.measured_at >= window_start])
        if current is None:
            older = _latest(of_vital)
            if older is None:
                unmet.append(
                    Unmet(
                        code="missing_reading",
                        vital=str(vital),
                        message=(
                            f"No {named} reading has been recorded {when}: record one (within "
                            f"the {window_minutes} minutes {when}).{_override_hint(False)}"
                        ),
                    )
                )
            else:
                minutes = _minutes_before(at, older.measured_at)
                unmet.append(
                    Unmet(
                        code="stale_reading",
                        vital=str(vital),
                        message=(
                            f"No {named} reading in the {window_minutes} minutes {when} (last "
                            f"one at {clinic_time(older.measured_at, tz)}, {minutes} minutes "
                            f"earlier): take a new reading.{_override_hint(False)}"
                        ),
                    )
                )
            continue
        value = current.value
        outside: Unmet | None = None
        for key in limits[vital]:
            limit = limit_of(thresholds, key)
            if breaches(key, value, limit):
                word = outside_word(key)
                outside = Unmet(
                    code=f"{word}_limit",
                    overridable=limits_overridable,
                    vital=str(vital),
                    value=value,
                    limit=limit,
                    message=(
                        f"{label} {with_unit(vital, value)} is {word} the {limit_word} limit of "
                        f"{with_unit(vital, limit)}: recheck it."
                        f"{_override_hint(limits_overridable)}"
                    ),
                )
                break
        if outside is not None:
            unmet.append(outside)
        elif baseline is not None and vital in BASELINE_VITALS:
            far = baseline_item(
                vital=vital,
                value=value,
                baseline=baseline.get(str(vital)),
                thresholds=thresholds,
                step=step,
            )
            if far is not None:
                unmet.append(far)
    return unmet


def baseline_limit(*, vital: str, baseline: float | None, thresholds: Mapping[str, float]) -> float:
    """The highest value of ``vital`` allowed at discharge: its pre-dose maximum, or the
    baseline plus ``discharge_baseline_tolerance_pct``, whichever is higher (rounded to 0.1)."""
    max_key = limit_key(ThresholdGroup.pre, vital, Direction.max)
    assert max_key is not None  # every baseline vital has a pre-dose maximum
    allowed = limit_of(thresholds, max_key)
    if baseline is not None:
        tolerance = limit_of(thresholds, "discharge_baseline_tolerance_pct")
        allowed = max(allowed, round(baseline * (1 + tolerance / 100), 1))
    return allowed


def baseline_item(
    *,
    vital: str,
    value: float,
    baseline: float | None,
    thresholds: Mapping[str, float],
    step: str = "discharged",
) -> Unmet | None:
    """``not_near_baseline`` when ``value`` is above both its pre-dose maximum and the
    baseline tolerance; None otherwise (a value below the baseline always passes here)."""
    limit = baseline_limit(vital=vital, baseline=baseline, thresholds=thresholds)
    if value <= limit:
        return None
    overridable = is_overridable(step, "not_near_baseline")
    label = vital_label(vital)
    tolerance = fmt_number(limit_of(thresholds, "discharge_baseline_tolerance_pct"))
    if baseline is None:
        against = "no pre-dose baseline was recorded"
    else:
        against = f"the pre-dose baseline was {with_unit(vital, baseline)}"
    return Unmet(
        code="not_near_baseline",
        overridable=overridable,
        vital=vital,
        value=value,
        limit=limit,
        extra={"baseline": baseline},
        message=(
            f"{label} {with_unit(vital, value)} is not back near its pre-dose level: "
            f"{against} and at most {with_unit(vital, limit)} is allowed (the pre-dose limit, "
            f"or {tolerance}% above the baseline). Keep monitoring and recheck."
            f"{_override_hint(overridable)}"
        ),
    )


def predose_baseline(*, at: datetime, readings: Sequence[GateReading]) -> dict[str, float]:
    """The reading of systolic, diastolic and heart rate that counts for the pre-dose gate at
    ``at`` (the most recent in [at − 30 min, at]): the baseline frozen when dosing starts.
    A vital without one is left out."""
    out: dict[str, float] = {}
    for vital in BASELINE_VITALS:
        current = _counting_reading(readings, vital, at=at, window_start=at - PREDOSE_WINDOW)
        if current is not None:
            out[str(vital)] = current.value
    return out


# ------------------------------------------------------------------------------- pre-dose


@dataclass(frozen=True)
class PlanState:
    """The session's plan as the pre-dose gate sees it (SPEC §3 "Which revision a session
    uses")."""

    discontinued: bool
    pinned_revision: int
    current_revision: int
    current_planned_dose_mg: float | None = None
    planned_dose_mg: float | None = None
    revised_at: datetime | None = None
    revised_by_name: str | None = None
    discontinued_at: datetime | None = None
    discontinued_by_name: str | None = None
    discontinue_reason: str | None = None


def plan_items(plan: PlanState | None, *, tz: tzinfo, session_id: str = "{id}") -> list[Unmet]:
    """``plan_discontinued`` or ``plan_changed``; neither is ever overridable."""
    if plan is None:
        return []
    if plan.discontinued:
        return [plan_discontinued_item(plan, tz=tz, doing="start dosing")]
    if plan.pinned_revision == plan.current_revision:
        return []
    by = f" by {plan.revised_by_name}" if plan.revised_by_name else ""
    when = f" at {clinic_time(plan.revised_at, tz)}" if plan.revised_at else ""
    if plan.current_planned_dose_mg is None:
        dose = "the dose it would give cannot be computed yet"
    else:
        dose = f"it gives {fmt_number(plan.current_planned_dose_mg)} mg"
        if plan.planned_dose_mg is not None:
            dose += f" (this session was checked in for {fmt_number(plan.planned_dose_mg)} mg)"
    return [
        Unmet(
            code="plan_changed",
            extra={
                "pinned_revision": plan.pinned_revision,
                "current_revision": plan.current_revision,
                "current_planned_dose_mg": plan.current_planned_dose_mg,
            },
            message=(
                f"The dosing plan was revised{by}{when} after check-in: the session is on "
                f"revision {plan.pinned_revision}, the plan is now at revision "
                f"{plan.current_revision}, and {dose}. Re-pin the session to the current "
                f"revision (POST /v1/sessions/{session_id}/repin) before dosing. This cannot "
                "be overridden."
            ),
        )
    ]


def plan_discontinued_item(plan: PlanState | None, *, tz: tzinfo, doing: str) -> Unmet:
    parts = []
    if plan is not None and plan.discontinued_by_name:
        parts.append(f"by {plan.discontinued_by_name}")
    if plan is not None and plan.discontinued_at:
        parts.append(f"at {clinic_time(plan.discontinued_at, tz)}")
    how = (" " + " ".join(parts)) if parts else ""
    why = f" ({plan.discontinue_reason})" if plan is not None and plan.discontinue_reason else ""
    return Unmet(
        code="plan_discontinued",
        message=(
            f"The dosing plan was discontinued{how}{why}: its sessions cannot {doing}. Cancel "
            "this session, or ask the prescriber for a new plan. This cannot be overridden."
        ),
    )


@dataclass(frozen=True)
class PredoseInputs:
    at: datetime
    readings: Sequence[GateReading]
    thresholds: Mapping[str, float]
    plan: PlanState | None = None
    tz: tzinfo = UTC
    session_id: str = "{id}"


def evaluate_predose_gate(
    inputs: PredoseInputs,
    *,
    eligibility_items: Sequence[Unmet] = (),
    checklist_items: Sequence[Unmet] = (),
) -> list[Unmet]:
    """SPEC §4 ``dosing``: the four vitals measured in [at − 30 min, at] inside the pre-dose
    limits; then eligibility and checklist items (computed elsewhere); then the plan."""
    return [
        *vital_items(
            step="dosing",
            at=inputs.at,
            window=PREDOSE_WINDOW,
            not_before=None,
            readings=inputs.readings,
            thresholds=inputs.thresholds,
            vitals=PREDOSE_VITALS,
            limits=PREDOSE_LIMITS,
            when="before dosing",
            limit_word="pre-dose",
            tz=inputs.tz,
        ),
        *eligibility_items,
        *checklist_items,
        *plan_items(inputs.plan, tz=inputs.tz, session_id=inputs.session_id),
    ]


# ------------------------------------------------------------------------------- discharge


@dataclass(frozen=True)
class DischargeInputs:
    at: datetime
    dosing_started_at: datetime | None
    medication: str
    min_monitoring_minutes: int
    readings: Sequence[GateReading]
    thresholds: Mapping[str, float]
    first_administration_at: datetime | None = None
    baseline: Mapping[str, float] = field(default_factory=dict)
    sedation_scores: Sequence[SedationScore] = ()
    cadss_scores: Sequence[CadssScore] = ()
    open_alerts: Sequence[OpenAlert] = ()
    tz: tzinfo = UTC


def monitoring_clock_start(
    *, dosing_started_at: datetime | None, first_administration_at: datetime | None
) -> datetime | None:
    """The start of the first non-retracted administration, else the dosing start."""
    return first_administration_at if first_administration_at is not None else dosing_started_at


def earliest_discharge_at(
    *,
    dosing_started_at: datetime | None,
    first_administration_at: datetime | None,
    min_monitoring_minutes: int,
) -> datetime | None:
    start = monitoring_clock_start(
        dosing_started_at=dosing_started_at, first_administration_at=first_administration_at
    )
    return None if start is None else start + timedelta(minutes=min_monitoring_minutes)


def min_monitoring_items(inputs: DischargeInputs) -> list[Unmet]:
    """``min_monitoring`` with ``remaining_minutes`` (rounded up: 37.2 minutes left is 38) and
    ``earliest_at``; overridable for ketamine only."""
    minutes = inputs.min_monitoring_minutes
    overridable = is_overridable("discharged", "min_monitoring", medication=inputs.medication)
    hint = _override_hint(overridable)
    if inputs.medication == "esketamine" and not overridable:
        hint = " The 2-hour minimum of the esketamine REMS cannot be overridden."
    start = monitoring_clock_start(
        dosing_started_at=inputs.dosing_started_at,
        first_administration_at=inputs.first_administration_at,
    )
    if start is None:
        return [
            Unmet(
                code="min_monitoring",
                overridable=overridable,
                remaining_minutes=minutes,
                extra={"earliest_at": None},
                message=(
                    "Dosing has not started, so monitoring time has not begun "
                    f"({minutes} minutes needed).{hint}"
                ),
            )
        ]
    earliest = start + timedelta(minutes=minutes)
    if inputs.at >= earliest:
        return []
    remaining = math.ceil((earliest - inputs.at).total_seconds() / 60)
    origin = "the first dose" if inputs.first_administration_at is not None else "dosing start"
    return [
        Unmet(
            code="min_monitoring",
            overridable=overridable,
            remaining_minutes=remaining,
            extra={"earliest_at": utc_iso(earliest)},
            message=(
                f"The plan asks for {minutes} minutes of monitoring from {origin} "
                f"({clinic_time(start, inputs.tz)}): wait until "
                f"{clinic_time(earliest, inputs.tz)} ({remaining} minutes remaining).{hint}"
            ),
        )
    ]


def discharge_vital_items(inputs: DischargeInputs) -> list[Unmet]:
    if inputs.dosing_started_at is None:
        after_start: list[GateReading] = []
    else:
        start = inputs.dosing_started_at
        after_start = [r for r in inputs.readings if r.measured_at >= start]
    return vital_items(
        step="discharged",
        at=inputs.at,
        window=DISCHARGE_WINDOW,
        not_before=inputs.dosing_started_at,
        readings=after_start,
        thresholds=inputs.thresholds,
        vitals=DISCHARGE_VITALS,
        limits=DISCHARGE_LIMITS,
        when="before discharge",
        limit_word="alert",
        tz=inputs.tz,
        baseline=inputs.baseline,
    )


def sedation_items(inputs: DischargeInputs) -> list[Unmet]:
    """The latest MOAA/S or RASS in [at − 30 min, at] (and after dosing start) is MOAA/S 5 or
    RASS 0; RASS above 0 is agitation."""
    at, tz = inputs.at, inputs.tz
    since = at - SEDATION_WINDOW
    started = inputs.dosing_started_at
    counted = [
        s
        for s in inputs.sedation_scores
        if s.instrument in SEDATION_INSTRUMENTS
        and started is not None
        and started <= s.administered_at <= at
    ]
    latest: SedationScore | None = None
    for s in counted:
        if s.administered_at >= since and (
            latest is None or s.administered_at >= latest.administered_at
        ):
            latest = s
    if latest is None:
        older = max((s.administered_at for s in counted), default=None)
        last = (
            f" (the last one was at {clinic_time(older, tz)}, "
            f"{_minutes_before(at, older)} minutes earlier)"
            if older is not None
            else ""
        )
        return [
            Unmet(
                code="missing_sedation_score",
                message=(
                    "No sedation score (MOAA/S or RASS) in the 30 minutes before discharge"
                    f"{last}: score the patient now.{_override_hint(False)}"
                ),
            )
        ]
    name, resolved = SEDATION_INSTRUMENTS[latest.instrument]
    if latest.score == resolved:
        return []
    shown = f"{latest.score:+d}" if latest.instrument == "rass" else str(latest.score)
    when = clinic_time(latest.administered_at, tz)
    if latest.instrument == "rass" and latest.score > 0:
        return [
            Unmet(
                code="agitation_not_resolved",
                value=float(latest.score),
                message=(
                    f"RASS {shown} at {when}: the patient is still agitated (RASS 0 needed). "
                    f"Keep monitoring and score again.{_override_hint(False)}"
                ),
            )
        ]
    return [
        Unmet(
            code="sedation_not_resolved",
            value=float(latest.score),
            message=(
                f"{name} {shown} at {when}: sedation has not resolved ({name} {resolved} "
                f"needed). Keep monitoring and score again.{_override_hint(False)}"
            ),
        )
    ]


def dissociation_items(inputs: DischargeInputs) -> list[Unmet]:
    """When a CADSS was recorded after dosing start, the latest totals 4 or less, or at most
    the pre-dose value when the patient scored above 4 before dosing."""
    started = inputs.dosing_started_at
    if started is None:
        return []
    after = [c for c in inputs.cadss_scores if started <= c.administered_at <= inputs.at]
    if not after:
        return []
    latest = max(after, key=lambda c: c.administered_at)
    before = [c for c in inputs.cadss_scores if c.administered_at < started]
    pre = max(before, key=lambda c: c.administered_at).total if before else None
    limit = pre if pre is not None and pre > CADSS_RESOLVED_MAX else CADSS_RESOLVED_MAX
    if latest.total <= limit:
        return []
    against = (
        f"the pre-dose CADSS of {pre}" if limit != CADSS_RESOLVED_MAX else str(CADSS_RESOLVED_MAX)
    )
    return [
        Unmet(
            code="dissociation_not_resolved",
            value=float(latest.total),
            limit=float(limit),
            message=(
                f"CADSS {latest.total} at {clinic_time(latest.administered_at, inputs.tz)} is "
                f"above {against}: dissociation has not resolved. Keep monitoring and repeat "
                f"the CADSS.{_override_hint(False)}"
            ),
        )
    ]


def open_alert_items(inputs: DischargeInputs) -> list[Unmet]:
    """Every alert of the session still open, warnings included (acknowledged is fine)."""
    return [
        Unmet(
            code="open_alert",
            alert_id=str(alert.id),
            severity=alert.severity,
            extra={"alert_message": alert.message},
            message=(
                f"An open {alert.severity} alert from {clinic_time(alert.created_at, inputs.tz)}: "
                f"{alert.message} Check the patient and acknowledge the alert"
                f"{' with a note' if alert.severity == 'critical' else ''}.{_override_hint(False)}"
            ),
        )
        for alert in inputs.open_alerts
    ]


def evaluate_discharge_gate(
    inputs: DischargeInputs,
    *,
    checklist_items: Sequence[Unmet] = (),
    waste_items: Sequence[Unmet] = (),
) -> list[Unmet]:
    """SPEC §4 ``discharged``, every item in SPEC order (the discharge-checklist and waste items
    are computed elsewhere and slot in)."""
    return [
        *min_monitoring_items(inputs),
        *discharge_vital_items(inputs),
        *sedation_items(inputs),
        *dissociation_items(inputs),
        *checklist_items,
        *open_alert_items(inputs),
        *waste_items,
    ]


# -------------------------------------------------------------------------------- check-in


def session_open_item(
    *, status: str, checked_in_at: datetime | None, location: str | None, tz: tzinfo
) -> Unmet:
    """The patient already has an open session (``checked_in``, ``dosing`` or
    ``monitoring``): one at a time."""
    where = f" at {location}" if location else ""
    since = f" since {clinic_time(checked_in_at, tz)}" if checked_in_at is not None else ""
    return Unmet(
        code="session_open",
        message=(
            f"The patient already has an open session{where} ({status.replace('_', ' ')}"
            f"{since}): discharge, transfer or cancel it before checking in again. This cannot "
            "be overridden."
        ),
    )


def interval_item(
    *,
    at: datetime,
    last_dosed_at: datetime | None,
    min_interval_hours: float | None,
    tz: tzinfo,
) -> Unmet | None:
    """``interval_too_short`` when ``at`` is sooner than ``min_interval_hours`` after the
    patient's last dosed session of the plan (its dosing start); overridable."""
    if min_interval_hours is None or last_dosed_at is None:
        return None
    earliest = last_dosed_at + timedelta(hours=min_interval_hours)
    if at >= earliest:
        return None
    overridable = is_overridable("checked_in", "interval_too_short")
    return Unmet(
        code="interval_too_short",
        overridable=overridable,
        extra={
            "min_interval_hours": min_interval_hours,
            "last_dosed_at": utc_iso(last_dosed_at),
            "earliest_at": utc_iso(earliest),
        },
        message=(
            f"The plan asks for at least {fmt_number(min_interval_hours)} hours between dosed "
            f"sessions; the last one started dosing at {clinic_time(last_dosed_at, tz)}, so the "
            f"next check-in is due from {clinic_time(earliest, tz)}."
            f"{_override_hint(overridable)}"
        ),
    )
