"""Threshold defaults, validation and layering (SPEC §3, §5)."""

from __future__ import annotations

import math

import pytest

from api.clinical.thresholds import (
    DEFAULT_THRESHOLDS,
    THRESHOLD_KEYS,
    Direction,
    ThresholdGroup,
    effective_thresholds,
    validate_thresholds,
)


def test_defaults_exactly_spec() -> None:
    assert DEFAULT_THRESHOLDS == {
        "pre_systolic_max": 140,
        "pre_diastolic_max": 90,
        "pre_heart_rate_min": 50,
        "pre_heart_rate_max": 110,
        "pre_spo2_min": 94,
        "systolic_max": 180,
        "diastolic_max": 110,
        "heart_rate_min": 50,
        "heart_rate_max": 120,
        "spo2_min": 92,
        "respiratory_rate_min": 10,
        "respiratory_rate_max": 24,
        "etco2_max": 50,
        "temperature_max": 38.5,
        "discharge_baseline_tolerance_pct": 20,
        "vitals_interval_minutes": 15,
    }


def test_every_default_has_key_metadata_and_is_in_range() -> None:
    assert set(THRESHOLD_KEYS) == set(DEFAULT_THRESHOLDS)
    for key, spec in THRESHOLD_KEYS.items():
        assert spec.key == key
        assert spec.low <= DEFAULT_THRESHOLDS[key] <= spec.high, key
        assert spec.direction is (Direction.min if key.endswith("_min") else Direction.max)
        if key.startswith("discharge_"):
            assert (spec.group, spec.vital) == (ThresholdGroup.discharge, None)
            continue
        assert spec.group is (
            ThresholdGroup.pre
            if key.startswith("pre_")
            else ThresholdGroup.cadence
            if key == "vitals_interval_minutes"
            else ThresholdGroup.alert
        )


def test_key_metadata_examples() -> None:
    assert THRESHOLD_KEYS["pre_spo2_min"].vital == "spo2"
    assert (THRESHOLD_KEYS["systolic_max"].low, THRESHOLD_KEYS["systolic_max"].high) == (60, 250)
    assert (THRESHOLD_KEYS["spo2_min"].low, THRESHOLD_KEYS["spo2_min"].high) == (50, 100)
    temp = THRESHOLD_KEYS["temperature_max"]
    assert (temp.vital, temp.low, temp.high) == ("temperature", 34, 42)


def test_defaults_validate_clean() -> None:
    assert validate_thresholds(DEFAULT_THRESHOLDS) == []
    assert validate_thresholds({}) == []


def test_valid_override() -> None:
    assert validate_thresholds({"systolic_max": 170, "spo2_min": 90.5}) == []


def test_unknown_key() -> None:
    problems = validate_thresholds({"systolic_maximum": 170})
    assert [k for k, _ in problems] == ["systolic_maximum"]
    assert "unknown" in problems[0][1]


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, "170", None, True, [170]])
def test_not_a_finite_number(value: object) -> None:
    problems = validate_thresholds({"systolic_max": value})
    assert problems == [("systolic_max", "systolic_max must be a finite number")]


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("systolic_max", 59),
        ("systolic_max", 251),
        ("pre_systolic_max", 1400),
        ("spo2_min", 49),
        ("spo2_min", 101),
        ("temperature_max", 100.4),  # Fahrenheit by mistake
        ("temperature_max", 33.9),
    ],
)
def test_outside_sensible_range(key: str, value: float) -> None:
    problems = validate_thresholds({key: value})
    assert len(problems) == 1
    assert problems[0][0] == key
    assert "outside the sensible range" in problems[0][1]


@pytest.mark.parametrize(("key", "value"), [("systolic_max", 60), ("systolic_max", 250)])
def test_range_edges_accepted(key: str, value: float) -> None:
    assert validate_thresholds({key: value}) == []


def test_min_not_below_max_both_given() -> None:
    problems = validate_thresholds({"heart_rate_min": 100, "heart_rate_max": 90})
    assert len(problems) == 1
    assert problems[0][0] == "heart_rate_min"
    assert "heart_rate_min (100) must be below heart_rate_max (90)" in problems[0][1]


def test_min_equal_max_rejected() -> None:
    assert validate_thresholds({"respiratory_rate_min": 20, "respiratory_rate_max": 20}) != []


def test_min_against_default_max() -> None:
    # heart_rate_max defaults to 120
    problems = validate_thresholds({"heart_rate_min": 130})
    assert problems == [
        ("heart_rate_min", "heart_rate_min (130) must be below heart_rate_max (120)")
    ]


def test_max_against_default_min() -> None:
    # respiratory_rate_min defaults to 10
    problems = validate_thresholds({"respiratory_rate_max": 8})
    assert [k for k, _ in problems] == ["respiratory_rate_max"]


def test_min_max_uses_given_clinic_defaults() -> None:
    clinic = {**DEFAULT_THRESHOLDS, "heart_rate_max": 140}
    assert validate_thresholds({"heart_rate_min": 130}, defaults=clinic) == []


def test_all_problems_reported() -> None:
    problems = validate_thresholds({"bogus": 1, "spo2_min": math.nan, "systolic_max": 400})
    assert sorted(k for k, _ in problems) == ["bogus", "spo2_min", "systolic_max"]


def test_invalid_side_not_double_reported() -> None:
    problems = validate_thresholds({"heart_rate_min": 500, "heart_rate_max": 90})
    assert [k for k, _ in problems] == ["heart_rate_min"]


class TestEffective:
    def test_layers(self) -> None:
        clinic = {"systolic_max": 170.0, "spo2_min": 93.0}
        plan = {"spo2_min": 90.0}
        result = effective_thresholds(clinic, plan)
        assert result["systolic_max"] == 170
        assert result["spo2_min"] == 90
        assert result["diastolic_max"] == 110
        assert set(result) == set(DEFAULT_THRESHOLDS)

    def test_no_plan(self) -> None:
        assert effective_thresholds(DEFAULT_THRESHOLDS, None) == DEFAULT_THRESHOLDS

    def test_empty_clinic_falls_back_to_spec(self) -> None:
        assert effective_thresholds({}, {}) == DEFAULT_THRESHOLDS

    def test_unknown_keys_dropped(self) -> None:
        assert "bogus" not in effective_thresholds({"bogus": 1.0}, {"other": 2.0})

    def test_result_is_a_copy(self) -> None:
        result = effective_thresholds({}, None)
        result["systolic_max"] = 1
        assert DEFAULT_THRESHOLDS["systolic_max"] == 180


def test_pre_dose_heart_rate_minimum_stays_below_its_maximum() -> None:
    assert validate_thresholds({"pre_heart_rate_min": 115}) == [
        ("pre_heart_rate_min", "pre_heart_rate_min (115) must be below pre_heart_rate_max (110)")
    ]
    assert validate_thresholds({"discharge_baseline_tolerance_pct": 150})[0][0] == (
        "discharge_baseline_tolerance_pct"
    )
