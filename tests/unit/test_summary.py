"""vitals_summary (SPEC §4)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from api.clinical.summary import SummaryReading, bp_pairs, summarize_vitals

START = datetime(2026, 12, 1, 14, 0, tzinfo=UTC)
DOSING_END = START + timedelta(minutes=40)
ENDED = START + timedelta(minutes=125, seconds=50)


def at(minutes: float) -> datetime:
    return START + timedelta(minutes=minutes)


def bp(minutes: float, sys: float, dia: float) -> list[SummaryReading]:
    t = at(minutes)
    return [SummaryReading("systolic_bp", sys, t), SummaryReading("diastolic_bp", dia, t)]


def r(code: str, minutes: float, value: float) -> SummaryReading:
    return SummaryReading(code, value, at(minutes))


def full_session() -> list[SummaryReading]:
    return [
        *bp(-20, 128, 80),
        *bp(-5, 132, 84),
        r("spo2", -5, 98),
        *bp(10, 150, 92),
        *bp(30, 162, 99),
        *bp(45, 158, 101),
        r("systolic_bp", 50, 149),  # no diastolic partner: not a pair, still a systolic peak input
        *bp(60, 140, 88),
        *bp(120, 126, 80),
        r("spo2", 12, 95),
        r("spo2", 20, 93),
        r("spo2", 70, 93),
        r("heart_rate", 30, 130),
    ]


def test_full_session() -> None:
    s = summarize_vitals(
        full_session(), dosing_started_at=START, dosing_ended_at=DOSING_END, ended_at=ENDED
    )
    assert s == {
        "last_pre_dose_bp": {"systolic": 132, "diastolic": 84, "measured_at": at(-5)},
        "peak_intra_systolic": {"value": 162, "measured_at": at(30)},
        "peak_intra_diastolic": {"value": 99, "measured_at": at(30)},
        "peak_post_systolic": {"value": 158, "measured_at": at(45)},
        "peak_post_diastolic": {"value": 101, "measured_at": at(45)},
        "lowest_spo2": {"value": 93, "measured_at": at(20)},  # earliest of equal lows
        "bp_40_min": {
            "systolic": 158,
            "diastolic": 101,
            "measured_at": at(45),
            "minutes_after_dosing_start": 45.0,
        },
        "last_bp_before_discharge": {"systolic": 126, "diastolic": 80, "measured_at": at(120)},
        "monitoring_minutes": 125,
    }


def test_not_started() -> None:
    s = summarize_vitals(
        bp(-5, 130, 80), dosing_started_at=None, dosing_ended_at=None, ended_at=None
    )
    assert s["last_pre_dose_bp"] == {"systolic": 130, "diastolic": 80, "measured_at": at(-5)}
    for key in (
        "peak_intra_systolic",
        "peak_intra_diastolic",
        "peak_post_systolic",
        "peak_post_diastolic",
        "lowest_spo2",
        "bp_40_min",
        "last_bp_before_discharge",
        "monitoring_minutes",
    ):
        assert s[key] is None, key


def test_empty() -> None:
    s = summarize_vitals([], dosing_started_at=START, dosing_ended_at=None, ended_at=None)
    assert set(s) == {
        "last_pre_dose_bp",
        "peak_intra_systolic",
        "peak_intra_diastolic",
        "peak_post_systolic",
        "peak_post_diastolic",
        "lowest_spo2",
        "bp_40_min",
        "last_bp_before_discharge",
        "monitoring_minutes",
    }
    assert all(v is None for v in s.values())


def test_during_dosing_everything_is_intra() -> None:
    s = summarize_vitals(
        [*bp(10, 150, 90), *bp(70, 170, 95)],
        dosing_started_at=START,
        dosing_ended_at=None,
        ended_at=None,
    )
    assert s["peak_intra_systolic"] == {"value": 170, "measured_at": at(70)}
    assert s["peak_post_systolic"] is None
    assert s["last_bp_before_discharge"] is None
    assert s["monitoring_minutes"] is None


def test_bp_pair_needs_same_timestamp() -> None:
    readings = [
        SummaryReading("systolic_bp", 130, at(-5)),
        SummaryReading("diastolic_bp", 80, at(-5) + timedelta(seconds=1)),
    ]
    assert bp_pairs(readings) == []
    s = summarize_vitals(readings, dosing_started_at=START, dosing_ended_at=None, ended_at=None)
    assert s["last_pre_dose_bp"] is None


def test_duplicate_code_at_same_time_last_wins() -> None:
    readings = [*bp(-5, 130, 80), SummaryReading("systolic_bp", 131, at(-5))]
    assert [(p.systolic, p.diastolic) for p in bp_pairs(readings)] == [(131, 80)]


def test_reading_at_dosing_start_is_not_pre_dose() -> None:
    s = summarize_vitals(
        [*bp(-10, 120, 70), *bp(0, 140, 90)],
        dosing_started_at=START,
        dosing_ended_at=DOSING_END,
        ended_at=None,
    )
    assert s["last_pre_dose_bp"] == {"systolic": 120, "diastolic": 70, "measured_at": at(-10)}
    assert s["peak_intra_systolic"] == {"value": 140, "measured_at": at(0)}


class TestBp40:
    def summary(self, readings: list[SummaryReading]) -> object:
        return summarize_vitals(
            readings, dosing_started_at=START, dosing_ended_at=DOSING_END, ended_at=None
        )["bp_40_min"]

    def test_window_edges_inclusive(self) -> None:
        assert self.summary(bp(25, 140, 90)) == {
            "systolic": 140,
            "diastolic": 90,
            "measured_at": at(25),
            "minutes_after_dosing_start": 25.0,
        }
        assert self.summary(bp(55, 140, 90)) is not None

    def test_outside_window(self) -> None:
        assert self.summary([*bp(24.9, 140, 90), *bp(55.1, 141, 91)]) is None

    def test_nearest_wins(self) -> None:
        result = self.summary([*bp(30, 140, 90), *bp(42, 150, 95), *bp(50, 160, 99)])
        assert isinstance(result, dict)
        assert result["systolic"] == 150

    def test_tie_goes_to_earlier(self) -> None:
        result = self.summary([*bp(45, 150, 95), *bp(35, 140, 90)])
        assert isinstance(result, dict)
        assert result["measured_at"] == at(35)

    def test_fractional_minutes(self) -> None:
        result = self.summary(bp(40 + 20 / 60, 140, 90))
        assert isinstance(result, dict)
        assert result["minutes_after_dosing_start"] == 40.3


def test_readings_after_end_ignored() -> None:
    ended = at(90)
    s = summarize_vitals(
        [*bp(80, 130, 80), *bp(95, 190, 120), r("spo2", 95, 80)],
        dosing_started_at=START,
        dosing_ended_at=DOSING_END,
        ended_at=ended,
    )
    assert s["last_bp_before_discharge"] == {
        "systolic": 130,
        "diastolic": 80,
        "measured_at": at(80),
    }
    assert s["peak_post_systolic"] == {"value": 130, "measured_at": at(80)}
    assert s["lowest_spo2"] is None
    assert s["monitoring_minutes"] == 90


def test_bp_at_end_counts_before_discharge() -> None:
    ended = at(120)
    s = summarize_vitals(
        bp(120, 125, 79), dosing_started_at=START, dosing_ended_at=DOSING_END, ended_at=ended
    )
    assert s["last_bp_before_discharge"] == {"systolic": 125, "diastolic": 79, "measured_at": ended}


def test_monitoring_minutes_floors() -> None:
    s = summarize_vitals(
        [], dosing_started_at=START, dosing_ended_at=DOSING_END, ended_at=at(119.99)
    )
    assert s["monitoring_minutes"] == 119


def test_pre_dose_bp_only_last_before_start() -> None:
    s = summarize_vitals(
        [*bp(-30, 150, 95), *bp(-2, 135, 85)],
        dosing_started_at=START,
        dosing_ended_at=None,
        ended_at=None,
    )
    assert s["last_pre_dose_bp"] == {"systolic": 135, "diastolic": 85, "measured_at": at(-2)}


def test_monitoring_minutes_and_the_40_minute_pair_count_from_the_first_administration() -> None:
    first_dose = START + timedelta(minutes=20)
    readings = [
        SummaryReading("systolic_bp", 130, START + timedelta(minutes=40)),
        SummaryReading("diastolic_bp", 84, START + timedelta(minutes=40)),
        SummaryReading("systolic_bp", 138, START + timedelta(minutes=60)),
        SummaryReading("diastolic_bp", 86, START + timedelta(minutes=60)),
    ]
    s = summarize_vitals(
        readings,
        dosing_started_at=START,
        dosing_ended_at=START + timedelta(minutes=30),
        ended_at=START + timedelta(minutes=140),
        first_administration_at=first_dose,
    )
    assert s["monitoring_minutes"] == 120
    assert s["bp_40_min"]["systolic"] == 138  # type: ignore[index]
    assert s["bp_40_min"]["minutes_after_dosing_start"] == 40  # type: ignore[index]
