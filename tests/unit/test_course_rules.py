"""The course summary: counts, baseline choice, response and remission (SPEC §12)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from api.clinical.course import CourseScore, CourseSession, summarize_course

NOW = datetime(2026, 12, 10, 12, 0, tzinfo=UTC)


def day(n: float) -> datetime:
    return NOW + timedelta(days=n)


SESSIONS = [
    CourseSession("discharged", day(-9), day(-9), 40.0),
    CourseSession("discharged", day(-6), day(-6), 40.04),
    CourseSession("cancelled", day(-3), None, 0.0),
]


def phq9(total: int, when: datetime, source: str = "session") -> CourseScore:
    return CourseScore("phq9", total, when, source)


def test_counts_and_behind() -> None:
    out = summarize_course(
        plan_active=True,
        sessions_planned=6,
        sessions=SESSIONS,
        scores=[],
        screening_baselines={},
        now=NOW,
    )
    assert out["sessions_dosed"] == 2
    assert out["sessions_cancelled"] == 1
    assert out["first_dosed_at"] == day(-9)
    assert out["days_since_last_dose"] == 6
    assert out["total_mg_given"] == 80.0
    assert out["behind"] is True  # four sessions left, none scheduled
    ahead = [*SESSIONS, CourseSession("scheduled", day(1), None, 0.0)]
    out = summarize_course(
        plan_active=True,
        sessions_planned=6,
        sessions=ahead,
        scores=[],
        screening_baselines={},
        now=NOW,
    )
    assert out["behind"] is False
    assert out["next_scheduled_at"] == day(1)


def test_baseline_is_the_screening_else_the_first_score_before_the_first_dose() -> None:
    scores = [phq9(20, day(-9.1)), phq9(12, day(-6)), phq9(4, day(-1), "phone")]
    out = summarize_course(
        plan_active=True,
        sessions_planned=None,
        sessions=SESSIONS,
        scores=scores,
        screening_baselines={},
        now=NOW,
    )
    (entry,) = out["instruments"]  # type: ignore[misc]
    assert (entry["baseline_total"], entry["latest_total"]) == (20, 4)
    assert entry["response"] is True
    assert entry["remission"] is True
    out = summarize_course(
        plan_active=True,
        sessions_planned=None,
        sessions=SESSIONS,
        scores=scores,
        screening_baselines={"phq9": phq9(10, day(-30), "screening")},
        now=NOW,
    )
    (entry,) = out["instruments"]  # type: ignore[misc]
    assert entry["baseline_source"] == "screening"
    assert entry["baseline_total"] == 10
    assert entry["percent_change"] == -60.0
    # a score only after the first dose is no baseline
    out = summarize_course(
        plan_active=True,
        sessions_planned=None,
        sessions=SESSIONS,
        scores=[phq9(12, day(-6)), phq9(11, day(-1))],
        screening_baselines={},
        now=NOW,
    )
    (entry,) = out["instruments"]  # type: ignore[misc]
    assert entry["baseline_total"] is None
    assert entry["response"] is None
    assert entry["remission"] is None


def test_response_threshold_is_a_half_drop() -> None:
    def response(latest: int) -> object:
        out = summarize_course(
            plan_active=True,
            sessions_planned=None,
            sessions=SESSIONS,
            scores=[phq9(20, day(-10)), phq9(latest, day(-1))],
            screening_baselines={},
            now=NOW,
        )
        return out["instruments"][0]["response"]  # type: ignore[index]

    assert response(10) is True
    assert response(11) is False
