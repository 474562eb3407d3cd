"""The session's ``vitals_summary`` (SPEC §4 ``GET /v1/sessions/{id}``; DOMAIN.md REMS BP pairs).

Input readings are the session's non-retracted readings, canonical units, any order.

Definitions:

* A **BP pair** is a systolic and a diastolic reading with the same ``measured_at`` (SPEC §5),
  paired by :func:`api.clinical.bp.bp_pairs`: if several readings of one code share a timestamp
  (two sources), the later one in the input wins, so the caller should pass readings in
  recording order.
* ``last_pre_dose_bp``: last pair measured before dosing start (every pair while dosing has not
  started). ``{systolic, diastolic, measured_at}``.
* ``peak_intra_*`` / ``peak_post_*``: highest single reading in that phase
  (:func:`api.clinical.phase.derive_phase`), earliest on ties. ``{value, measured_at}``.
* ``lowest_spo2``: lowest SpO2 at or after dosing start, earliest on ties.
* ``bp_40_min``: the pair nearest to dosing start + 40 min, within ±15 min (25–55 min after
  start), earlier one on ties; adds ``minutes_after_dosing_start`` (float, 0.1 min).
  Spravato label: BP again about 40 min after dosing (DOMAIN.md).
* ``last_bp_before_discharge``: last pair at or after dosing start and at or before ``ended_at``;
  None while the session has not ended.
* ``monitoring_minutes``: whole minutes (floored) from the monitoring clock's start (the first
  administration, else dosing start; so is the 40-minute pair's target) to ``ended_at``; None until
  both exist. Floored so a REMS "≥120 minutes" check is never met by rounding up.

Readings measured after ``ended_at`` are ignored (the API rejects them anyway). Output
datetimes are the datetime objects given.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from api.clinical.bp import bp_pairs as pair_indexes
from api.clinical.phase import Phase, phase_labeler
from api.clinical.vitals import VitalCode

BP_40_TARGET = timedelta(minutes=40)
BP_40_TOLERANCE = timedelta(minutes=15)


@dataclass(frozen=True)
class SummaryReading:
    code: str
    value: float
    measured_at: datetime


@dataclass(frozen=True)
class BpPair:
    systolic: float
    diastolic: float
    measured_at: datetime

    def as_dict(self) -> dict[str, object]:
        return {
            "systolic": self.systolic,
            "diastolic": self.diastolic,
            "measured_at": self.measured_at,
        }


def bp_pairs(readings: Sequence[SummaryReading]) -> list[BpPair]:
    """Systolic/diastolic readings sharing a ``measured_at``, ordered by time.

    For duplicates of one code at one timestamp the last in input order wins.
    """
    pairs = [
        BpPair(readings[s].value, readings[d].value, readings[s].measured_at)
        for s, d in pair_indexes((r.code, r.measured_at) for r in readings)
    ]
    return sorted(pairs, key=lambda p: p.measured_at)


def _peak(readings: Sequence[SummaryReading], *, highest: bool = True) -> dict[str, object] | None:
    if not readings:
        return None
    # Highest (or lowest) value; earliest measured_at among equal values.
    sign = -1.0 if highest else 1.0
    best = min(readings, key=lambda r: (sign * r.value, r.measured_at))
    return {"value": best.value, "measured_at": best.measured_at}


def summarize_vitals(
    readings: Sequence[SummaryReading],
    *,
    dosing_started_at: datetime | None,
    dosing_ended_at: datetime | None,
    ended_at: datetime | None,
    first_administration_at: datetime | None = None,
) -> dict[str, object]:
    """Build the SPEC §4 ``vitals_summary`` for one session (see module docstring).

    The 40-minute pair and ``monitoring_minutes`` count from the monitoring clock: the first
    non-retracted administration's start when one is given, else dosing start (SPEC §4 "The
    monitoring clock")."""
    kept = [r for r in readings if ended_at is None or r.measured_at <= ended_at]
    pairs = bp_pairs(kept)

    phase_of = phase_labeler(dosing_started_at, dosing_ended_at)

    def in_phase(code: VitalCode, phase: Phase) -> list[SummaryReading]:
        return [r for r in kept if r.code == code and phase_of(r.measured_at) is phase]

    pre_pairs = [p for p in pairs if phase_of(p.measured_at) is Phase.pre]
    summary: dict[str, object] = {
        "last_pre_dose_bp": pre_pairs[-1].as_dict() if pre_pairs else None,
        "peak_intra_systolic": _peak(in_phase(VitalCode.systolic_bp, Phase.intra)),
        "peak_intra_diastolic": _peak(in_phase(VitalCode.diastolic_bp, Phase.intra)),
        "peak_post_systolic": _peak(in_phase(VitalCode.systolic_bp, Phase.post)),
        "peak_post_diastolic": _peak(in_phase(VitalCode.diastolic_bp, Phase.post)),
        "lowest_spo2": None,
        "bp_40_min": None,
        "last_bp_before_discharge": None,
        "monitoring_minutes": None,
    }
    if dosing_started_at is None:
        return summary

    start = dosing_started_at
    after_start_spo2 = [r for r in kept if r.code == VitalCode.spo2 and r.measured_at >= start]
    summary["lowest_spo2"] = _peak(after_start_spo2, highest=False)
    clock = first_administration_at or dosing_started_at

    target = clock + BP_40_TARGET
    near_40 = [p for p in pairs if abs(p.measured_at - target) <= BP_40_TOLERANCE]
    if near_40:
        best = min(near_40, key=lambda p: (abs(p.measured_at - target), p.measured_at))
        minutes = (best.measured_at - clock).total_seconds() / 60.0
        summary["bp_40_min"] = {**best.as_dict(), "minutes_after_dosing_start": round(minutes, 1)}

    if ended_at is not None:
        before_end = [p for p in pairs if start <= p.measured_at <= ended_at]
        if before_end:
            summary["last_bp_before_discharge"] = before_end[-1].as_dict()
        summary["monitoring_minutes"] = monitoring_minutes(clock, ended_at)
    return summary


def monitoring_minutes(dosing_started_at: datetime, ended_at: datetime) -> int:
    """Whole minutes from dosing start to the end of the session, floored, never negative."""
    seconds = (ended_at - dosing_started_at).total_seconds()
    return max(0, int(seconds // 60))
