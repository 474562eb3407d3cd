"""Amounts that must add up, the controlled-substance wording, and per-session vital trends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from api.clinical.administration import AdministrationRuleError, amount_ml, check_volumes
from api.clinical.controlled_substances import disposal, dosage_form, strength, substance_name
from api.clinical.trends import TrendReading, session_trend


class TestVolumes:
    def test_consistent_record_passes(self) -> None:
        check_volumes(
            dose_mg=36,
            concentration_mg_per_ml=10,
            volume_drawn_ml=5,
            volume_administered_ml=3.6,
            wasted_mg=14,
        )

    def test_nothing_to_compare_passes(self) -> None:
        check_volumes(
            dose_mg=36,
            concentration_mg_per_ml=None,
            volume_drawn_ml=None,
            volume_administered_ml=None,
            wasted_mg=None,
        )

    @pytest.mark.parametrize(
        ("kwargs", "code"),
        [
            ({"volume_drawn_ml": 3, "volume_administered_ml": 4}, "volume_exceeds_drawn"),
            (
                {"concentration_mg_per_ml": 10, "volume_administered_ml": 3},
                "dose_volume_mismatch",
            ),
            (
                {
                    "concentration_mg_per_ml": 10,
                    "volume_drawn_ml": 5,
                    "volume_administered_ml": 3.6,
                    "wasted_mg": 5,
                },
                "waste_volume_mismatch",
            ),
            (
                {
                    "concentration_mg_per_ml": 10,
                    "volume_drawn_ml": 5,
                    "volume_administered_ml": 3.6,
                },
                "waste_volume_mismatch",
            ),
        ],
    )
    def test_mismatches(self, kwargs: dict[str, float], code: str) -> None:
        args: dict[str, float | None] = {
            "concentration_mg_per_ml": None,
            "volume_drawn_ml": None,
            "volume_administered_ml": None,
            "wasted_mg": None,
            **kwargs,
        }
        with pytest.raises(AdministrationRuleError) as err:
            check_volumes(dose_mg=36, **args)
        assert err.value.code == code

    @given(
        concentration=st.sampled_from([10.0, 50.0, 100.0]),
        given_ml=st.integers(1, 200).map(lambda n: n / 100),
        extra_ml=st.integers(0, 200).map(lambda n: n / 100),
    )
    def test_amounts_derived_from_volumes_always_add_up(
        self, concentration: float, given_ml: float, extra_ml: float
    ) -> None:
        check_volumes(
            dose_mg=round(concentration * given_ml, 1),
            concentration_mg_per_ml=concentration,
            volume_drawn_ml=given_ml + extra_ml,
            volume_administered_ml=given_ml,
            wasted_mg=round(concentration * extra_ml, 1),
        )

    def test_amount_ml(self) -> None:
        assert amount_ml(14, 10) == 1.4
        assert amount_ml(14, None) is None
        assert amount_ml(None, 10) is None


def test_controlled_substance_wording() -> None:
    assert substance_name("esketamine") == "esketamine hydrochloride"
    assert dosage_form("esketamine", "intranasal") == "nasal spray device"
    assert strength("esketamine", "intranasal", None) == "28 mg/device"
    assert strength("esketamine", "iv_infusion", 5) == "5 mg/mL"
    assert strength("ketamine", "iv_infusion", 50) == "50 mg/mL"
    assert strength("ketamine", "im", None) is None
    assert disposal(0) is None
    assert disposal(None) is None
    assert disposal(4) is not None


T0 = datetime(2026, 12, 1, 14, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


class TestSessionTrend:
    def test_pre_last_intra_max_post_last(self) -> None:
        readings = [
            TrendReading(130, at(-20)),
            TrendReading(128, at(-5)),
            TrendReading(150, at(10)),
            TrendReading(162, at(30)),
            TrendReading(155, at(35)),
            TrendReading(140, at(60)),
            TrendReading(126, at(90)),
        ]
        row = session_trend(readings, dosing_started_at=at(0), dosing_ended_at=at(40))
        assert row["pre_dose_last"] == 128
        assert row["intra_max"] == 162
        assert row["intra_max_at"] == at(30)
        assert row["post_last"] == 126

    def test_not_dosed_everything_is_pre(self) -> None:
        row = session_trend(
            [TrendReading(120, at(5)), TrendReading(118, at(1))],
            dosing_started_at=None,
            dosing_ended_at=None,
        )
        assert row["pre_dose_last"] == 120
        assert row["intra_max"] is None
        assert row["post_last"] is None

    def test_equal_maxima_keep_the_earliest(self) -> None:
        row = session_trend(
            [TrendReading(150, at(20)), TrendReading(150, at(10))],
            dosing_started_at=at(0),
            dosing_ended_at=None,
        )
        assert row["intra_max_at"] == at(10)
