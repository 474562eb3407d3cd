"""Usual dose ranges, least monitoring times, thresholds in force (SPEC §3, §5), the basis
weight limit (SPEC §3), esketamine device intervals and unwitnessed waste (SPEC §6)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from api.clinical.administration import (
    AdministrationRuleError,
    DeviceRecord,
    check_device_interval,
    exceeds_max_dose,
)
from api.clinical.controlled_substances import WasteRecord, unwitnessed_waste
from api.clinical.dose import compute_session_dose
from api.clinical.dose_ranges import (
    DEFAULT_DOSE_LIMITS,
    classify_dose,
    limits_for,
    merge_dose_limits,
)
from api.clinical.labels import clinic_time
from api.clinical.plan_rules import plan_problems
from api.clinical.thresholds import DEFAULT_THRESHOLDS, MIN_MAX_PAIRS, loosened_limits
from api.config import Settings

IV: dict[str, Any] = {
    "medication": "ketamine",
    "route": "iv_infusion",
    "indication": "trd",
    "dose_mg_per_kg": 0.5,
    "dose_mg": None,
    "weight_basis": "actual",
    "max_dose_mg": 60,
    "infusion_minutes": 40,
    "min_monitoring_minutes": 60,
}
ESK: dict[str, Any] = {
    "medication": "esketamine",
    "route": "intranasal",
    "indication": "trd",
    "dose_mg_per_kg": None,
    "dose_mg": 56,
    "weight_basis": None,
    "max_dose_mg": 84,
    "infusion_minutes": None,
    "min_monitoring_minutes": 120,
}


def fields(problems: list[tuple[str, str]]) -> list[str]:
    return [f for f, _ in problems]


def place(plan: dict[str, Any], table: Any = DEFAULT_DOSE_LIMITS) -> Any:
    return classify_dose(
        medication=plan["medication"],
        route=plan["route"],
        dose_mg_per_kg=plan.get("dose_mg_per_kg"),
        dose_mg=plan.get("dose_mg"),
        max_dose_mg=plan.get("max_dose_mg"),
        infusion_minutes=plan.get("infusion_minutes"),
        limits=limits_for(table, plan["medication"], plan["route"]),
    )


class TestKetamineIV:
    @pytest.mark.parametrize("per_kg", [0.1, 0.5, 0.75])
    def test_usual(self, per_kg: float) -> None:
        placed = place({**IV, "dose_mg_per_kg": per_kg})
        assert (placed.refused, placed.above_usual) == ([], [])

    @pytest.mark.parametrize("per_kg", [0.76, 0.9, 1.0])
    def test_above_usual(self, per_kg: float) -> None:
        placed = place({**IV, "dose_mg_per_kg": per_kg})
        assert placed.refused == []
        assert "0.75 mg/kg" in placed.above_usual[0]

    @pytest.mark.parametrize("per_kg", [1.01, 1.5, 5])
    def test_anaesthetic_range_refused(self, per_kg: float) -> None:
        placed = place({**IV, "dose_mg_per_kg": per_kg})
        assert fields(placed.refused) == ["dose_mg_per_kg"]
        assert "anaesthetic" in placed.refused[0][1]

    def test_short_infusion_is_above_usual(self) -> None:
        assert place({**IV, "infusion_minutes": 40}).above_usual == []
        assert "40 minutes" in place({**IV, "infusion_minutes": 39}).above_usual[0]

    def test_five_mg_per_kg_over_five_minutes_is_refused(self) -> None:
        placed = place({**IV, "dose_mg_per_kg": 5, "infusion_minutes": 5})
        assert "dose_mg_per_kg" in fields(placed.refused)


class TestEsketamine:
    @pytest.mark.parametrize("dose", [56, 84])
    def test_usual(self, dose: float) -> None:
        placed = place({**ESK, "dose_mg": dose})
        assert (placed.refused, placed.above_usual) == ([], [])

    def test_28_needs_a_reason(self) -> None:
        placed = place({**ESK, "dose_mg": 28})
        assert placed.refused == []
        assert placed.above_usual

    @pytest.mark.parametrize("dose", [112, 140, 2100])
    def test_anything_else_refused(self, dose: float) -> None:
        assert "dose_mg" in fields(place({**ESK, "dose_mg": dose, "max_dose_mg": 84}).refused)

    def test_max_dose_above_84_refused(self) -> None:
        assert fields(place({**ESK, "max_dose_mg": 112}).refused) == ["max_dose_mg"]
        assert place({**ESK, "max_dose_mg": 84}).refused == []


class TestOtherRoutesAreClinicConfigured:
    def test_defaults_refuse_an_anaesthetic_im_dose(self) -> None:
        im = {**IV, "route": "im", "infusion_minutes": None}
        assert place({**im, "dose_mg_per_kg": 0.5}).above_usual == []
        assert place({**im, "dose_mg_per_kg": 0.8}).above_usual
        assert fields(place({**im, "dose_mg_per_kg": 4}).refused) == ["dose_mg_per_kg"]

    def test_fixed_doses_against_the_mg_limits(self) -> None:
        oral = {**IV, "route": "oral", "infusion_minutes": None, "dose_mg_per_kg": None}
        assert place({**oral, "dose_mg": 100, "max_dose_mg": 100}).above_usual == []
        assert place({**oral, "dose_mg": 200, "max_dose_mg": 200}).above_usual
        assert "dose_mg" in fields(place({**oral, "dose_mg": 400, "max_dose_mg": 400}).refused)

    def test_clinic_overrides_one_key(self) -> None:
        table = merge_dose_limits({"ketamine": {"im": {"usual_max_mg_per_kg": 0.3}}})
        im = {**IV, "route": "im", "infusion_minutes": None, "dose_mg_per_kg": 0.4}
        assert place(im, table).above_usual
        assert table["ketamine"]["im"]["max_mg_per_kg"] == 1.0  # the rest stays
        assert place(im).above_usual == []

    def test_null_removes_a_limit(self) -> None:
        table = merge_dose_limits({"ketamine": {"iv_infusion": {"min_infusion_minutes": None}}})
        assert place({**IV, "infusion_minutes": 20}, table).above_usual == []

    def test_a_route_without_a_row_has_no_range(self) -> None:
        plan = {**IV, "medication": "esketamine", "dose_mg_per_kg": 3}
        assert (place(plan).refused, place(plan).above_usual) == ([], [])

    @pytest.mark.parametrize(
        "bad",
        [
            {"ketamine": {"iv_infusion": {"max_mg_per_kg": -1}}},
            {"ketamine": {"iv_infusion": {"usual_max_mg_per_kg": 2.0}}},  # above max 1.0
            {"ketamine": {"iv_infusion": {"made_up": 1}}},
            {"ketamine": {"rectal": {}}},
            {"ketamine_xr": {}},
            {"esketamine": {"intranasal": {"usual_doses_mg": ["56"]}}},
            {"ketamine": {"iv_infusion": {"min_infusion_minutes": 40.5}}},
        ],
    )
    def test_bad_configuration_is_refused(self, bad: dict[str, Any]) -> None:
        with pytest.raises(ValueError):
            merge_dose_limits(bad)

    def test_settings_read_vigil_dose_limits_as_json(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("VIGIL_DOSE_LIMITS", '{"ketamine": {"im": {"max_mg_per_kg": 0.8}}}')
        monkeypatch.setenv("VIGIL_MIN_MONITORING_MINUTES", "45")
        settings = Settings()
        assert settings.dose_limits["ketamine"]["im"]["max_mg_per_kg"] == 0.8
        assert settings.dose_limits["esketamine"]["intranasal"]["max_mg"] == 84
        assert settings.min_monitoring_minutes == 45


class TestPlanProblems:
    def test_a_usual_plan_is_fine(self) -> None:
        assert plan_problems(IV) == []
        assert plan_problems(ESK) == []

    def test_above_usual_needs_a_reason(self) -> None:
        assert fields(plan_problems({**IV, "dose_mg_per_kg": 0.9})) == ["above_usual_reason"]
        assert plan_problems({**IV, "dose_mg_per_kg": 0.9, "above_usual_reason": "x" * 10}) == []

    def test_a_reason_for_a_usual_dose_is_refused(self) -> None:
        assert fields(plan_problems({**IV, "above_usual_reason": "no reason needed"})) == [
            "above_usual_reason"
        ]

    def test_a_reason_does_not_pass_a_refused_dose(self) -> None:
        plan = {**IV, "dose_mg_per_kg": 5, "above_usual_reason": "anaesthesia wanted"}
        assert fields(plan_problems(plan)) == ["dose_mg_per_kg"]

    def test_least_monitoring(self) -> None:
        assert fields(plan_problems({**ESK, "min_monitoring_minutes": 119})) == [
            "min_monitoring_minutes"
        ]
        assert fields(plan_problems({**IV, "min_monitoring_minutes": 29})) == [
            "min_monitoring_minutes"
        ]
        assert plan_problems({**IV, "min_monitoring_minutes": 30}) == []
        assert fields(
            plan_problems({**IV, "min_monitoring_minutes": 30}, ketamine_min_monitoring_minutes=45)
        ) == ["min_monitoring_minutes"]

    def test_thresholds_against_the_clinic_settings(self) -> None:
        clinic = {**DEFAULT_THRESHOLDS, "heart_rate_max": 100}
        plan = {**IV, "thresholds": {"heart_rate_min": 105}}
        assert fields(plan_problems(plan, clinic_thresholds=clinic)) == [
            "thresholds.heart_rate_min"
        ]
        assert plan_problems(plan) == []  # the SPEC defaults (max 120) would have let it by

    def test_tightening_is_free_loosening_needs_a_reason(self) -> None:
        tight = {**IV, "thresholds": {"pre_systolic_max": 130, "spo2_min": 94}}
        assert plan_problems(tight) == []
        loose = {**IV, "thresholds": {"pre_systolic_max": 160}}
        assert fields(plan_problems(loose)) == ["thresholds_reason"]
        assert plan_problems({**loose, "thresholds_reason": "treated hypertension"}) == []
        # loosening is measured against the clinic's setting, not the SPEC default
        clinic = {**DEFAULT_THRESHOLDS, "pre_systolic_max": 170}
        assert plan_problems(loose, clinic_thresholds=clinic) == []


def test_direction_of_each_key_decides_loosening() -> None:
    clinic = dict(DEFAULT_THRESHOLDS)
    assert loosened_limits({"spo2_min": 90, "systolic_max": 170}, clinic) == [
        ("spo2_min", "spo2_min 90 is below the clinic's setting of 92")
    ]
    assert [k for k, _ in loosened_limits({"heart_rate_min": 45}, clinic)] == ["heart_rate_min"]
    assert ("heart_rate_min", "heart_rate_max") in MIN_MAX_PAIRS
    assert ("respiratory_rate_min", "respiratory_rate_max") in MIN_MAX_PAIRS


class TestBasisNeverAboveActual:
    def dose(self, basis: str, weight: float) -> Any:
        return compute_session_dose(
            dose_mg_per_kg=0.5,
            dose_mg=None,
            weight_basis=basis,
            max_dose_mg=100,
            weight_kg=weight,
            height_cm=180,
            sex="male",  # IBW 74.99 kg
        )

    @pytest.mark.parametrize("basis", ["ideal", "adjusted"])
    def test_underweight_uses_actual(self, basis: str) -> None:
        d = self.dose(basis, 60)
        assert (d.basis_weight_kg, d.planned_dose_mg, d.basis_limited_to_actual) == (60, 30, True)
        assert d.weight_basis == basis

    def test_heavier_patient_keeps_the_basis(self) -> None:
        d = self.dose("ideal", 90)
        assert d.basis_weight_kg == pytest.approx(75, abs=0.02)
        assert d.basis_limited_to_actual is False
        assert self.dose("actual", 60).basis_limited_to_actual is False


T0 = datetime(2026, 12, 1, 14, 0, tzinfo=UTC)
TZ = ZoneInfo("America/New_York")


def minutes(n: float) -> datetime:
    return T0 + timedelta(minutes=n)


class TestDeviceInterval:
    def check(
        self, devices: int, start: float, end: float | None, others: list[DeviceRecord]
    ) -> None:
        check_device_interval(
            devices=devices,
            started_at=minutes(start),
            ended_at=None if end is None else minutes(end),
            others=others,
            tz=TZ,
        )

    def refused(
        self, devices: int, start: float, end: float | None, others: list[DeviceRecord]
    ) -> AdministrationRuleError:
        with pytest.raises(AdministrationRuleError) as exc:
            self.check(devices, start, end, others)
        assert exc.value.code == "device_interval"
        return exc.value

    def test_devices_of_one_record(self) -> None:
        self.check(1, 0, None, [])
        self.check(2, 0, 5, [])
        self.check(3, 0, 10, [])
        assert self.refused(2, 0, None, []).field == "ended_at"
        assert self.refused(2, 0, 1, []).field == "ended_at"
        err = self.refused(3, 0, 9, [])
        assert "10 minutes" in err.message
        assert "2026-12-01 09:10 -05:00" in err.message  # the clinic's time, with its offset

    def test_records_five_minutes_apart(self) -> None:
        first = DeviceRecord(started_at=minutes(0), ended_at=minutes(5))
        self.check(1, 10, None, [first])
        err = self.refused(1, 6, None, [first])
        assert err.field == "started_at"
        assert "09:05 -05:00" in err.message
        assert "09:10 -05:00" in err.message
        single = DeviceRecord(started_at=minutes(0), ended_at=None)
        self.check(1, 5, None, [single])
        self.refused(1, 1, None, [single])

    def test_a_record_before_an_existing_one(self) -> None:
        later = DeviceRecord(started_at=minutes(20), ended_at=None)
        self.check(2, 10, 15, [later])
        self.refused(2, 10, 16, [later])


def test_session_ceiling_has_no_tolerance() -> None:
    assert not exceeds_max_dose(already_given_mg=56, this_dose_mg=28, max_dose_mg=84)
    assert exceeds_max_dose(already_given_mg=84, this_dose_mg=0.1, max_dose_mg=84)


def test_unwitnessed_waste_items() -> None:
    def record(status: str | None, **extra: Any) -> WasteRecord:
        values: dict[str, Any] = {
            "administration_id": f"a-{status}",
            "medication": "ketamine",
            "wasted_mg": 14,
            "started_at": T0,
            "witness_status": status,
            "witness_name": "Jo Lee",
            "administered_by_name": "Sam Park",
            **extra,
        }
        return WasteRecord(**values)

    items = unwitnessed_waste(
        [
            record("pending"),
            record("witnessed"),
            record("not_confirmed"),
            record("pending", administration_id="retracted", retracted=True),
            record(None, wasted_mg=0),
        ],
        tz=TZ,
    )
    assert [i.as_dict()["administration_id"] for i in items] == ["a-pending"]
    item = items[0].as_dict()
    assert item["code"] == "waste_unwitnessed"
    assert item["overridable"] is False
    message = str(item["message"])
    assert "Jo Lee" in message
    assert "Sam Park" in message
    assert "2026-12-01 09:00 -05:00" in message


def test_clinic_time() -> None:
    assert clinic_time(T0, TZ) == "2026-12-01 09:00 -05:00"
    assert clinic_time(T0, ZoneInfo("UTC")) == "2026-12-01 14:00 +00:00"
