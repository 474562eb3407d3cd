"""Pre-dose and discharge gates (SPEC §4)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from api.clinical.gates import (
    DischargeInputs,
    GateReading,
    OpenAlert,
    PredoseInputs,
    SedationScore,
    Unmet,
    evaluate_discharge_gate,
    evaluate_predose_gate,
)
from api.clinical.thresholds import DEFAULT_THRESHOLDS

T = DEFAULT_THRESHOLDS
AT = datetime(2026, 12, 1, 14, 0, tzinfo=UTC)


def ago(minutes: float) -> datetime:
    return AT - timedelta(minutes=minutes)


def vitals(
    minutes_ago: float,
    sys: float = 128,
    dia: float = 82,
    hr: float = 76,
    spo2: float = 98,
    rr: float | None = 16,
) -> list[GateReading]:
    t = ago(minutes_ago)
    readings = [
        GateReading("systolic_bp", sys, t),
        GateReading("diastolic_bp", dia, t),
        GateReading("heart_rate", hr, t),
        GateReading("spo2", spo2, t),
    ]
    if rr is not None:
        readings.append(GateReading("respiratory_rate", rr, t))
    return readings


def codes(unmet: list[Unmet]) -> list[tuple[str, str | None]]:
    return [(u.code, u.vital) for u in unmet]


class TestUnmet:
    def test_as_dict_drops_none(self) -> None:
        u = Unmet(code="above_limit", message="m", vital="spo2", value=90.0, limit=94.0)
        assert u.as_dict() == {
            "code": "above_limit",
            "message": "m",
            "vital": "spo2",
            "value": 90.0,
            "limit": 94.0,
            "overridable": False,
        }

    def test_as_dict_keeps_zero(self) -> None:
        assert Unmet(code="min_monitoring", message="m", remaining_minutes=0).as_dict() == {
            "code": "min_monitoring",
            "message": "m",
            "remaining_minutes": 0,
            "overridable": False,
        }


class TestPredose:
    def gate(self, readings: list[GateReading], thresholds: dict[str, float] = T) -> list[Unmet]:
        return evaluate_predose_gate(PredoseInputs(at=AT, readings=readings, thresholds=thresholds))

    def test_all_good(self) -> None:
        assert self.gate(vitals(5)) == []

    def test_nothing_recorded(self) -> None:
        unmet = self.gate([])
        assert codes(unmet) == [
            ("missing_reading", "systolic_bp"),
            ("missing_reading", "diastolic_bp"),
            ("missing_reading", "heart_rate"),
            ("missing_reading", "spo2"),
        ]
        assert unmet[3].message == (
            "No SpO2 reading has been recorded before dosing: record one (within the 30 "
            "minutes before dosing). This cannot be overridden."
        )

    def test_window_edges(self) -> None:
        assert self.gate(vitals(30)) == []  # exactly 30 minutes before: inside
        assert self.gate(vitals(0)) == []  # at `at`: inside

    def test_stale(self) -> None:
        unmet = self.gate([*vitals(5)[:3], GateReading("spo2", 98, ago(42))])
        assert codes(unmet) == [("stale_reading", "spo2")]
        assert unmet[0].message == (
            "No SpO2 reading in the 30 minutes before dosing (last one at 2026-12-01 13:18 "
            "+00:00, 42 minutes earlier): take a new reading. This cannot be overridden."
        )
        assert unmet[0].as_dict() == {
            "code": "stale_reading",
            "overridable": False,
            "vital": "spo2",
            "message": unmet[0].message,
        }

    def test_just_outside_window_is_stale(self) -> None:
        assert codes(self.gate(vitals(30.01))) == [
            ("stale_reading", "systolic_bp"),
            ("stale_reading", "diastolic_bp"),
            ("stale_reading", "heart_rate"),
            ("stale_reading", "spo2"),
        ]

    def test_readings_after_at_ignored(self) -> None:
        assert codes(self.gate(vitals(-1))) == [
            ("missing_reading", "systolic_bp"),
            ("missing_reading", "diastolic_bp"),
            ("missing_reading", "heart_rate"),
            ("missing_reading", "spo2"),
        ]

    def test_limits(self) -> None:
        unmet = self.gate(vitals(5, sys=150, dia=95, hr=111, spo2=93))
        assert [(u.code, u.vital, u.value, u.limit) for u in unmet] == [
            ("above_limit", "systolic_bp", 150, 140),
            ("above_limit", "diastolic_bp", 95, 90),
            ("above_limit", "heart_rate", 111, 110),
            ("below_limit", "spo2", 93, 94),
        ]
        assert unmet[0].message == (
            "Systolic BP 150 mmHg is above the pre-dose limit of 140 mmHg: recheck it. A "
            "clinician may override with override_reason."
        )
        assert unmet[3].message.startswith("SpO2 93% is below the pre-dose limit of 94%: ")
        assert all(u.overridable for u in unmet)

    def test_limits_inclusive(self) -> None:
        assert self.gate(vitals(5, sys=140, dia=90, hr=110, spo2=94)) == []

    def test_heart_rate_minimum_before_dosing(self) -> None:
        """pre_heart_rate_min (50): a pre-dose heart rate of 38 does not pass."""
        unmet = self.gate(vitals(5, hr=38))
        assert [(u.code, u.vital, u.value, u.limit) for u in unmet] == [
            ("below_limit", "heart_rate", 38, 50)
        ]
        assert self.gate(vitals(5, hr=50)) == []
        assert self.gate(vitals(5, hr=49), {**T, "pre_heart_rate_min": 45}) == []

    def test_most_recent_counts(self) -> None:
        # An earlier high BP followed by a normal one passes; the reverse fails.
        assert self.gate([*vitals(20, sys=150), *vitals(5, sys=130)]) == []
        unmet = self.gate([*vitals(5, sys=150), *vitals(20, sys=130)])
        assert codes(unmet) == [("above_limit", "systolic_bp")]

    def test_same_timestamp_last_in_input_counts(self) -> None:
        readings = [*vitals(5), GateReading("systolic_bp", 150, ago(5))]
        assert codes(self.gate(readings)) == [("above_limit", "systolic_bp")]

    def test_plan_limits(self) -> None:
        limits = {**T, "pre_systolic_max": 160.0}
        assert self.gate(vitals(5, sys=150), limits) == []


SCORE_OK = SedationScore("moaas", 5, AT - timedelta(minutes=5))


class TestDischarge:
    start = AT - timedelta(minutes=130)

    def gate(
        self,
        *,
        readings: list[GateReading] | None = None,
        scores: list[SedationScore] | None = None,
        alerts: list[str] | None = None,
        start: datetime | None = None,
        minimum: int = 120,
        thresholds: dict[str, float] = T,
        use_start: bool = True,
        baseline: dict[str, float] | None = None,
    ) -> list[Unmet]:
        return evaluate_discharge_gate(
            DischargeInputs(
                at=AT,
                dosing_started_at=(start or self.start) if use_start else None,
                medication="ketamine",
                readings=vitals(5) if readings is None else readings,
                sedation_scores=[SCORE_OK] if scores is None else scores,
                open_alerts=[
                    OpenAlert(id=a, severity="critical", message="SpO2 low.", created_at=AT)
                    for a in alerts or []
                ],
                thresholds=thresholds,
                min_monitoring_minutes=minimum,
                baseline=baseline or {},
            )
        )

    def test_all_good(self) -> None:
        assert self.gate() == []

    def test_min_monitoring_remaining_rounds_up(self) -> None:
        start = AT - timedelta(minutes=82, seconds=48)  # 37.2 minutes remain
        unmet = self.gate(start=start)
        assert [(u.code, u.remaining_minutes) for u in unmet] == [("min_monitoring", 38)]
        assert unmet[0].message == (
            "The plan asks for 120 minutes of monitoring from dosing start (2026-12-01 12:37 "
            "+00:00): wait until 2026-12-01 14:37 +00:00 (38 minutes remaining). A clinician "
            "may override with override_reason."
        )
        assert unmet[0].overridable is True  # ketamine
        assert unmet[0].as_dict()["earliest_at"] == "2026-12-01T14:37:12Z"

    def test_min_monitoring_exact(self) -> None:
        assert self.gate(start=AT - timedelta(minutes=120)) == []
        unmet = self.gate(start=AT - timedelta(minutes=119, seconds=59))
        assert [(u.code, u.remaining_minutes) for u in unmet] == [("min_monitoring", 1)]

    def test_whole_minutes_remaining(self) -> None:
        unmet = self.gate(start=AT - timedelta(minutes=83))
        assert unmet[0].remaining_minutes == 37

    def test_vitals_window_15_minutes(self) -> None:
        assert self.gate(readings=vitals(15)) == []
        unmet = self.gate(readings=vitals(16))
        assert [u.code for u in unmet] == ["stale_reading"] * 5
        assert unmet[0].message == (
            "No systolic BP reading in the 15 minutes before discharge (last one at 2026-12-01 "
            "13:44 +00:00, 16 minutes earlier): take a new reading. This cannot be overridden."
        )

    def test_vitals_before_dosing_do_not_count(self) -> None:
        # A short monitoring minimum so the window reaches back before dosing start.
        start = AT - timedelta(minutes=10)
        unmet = self.gate(readings=vitals(12), start=start, minimum=5)
        assert codes(unmet) == [
            ("missing_reading", "systolic_bp"),
            ("missing_reading", "diastolic_bp"),
            ("missing_reading", "heart_rate"),
            ("missing_reading", "spo2"),
            ("missing_reading", "respiratory_rate"),
        ]

    def test_reading_at_dosing_start_counts(self) -> None:
        start = AT - timedelta(minutes=10)
        scores = [SedationScore("moaas", 5, AT)]
        assert self.gate(readings=vitals(10), start=start, minimum=5, scores=scores) == []

    def test_alert_limits_not_pre_dose_limits(self) -> None:
        # 150/95 fails pre-dose but is inside the alert limits (180/110) and within 20 % of a
        # 130/85 baseline.
        baseline = {"systolic_bp": 130, "diastolic_bp": 85, "heart_rate": 76}
        assert self.gate(readings=vitals(5, sys=150, dia=95), baseline=baseline) == []

    def test_alert_limits(self) -> None:
        unmet = self.gate(readings=vitals(5, sys=181, dia=111, hr=45, spo2=91))
        assert [(u.code, u.vital, u.value, u.limit) for u in unmet] == [
            ("above_limit", "systolic_bp", 181, 180),
            ("above_limit", "diastolic_bp", 111, 110),
            ("below_limit", "heart_rate", 45, 50),
            ("below_limit", "spo2", 91, 92),
        ]
        assert unmet[2].message == (
            "Heart rate 45 beats/min is below the alert limit of 50 beats/min: recheck it. A "
            "clinician may override with override_reason."
        )

    def test_heart_rate_high(self) -> None:
        unmet = self.gate(readings=vitals(5, hr=121))
        assert [(u.code, u.vital, u.limit) for u in unmet] == [("above_limit", "heart_rate", 120)]

    @pytest.mark.parametrize(
        ("instrument", "score", "ok"),
        [("moaas", 5, None), ("moaas", 4, "sedation_not_resolved"), ("rass", 0, None),
         ("rass", -1, "sedation_not_resolved"), ("rass", 1, "agitation_not_resolved")],
    )  # fmt: skip
    def test_sedation(self, instrument: str, score: int, ok: str | None) -> None:
        unmet = self.gate(scores=[SedationScore(instrument, score, AT - timedelta(minutes=2))])
        if ok is None:
            assert unmet == []
        else:
            assert [(u.code, u.value, u.overridable) for u in unmet] == [(ok, score, False)]

    def test_sedation_messages(self) -> None:
        unmet = self.gate(scores=[SedationScore("rass", -2, AT)])
        assert unmet[0].message == (
            "RASS -2 at 2026-12-01 14:00 +00:00: sedation has not resolved (RASS 0 needed). "
            "Keep monitoring and score again. This cannot be overridden."
        )
        unmet = self.gate(scores=[SedationScore("moaas", 3, AT)])
        assert unmet[0].message.startswith(
            "MOAA/S 3 at 2026-12-01 14:00 +00:00: sedation has not resolved (MOAA/S 5 needed)."
        )
        unmet = self.gate(scores=[SedationScore("rass", 2, AT)])
        assert unmet[0].message.startswith("RASS +2 at 2026-12-01 14:00 +00:00: the patient")

    def test_latest_sedation_score_counts(self) -> None:
        early_bad = SedationScore("moaas", 3, AT - timedelta(minutes=60))
        later_good = SedationScore("rass", 0, AT - timedelta(minutes=10))
        assert self.gate(scores=[later_good, early_bad]) == []
        early_good = SedationScore("moaas", 5, AT - timedelta(minutes=60))
        later_bad = SedationScore("moaas", 4, AT - timedelta(minutes=10))
        assert [u.code for u in self.gate(scores=[later_bad, early_good])] == [
            "sedation_not_resolved"
        ]

    def test_missing_sedation_score(self) -> None:
        before_dosing = SedationScore("moaas", 5, self.start - timedelta(minutes=1))
        after_at = SedationScore("moaas", 5, AT + timedelta(minutes=1))
        other = SedationScore("cadss", 0, AT)
        for scores in ([], [before_dosing], [after_at], [other]):
            unmet = self.gate(scores=scores)
            assert [u.code for u in unmet] == ["missing_sedation_score"], scores
            assert "sedation score" in unmet[0].message

    def test_open_critical_alerts(self) -> None:
        unmet = self.gate(alerts=["a-1", "a-2"])
        assert [(u.code, u.alert_id) for u in unmet] == [
            ("open_alert", "a-1"),
            ("open_alert", "a-2"),
        ]
        assert unmet[0].as_dict()["alert_id"] == "a-1"

    def test_every_item_in_stable_order(self) -> None:
        unmet = self.gate(
            start=AT - timedelta(minutes=60),
            readings=[*vitals(5, sys=190)[:2], GateReading("spo2", 97, AT - timedelta(minutes=40))],
            scores=[SedationScore("moaas", 4, AT)],
            alerts=["crit-9"],
        )
        assert codes(unmet) == [
            ("min_monitoring", None),
            ("above_limit", "systolic_bp"),
            ("missing_reading", "heart_rate"),
            ("stale_reading", "spo2"),
            ("missing_reading", "respiratory_rate"),
            ("sedation_not_resolved", None),
            ("open_alert", None),
        ]
        assert unmet[0].remaining_minutes == 60

    def test_dosing_not_started(self) -> None:
        unmet = self.gate(use_start=False)
        assert [u.code for u in unmet] == [
            "min_monitoring",
            "missing_reading",
            "missing_reading",
            "missing_reading",
            "missing_reading",
            "missing_reading",
            "missing_sedation_score",
        ]
        assert unmet[0].remaining_minutes == 120
