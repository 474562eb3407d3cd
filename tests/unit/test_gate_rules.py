"""The REMS end-point rules of the discharge gate, the plan and check-in items, and the one list
of overridable items (SPEC §4). Pure functions, fixed times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from api.clinical.gates import (
    CadssScore,
    DischargeInputs,
    GateReading,
    OpenAlert,
    PlanState,
    SedationScore,
    Unmet,
    baseline_item,
    baseline_limit,
    dissociation_items,
    earliest_discharge_at,
    evaluate_discharge_gate,
    interval_item,
    is_overridable,
    min_monitoring_items,
    monitoring_clock_start,
    open_alert_items,
    plan_items,
    predose_baseline,
    sedation_items,
    session_open_item,
)
from api.clinical.labels import clinic_time
from api.clinical.thresholds import DEFAULT_THRESHOLDS

T = DEFAULT_THRESHOLDS
AT = datetime(2026, 12, 1, 17, 0, tzinfo=UTC)  # 12:00 in New York
NY = ZoneInfo("America/New_York")
START = AT - timedelta(minutes=150)
BASELINE = {"systolic_bp": 118.0, "diastolic_bp": 74.0, "heart_rate": 72.0}


def ago(minutes: float) -> datetime:
    return AT - timedelta(minutes=minutes)


def post(minutes_ago: float = 5, **values: float) -> list[GateReading]:
    base = {
        "systolic_bp": 124.0,
        "diastolic_bp": 80.0,
        "heart_rate": 70.0,
        "spo2": 98.0,
        "respiratory_rate": 16.0,
    }
    base.update(values)
    return [GateReading(code, value, ago(minutes_ago)) for code, value in base.items()]


def inputs(**overrides: object) -> DischargeInputs:
    values: dict[str, object] = {
        "at": AT,
        "dosing_started_at": START,
        "medication": "ketamine",
        "min_monitoring_minutes": 60,
        "readings": post(),
        "thresholds": T,
        "baseline": BASELINE,
        "sedation_scores": [SedationScore("moaas", 5, ago(5))],
        "tz": NY,
    }
    values.update(overrides)
    return DischargeInputs(**values)  # type: ignore[arg-type]


def codes(unmet: list[Unmet]) -> list[str]:
    return [u.code for u in unmet]


def test_clinic_time_is_local_to_the_minute_with_its_offset() -> None:
    assert clinic_time(AT, NY) == "2026-12-01 12:00 -05:00"
    assert clinic_time(datetime(2026, 7, 1, 12, 0, 59, tzinfo=UTC), NY) == (
        "2026-07-01 08:00 -04:00"
    )
    assert clinic_time(AT, UTC) == "2026-12-01 17:00 +00:00"


class TestBaseline:
    def test_the_highest_value_allowed_is_the_pre_dose_limit_or_the_tolerance(self) -> None:
        # 118 × 1.2 = 141.6, above the pre-dose limit 140
        assert baseline_limit(vital="systolic_bp", baseline=118, thresholds=T) == 141.6
        # 100 × 1.2 = 120, below the pre-dose limit: the pre-dose limit counts
        assert baseline_limit(vital="systolic_bp", baseline=100, thresholds=T) == 140
        assert baseline_limit(vital="systolic_bp", baseline=None, thresholds=T) == 140
        tolerance = {**T, "discharge_baseline_tolerance_pct": 30}
        assert baseline_limit(vital="heart_rate", baseline=100, thresholds=tolerance) == 130

    def test_above_both_is_not_near_baseline(self) -> None:
        item = baseline_item(vital="systolic_bp", value=178, baseline=118, thresholds=T)
        assert item is not None
        assert item.as_dict() | {"message": ""} == {
            "code": "not_near_baseline",
            "message": "",
            "overridable": True,
            "vital": "systolic_bp",
            "value": 178,
            "limit": 141.6,
            "baseline": 118,
        }
        assert "118 mmHg" in item.message
        assert "141.6 mmHg" in item.message
        assert baseline_item(vital="systolic_bp", value=141.6, baseline=118, thresholds=T) is None

    def test_a_fall_below_the_baseline_is_not_held_against_the_patient(self) -> None:
        assert baseline_item(vital="heart_rate", value=52, baseline=90, thresholds=T) is None

    def test_the_issue_s_discharge_is_refused_on_every_count(self) -> None:
        """RR 8, SpO2 93, HR 118, BP 178/108 against a 118/74 baseline, CADSS 39."""
        unmet = evaluate_discharge_gate(
            inputs(
                readings=post(systolic_bp=178, diastolic_bp=108, heart_rate=118, spo2=93,
                              respiratory_rate=8),
                cadss_scores=[CadssScore(39, ago(10))],
            )
        )  # fmt: skip
        assert [(u.code, u.vital) for u in unmet] == [
            ("not_near_baseline", "systolic_bp"),
            ("not_near_baseline", "diastolic_bp"),
            ("not_near_baseline", "heart_rate"),
            ("below_limit", "respiratory_rate"),
            ("dissociation_not_resolved", None),
        ]
        # SpO2 93 is inside the alert limit (92): no item

    def test_the_pre_dose_readings_that_counted_become_the_baseline(self) -> None:
        readings = [
            GateReading("systolic_bp", 150, ago(40)),  # outside the 30-minute window
            GateReading("systolic_bp", 130, ago(20)),
            GateReading("systolic_bp", 118, ago(10)),
            GateReading("heart_rate", 72, ago(10)),
            GateReading("spo2", 97, ago(10)),
        ]
        assert predose_baseline(at=AT, readings=readings) == {
            "systolic_bp": 118,
            "heart_rate": 72,
        }


class TestMonitoringClock:
    def test_counts_from_the_first_administration(self) -> None:
        first = ago(50)
        assert monitoring_clock_start(dosing_started_at=START, first_administration_at=first) == (
            first
        )
        assert monitoring_clock_start(dosing_started_at=START, first_administration_at=None) == (
            START
        )
        assert earliest_discharge_at(
            dosing_started_at=START, first_administration_at=first, min_monitoring_minutes=120
        ) == first + timedelta(minutes=120)

    def test_esketamine_two_hours_from_the_first_device_is_never_overridable(self) -> None:
        unmet = min_monitoring_items(
            inputs(medication="esketamine", min_monitoring_minutes=120,
                   first_administration_at=ago(115))
        )  # fmt: skip
        [item] = unmet
        assert (item.code, item.remaining_minutes, item.overridable) == ("min_monitoring", 5, False)
        assert item.as_dict()["earliest_at"] == "2026-12-01T17:05:00Z"
        assert "12:05 -05:00" in item.message
        assert "cannot be overridden" in item.message

    def test_ketamine_minimum_is_overridable(self) -> None:
        [item] = min_monitoring_items(inputs(first_administration_at=ago(30)))
        assert (item.remaining_minutes, item.overridable) == (30, True)


class TestSedation:
    def test_only_a_score_from_the_last_30_minutes_counts(self) -> None:
        # MOAA/S 5 two minutes after dosing, before the peak: it no longer counts
        early = SedationScore("moaas", 5, START + timedelta(minutes=2))
        unmet = sedation_items(inputs(sedation_scores=[early]))
        assert codes(unmet) == ["missing_sedation_score"]
        assert "09:32 -05:00" in unmet[0].message
        assert sedation_items(inputs(sedation_scores=[SedationScore("moaas", 5, ago(30))])) == []

    def test_rass_above_zero_is_agitation(self) -> None:
        unmet = sedation_items(inputs(sedation_scores=[SedationScore("rass", 1, ago(5))]))
        assert codes(unmet) == ["agitation_not_resolved"]
        unmet = sedation_items(inputs(sedation_scores=[SedationScore("rass", -1, ago(5))]))
        assert codes(unmet) == ["sedation_not_resolved"]


class TestDissociation:
    def test_latest_cadss_after_dosing_at_most_4(self) -> None:
        assert dissociation_items(inputs(cadss_scores=[CadssScore(4, ago(5))])) == []
        [item] = dissociation_items(
            inputs(cadss_scores=[CadssScore(2, ago(60)), CadssScore(5, ago(5))])
        )
        assert (item.code, item.value, item.limit, item.overridable) == (
            "dissociation_not_resolved",
            5,
            4,
            False,
        )
        # the latest counts
        assert (
            dissociation_items(
                inputs(cadss_scores=[CadssScore(12, ago(60)), CadssScore(3, ago(5))])
            )
            == []
        )

    def test_a_patient_above_4_before_dosing_goes_back_to_their_own_level(self) -> None:
        before = CadssScore(9, START - timedelta(minutes=10))
        assert dissociation_items(inputs(cadss_scores=[before, CadssScore(9, ago(5))])) == []
        [item] = dissociation_items(inputs(cadss_scores=[before, CadssScore(10, ago(5))]))
        assert item.limit == 9

    def test_no_cadss_after_dosing_no_item(self) -> None:
        assert dissociation_items(inputs(cadss_scores=[CadssScore(20, START - timedelta(1))])) == []


def test_every_open_alert_blocks_warnings_included() -> None:
    alerts = [
        OpenAlert("a-1", "warning", "Heart rate 125 beats/min after dosing is high.", ago(20)),
        OpenAlert("a-2", "critical", "SpO2 88% after dosing is low.", ago(10)),
    ]
    unmet = open_alert_items(inputs(open_alerts=alerts))
    assert [(u.code, u.alert_id, u.severity, u.overridable) for u in unmet] == [
        ("open_alert", "a-1", "warning", False),
        ("open_alert", "a-2", "critical", False),
    ]
    assert unmet[1].as_dict()["alert_message"] == "SpO2 88% after dosing is low."
    assert "11:50 -05:00" in unmet[1].message
    assert "with a note" in unmet[1].message


class TestOverridable:
    @pytest.mark.parametrize(
        ("step", "code", "kwargs", "expected"),
        [
            ("dosing", "above_limit", {}, True),
            ("dosing", "below_limit", {}, True),
            ("dosing", "missing_reading", {}, False),
            ("dosing", "stale_reading", {}, False),
            ("dosing", "plan_changed", {}, False),
            ("dosing", "plan_discontinued", {}, False),
            ("dosing", "screening_required", {}, False),
            ("dosing", "checklist_item", {"item": "escort"}, True),
            ("dosing", "checklist_item", {"item": "medication_changes"}, True),
            ("dosing", "checklist_item", {"item": "pregnancy_test",
                                          "pregnancy_test": "declined"}, True),
            ("dosing", "checklist_item", {"item": "pregnancy_test",
                                          "pregnancy_test": "positive"}, False),
            ("dosing", "checklist_item", {"item": "consent_confirmed"}, False),
            ("discharged", "not_near_baseline", {}, True),
            ("discharged", "above_limit", {}, True),
            ("discharged", "min_monitoring", {"medication": "ketamine"}, True),
            ("discharged", "min_monitoring", {"medication": "esketamine"}, False),
            ("discharged", "checklist_item", {"item": "escort_present"}, True),
            ("discharged", "checklist_item", {"item": "dissociation_resolved"}, False),
            ("discharged", "missing_sedation_score", {}, False),
            ("discharged", "sedation_not_resolved", {}, False),
            ("discharged", "dissociation_not_resolved", {}, False),
            ("discharged", "open_alert", {}, False),
            ("discharged", "waste_unwitnessed", {}, False),
            ("checked_in", "interval_too_short", {}, True),
            ("checked_in", "session_open", {}, False),
            ("administration", "above_planned_dose", {}, True),
        ],
    )  # fmt: skip
    def test_the_one_list(
        self, step: str, code: str, kwargs: dict[str, str], expected: bool
    ) -> None:
        assert is_overridable(step, code, **kwargs) is expected


class TestPlanItems:
    def test_unchanged_plan_no_item(self) -> None:
        plan = PlanState(discontinued=False, pinned_revision=2, current_revision=2)
        assert plan_items(plan, tz=NY) == []

    def test_revised_after_check_in(self) -> None:
        plan = PlanState(
            discontinued=False,
            pinned_revision=1,
            current_revision=2,
            current_planned_dose_mg=30.0,
            planned_dose_mg=40.0,
            revised_at=ago(20),
            revised_by_name="Dr Ruiz",
        )
        [item] = plan_items(plan, tz=NY, session_id="s-1")
        assert item.as_dict() | {"message": ""} == {
            "code": "plan_changed",
            "message": "",
            "overridable": False,
            "pinned_revision": 1,
            "current_revision": 2,
            "current_planned_dose_mg": 30.0,
        }
        assert "by Dr Ruiz at 2026-12-01 11:40 -05:00" in item.message
        assert "30 mg" in item.message
        assert "/v1/sessions/s-1/repin" in item.message

    def test_dose_that_cannot_be_computed_is_null(self) -> None:
        plan = PlanState(discontinued=False, pinned_revision=1, current_revision=3)
        [item] = plan_items(plan, tz=NY)
        assert item.as_dict()["current_planned_dose_mg"] is None

    def test_discontinued(self) -> None:
        plan = PlanState(
            discontinued=True,
            pinned_revision=1,
            current_revision=1,
            discontinued_at=ago(60),
            discontinued_by_name="Dr Ruiz",
            discontinue_reason="positive pregnancy test",
        )
        [item] = plan_items(plan, tz=NY)
        assert (item.code, item.overridable) == ("plan_discontinued", False)
        assert "by Dr Ruiz at 2026-12-01 11:00 -05:00 (positive pregnancy test)" in item.message


class TestCheckIn:
    def test_interval_too_short(self) -> None:
        last = AT - timedelta(hours=48)
        item = interval_item(at=AT, last_dosed_at=last, min_interval_hours=72, tz=NY)
        assert item is not None
        assert (item.code, item.overridable) == ("interval_too_short", True)
        assert item.as_dict()["earliest_at"] == "2026-12-02T17:00:00Z"
        assert "2026-12-02 12:00 -05:00" in item.message
        assert interval_item(at=AT, last_dosed_at=last, min_interval_hours=48, tz=NY) is None
        assert interval_item(at=AT, last_dosed_at=None, min_interval_hours=72, tz=NY) is None
        assert interval_item(at=AT, last_dosed_at=last, min_interval_hours=None, tz=NY) is None

    def test_session_open(self) -> None:
        item = session_open_item(
            status="monitoring", checked_in_at=ago(90), location="chair-2", tz=NY
        )
        assert (item.code, item.overridable) == ("session_open", False)
        assert "at chair-2 (monitoring since 2026-12-01 10:30 -05:00)" in item.message


def test_items_owned_elsewhere_slot_in_where_spec_puts_them() -> None:
    from api.clinical.gates import PredoseInputs, evaluate_predose_gate

    checklist = Unmet(code="discharge_checklist_missing", message="c")
    waste = Unmet(code="waste_unwitnessed", message="w")
    alert = OpenAlert("a-1", "warning", "HR high.", ago(20))
    unmet = evaluate_discharge_gate(
        inputs(cadss_scores=[CadssScore(9, ago(5))], open_alerts=[alert]),
        checklist_items=[checklist],
        waste_items=[waste],
    )
    assert codes(unmet) == [
        "dissociation_not_resolved",
        "discharge_checklist_missing",
        "open_alert",
        "waste_unwitnessed",
    ]
    plan = PlanState(discontinued=True, pinned_revision=1, current_revision=1)
    predose = evaluate_predose_gate(
        PredoseInputs(at=AT, readings=[], thresholds=T, plan=plan, tz=NY),
        eligibility_items=[Unmet(code="screening_required", message="s")],
        checklist_items=[Unmet(code="checklist_missing", message="c")],
    )
    assert codes(predose)[-3:] == ["screening_required", "checklist_missing", "plan_discontinued"]
    assert codes(predose)[:4] == ["missing_reading"] * 4
