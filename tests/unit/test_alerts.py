"""Alert decisions (SPEC §6) with Vigil's documented critical rule."""

from __future__ import annotations

import pytest

from api.clinical.alerts import (
    ALERT_KINDS,
    AlertDecision,
    Severity,
    evaluate_reading,
    phq9_self_harm_alert,
)
from api.clinical.phase import Phase
from api.clinical.thresholds import DEFAULT_THRESHOLDS

T = DEFAULT_THRESHOLDS


def decide(code: str, value: float, phase: Phase = Phase.intra) -> AlertDecision | None:
    return evaluate_reading(code, value, phase, T)


@pytest.mark.parametrize(
    ("code", "value", "kind", "severity", "limit"),
    [
        ("systolic_bp", 181, "systolic_bp_high", Severity.warning, 180),
        ("systolic_bp", 199, "systolic_bp_high", Severity.warning, 180),
        ("systolic_bp", 200, "systolic_bp_high", Severity.critical, 180),
        ("diastolic_bp", 111, "diastolic_bp_high", Severity.warning, 110),
        ("diastolic_bp", 119, "diastolic_bp_high", Severity.warning, 110),
        ("diastolic_bp", 120, "diastolic_bp_high", Severity.critical, 110),
        ("heart_rate", 49, "heart_rate_low", Severity.warning, 50),
        ("heart_rate", 41, "heart_rate_low", Severity.warning, 50),
        ("heart_rate", 40, "heart_rate_low", Severity.critical, 50),
        ("heart_rate", 121, "heart_rate_high", Severity.warning, 120),
        ("heart_rate", 149, "heart_rate_high", Severity.warning, 120),
        ("heart_rate", 150, "heart_rate_high", Severity.critical, 120),
        ("spo2", 91.9, "spo2_low", Severity.critical, 92),
        ("spo2", 80, "spo2_low", Severity.critical, 92),
        ("respiratory_rate", 9, "respiratory_rate_low", Severity.warning, 10),
        ("respiratory_rate", 8, "respiratory_rate_low", Severity.critical, 10),
        ("respiratory_rate", 25, "respiratory_rate_high", Severity.warning, 24),
        ("respiratory_rate", 60, "respiratory_rate_high", Severity.warning, 24),
        ("etco2", 51, "etco2_high", Severity.warning, 50),
        ("etco2", 60, "etco2_high", Severity.critical, 50),
        ("temperature", 38.6, "temperature_high", Severity.warning, 38.5),
        ("temperature", 41, "temperature_high", Severity.warning, 38.5),
    ],
)
def test_outside_limits(
    code: str, value: float, kind: str, severity: Severity, limit: float
) -> None:
    for phase in (Phase.intra, Phase.post):
        decision = decide(code, value, phase)
        assert decision is not None
        assert (decision.kind, decision.severity, decision.vital) == (kind, severity, code)
        assert decision.value == value
        assert decision.limit == limit
        assert decision.kind in ALERT_KINDS


@pytest.mark.parametrize(
    ("code", "value"),
    [
        ("systolic_bp", 180),  # limits are inclusive
        ("diastolic_bp", 110),
        ("heart_rate", 50),
        ("heart_rate", 120),
        ("spo2", 92),
        ("respiratory_rate", 10),
        ("respiratory_rate", 24),
        ("etco2", 50),
        ("temperature", 38.5),
        ("systolic_bp", 120),
        ("mean_bp", 200),  # no limits for mean BP
        ("unknown_code", 1),
    ],
)
def test_inside_limits_or_unlimited(code: str, value: float) -> None:
    assert decide(code, value) is None


def test_pre_phase_alerts_as_every_phase_does() -> None:
    # SPEC §6: a pre-dose 212/124 alerts as a post-dose one does.
    for phase in Phase:
        sys = decide("systolic_bp", 212, phase)
        dia = decide("diastolic_bp", 124, phase)
        assert sys is not None
        assert dia is not None
        assert (sys.severity, dia.severity) == (Severity.critical, Severity.critical), phase
    d = decide("spo2", 70, Phase.pre)
    assert d is not None
    assert "before dosing" in d.message
    # the pre-dose limits (140 systolic) are a gate, not an alert
    assert decide("systolic_bp", 150, Phase.pre) is None


def test_plain_string_phase_accepted() -> None:
    assert evaluate_reading("spo2", 80, "pre", T) is not None  # type: ignore[arg-type]
    assert evaluate_reading("spo2", 93, "post", T) is None  # type: ignore[arg-type]


def test_message_names_clinic_time_with_offset_and_who_recorded() -> None:
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    d = evaluate_reading(
        "heart_rate",
        130,
        Phase.post,
        T,
        measured_at=datetime(2026, 12, 1, 15, 4, 30, tzinfo=UTC),
        tz=ZoneInfo("America/New_York"),
        recorded_by_name="Ana Ruiz",
    )
    assert d is not None
    assert "(measured 2026-12-01 10:04 -05:00, recorded by Ana Ruiz)" in d.message


def test_plan_limits_move_critical_level() -> None:
    limits = {**T, "systolic_max": 160}
    d1 = evaluate_reading("systolic_bp", 170, Phase.post, limits)
    d2 = evaluate_reading("systolic_bp", 180, Phase.post, limits)
    assert d1 is not None
    assert d2 is not None
    assert (d1.severity, d1.limit) == (Severity.warning, 160)
    assert d2.severity is Severity.critical


def test_missing_key_falls_back_to_default() -> None:
    d = evaluate_reading("spo2", 91, Phase.intra, {})
    assert d is not None
    assert d.limit == 92


def test_message_has_value_unit_and_limit() -> None:
    d = decide("systolic_bp", 186, Phase.intra)
    assert d is not None
    assert d.message == (
        "Systolic BP 186 mmHg during dosing is above the alert limit of 180 mmHg. "
        "Recheck it and tell the prescriber if it stays there."
    )
    d = decide("spo2", 89, Phase.post)
    assert d is not None
    assert d.message == (
        "SpO2 89% after dosing is below the alert limit of 92%. Critical: check the patient now."
    )
    d = decide("temperature", 38.7, Phase.post)
    assert d is not None
    assert "38.7 °C" in d.message
    assert "38.5 °C" in d.message
    d = decide("respiratory_rate", 7, Phase.post)
    assert d is not None
    assert "7 breaths/min" in d.message


class TestPhq9:
    def test_zero_no_alert(self) -> None:
        assert phq9_self_harm_alert(0) is None

    @pytest.mark.parametrize("item9", [1, 2, 3])
    def test_positive_is_critical(self, item9: int) -> None:
        d = phq9_self_harm_alert(item9)
        assert d is not None
        assert (d.kind, d.severity, d.value, d.limit) == (
            "phq9_self_harm",
            Severity.critical,
            item9,
            0,
        )
        assert "self-harm" in d.message
        assert d.kind in ALERT_KINDS

    @pytest.mark.parametrize("item9", [-1, 4, True])
    def test_out_of_range(self, item9: int) -> None:
        with pytest.raises(ValueError, match="item 9"):
            phq9_self_harm_alert(item9)
