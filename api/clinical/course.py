"""The treatment course of one plan (SPEC §12; DOMAIN.md "Course").

* sessions dosed (dosing started), cancelled, first and last dosed, the next scheduled one,
  days since the last dose, total mg given (non-retracted administrations);
* ``behind``: the plan is active, fewer sessions dosed than planned and none scheduled ahead
  (about half of real-world patients stop before 6 infusions: the view shows who is drifting);
* per instrument: the baseline is the screening's baseline score for that instrument, else the
  first score of the course taken before its first dose; the latest score; change in percent,
  ``response`` (≥ 50% drop, Y-BOCS 35%) and ``remission`` (MADRS ≤ 10, PHQ-9 < 5, GAD-7 < 5)
  by :func:`api.clinical.scoring.course_response`. No baseline: those are None.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from api.clinical.scoring import course_response

DOSED_STATUSES = frozenset({"dosing", "monitoring", "discharged", "transferred"})


@dataclass(frozen=True)
class CourseSession:
    status: str
    scheduled_at: datetime
    dosing_started_at: datetime | None
    given_mg: float


@dataclass(frozen=True)
class CourseScore:
    instrument: str
    total: int
    administered_at: datetime
    source: str  # session | clinic | phone | patient_reported | screening


def summarize_course(
    *,
    plan_active: bool,
    sessions_planned: int | None,
    sessions: Sequence[CourseSession],
    scores: Sequence[CourseScore],
    screening_baselines: Mapping[str, CourseScore],
    now: datetime,
) -> dict[str, object]:
    dosed = sorted(
        (s.dosing_started_at for s in sessions if s.dosing_started_at is not None),
    )
    upcoming = sorted(
        s.scheduled_at for s in sessions if s.status == "scheduled" and s.scheduled_at >= now
    )
    first = dosed[0] if dosed else None
    last = dosed[-1] if dosed else None
    planned_left = sessions_planned is not None and len(dosed) < sessions_planned
    instruments: list[dict[str, object]] = []
    by_instrument: dict[str, list[CourseScore]] = {}
    for score in sorted(scores, key=lambda s: s.administered_at):
        by_instrument.setdefault(score.instrument, []).append(score)
    for instrument in sorted(set(by_instrument) | set(screening_baselines)):
        course_scores = by_instrument.get(instrument, [])
        baseline = screening_baselines.get(instrument)
        if baseline is None:
            before = [s for s in course_scores if first is None or s.administered_at < first]
            baseline = before[0] if before else None
        latest = course_scores[-1] if course_scores else None
        entry: dict[str, object] = {
            "instrument": instrument,
            "baseline_total": baseline.total if baseline else None,
            "baseline_at": baseline.administered_at if baseline else None,
            "baseline_source": baseline.source if baseline else None,
            "latest_total": latest.total if latest else None,
            "latest_at": latest.administered_at if latest else None,
            "scores": len(course_scores),
            "percent_change": None,
            "response": None,
            "remission": None,
        }
        if baseline is not None and latest is not None and latest is not baseline:
            result = course_response(instrument, baseline.total, latest.total)
            entry.update(
                percent_change=result["percent_change"],
                response=result["response"],
                remission=result["remission"],
            )
        instruments.append(entry)
    return {
        "sessions_dosed": len(dosed),
        "sessions_cancelled": sum(1 for s in sessions if s.status == "cancelled"),
        "first_dosed_at": first,
        "last_dosed_at": last,
        "next_scheduled_at": upcoming[0] if upcoming else None,
        "days_since_last_dose": (now - last).days if last else None,
        "total_mg_given": round(sum(s.given_mg for s in sessions), 1),
        "behind": plan_active and planned_left and not upcoming,
        "instruments": instruments,
    }
