"""The direction of each limit is written once (THRESHOLD_KEYS) and compared once
(``breaches``): alerts, gates and the loosening check of plans all use it (issue 20)."""

from __future__ import annotations

import pytest

from api.clinical.alerts import ALERT_RULES
from api.clinical.gates import DISCHARGE_LIMITS, PREDOSE_LIMITS
from api.clinical.thresholds import (
    DEFAULT_THRESHOLDS,
    THRESHOLD_KEYS,
    Direction,
    ThresholdGroup,
    beyond,
    breaches,
    limit_keys,
    limit_of,
    loosens,
    outside_word,
)
from api.clinical.vitals import VitalCode


@pytest.mark.parametrize(
    ("key", "value", "outside"),
    [
        ("systolic_max", 181, True),
        ("systolic_max", 180, False),  # equal is inside
        ("systolic_max", 100, False),
        ("spo2_min", 91, True),
        ("spo2_min", 92, False),
        ("spo2_min", 99, False),
    ],
)
def test_breaches_follows_the_keys_direction(key: str, value: float, outside: bool) -> None:
    assert breaches(key, value, DEFAULT_THRESHOLDS[key]) is outside


def test_beyond_and_word() -> None:
    assert beyond("systolic_max", 200, 180) == 20
    assert beyond("spo2_min", 85, 92) == 7
    assert outside_word("heart_rate_max") == "above"
    assert outside_word("heart_rate_min") == "below"


def test_loosening_is_a_limit_outside_the_clinics() -> None:
    for key, spec in THRESHOLD_KEYS.items():
        clinic = DEFAULT_THRESHOLDS[key]
        looser = clinic + 1 if spec.direction is Direction.max else clinic - 1
        tighter = clinic - 1 if spec.direction is Direction.max else clinic + 1
        assert loosens(key, looser, clinic), key
        assert not loosens(key, tighter, clinic), key
        assert not loosens(key, clinic, clinic), key


def test_limit_of_falls_back_to_the_spec_default() -> None:
    assert limit_of({}, "systolic_max") == 180
    assert limit_of({"systolic_max": 170}, "systolic_max") == 170


def test_gate_limits_come_from_the_one_table() -> None:
    assert dict(PREDOSE_LIMITS) == {
        VitalCode.systolic_bp: ("pre_systolic_max",),
        VitalCode.diastolic_bp: ("pre_diastolic_max",),
        VitalCode.heart_rate: ("pre_heart_rate_max", "pre_heart_rate_min"),
        VitalCode.spo2: ("pre_spo2_min",),
    }
    assert dict(DISCHARGE_LIMITS) == {
        VitalCode.systolic_bp: ("systolic_max",),
        VitalCode.diastolic_bp: ("diastolic_max",),
        VitalCode.heart_rate: ("heart_rate_max", "heart_rate_min"),
        VitalCode.spo2: ("spo2_min",),
        VitalCode.respiratory_rate: ("respiratory_rate_max", "respiratory_rate_min"),
    }
    assert limit_keys(ThresholdGroup.alert, VitalCode.mean_bp) == ()


def test_every_alert_limit_has_one_rule_named_by_its_direction() -> None:
    alert_keys = {k for k, s in THRESHOLD_KEYS.items() if s.group is ThresholdGroup.alert}
    assert {rule.threshold_key for rule in ALERT_RULES} == alert_keys
    for rule in ALERT_RULES:
        high = THRESHOLD_KEYS[rule.threshold_key].direction is Direction.max
        assert rule.kind == f"{rule.vital}_{'high' if high else 'low'}"
