"""Administration rules (SPEC §6; DOMAIN.md controlled substances, esketamine devices)."""

from __future__ import annotations

import math

import pytest

from api.clinical.administration import (
    ESKETAMINE_DEVICE_MG,
    AdministrationRuleError,
    check_esketamine_devices,
    check_waste,
    exceeds_planned_dose,
)


def test_device_size() -> None:
    assert ESKETAMINE_DEVICE_MG == 28


class TestDevices:
    @pytest.mark.parametrize(
        ("dose", "devices"), [(28, 1), (56, 2), (84, 3), (56.0, 2), (56, None)]
    )
    def test_valid(self, dose: float, devices: int | None) -> None:
        check_esketamine_devices(dose, devices)

    @pytest.mark.parametrize("dose", [0, -28, 27.9, 30, 56.5, 70, math.nan, math.inf])
    def test_not_whole_devices(self, dose: float) -> None:
        with pytest.raises(AdministrationRuleError) as exc:
            check_esketamine_devices(dose, None)
        assert (exc.value.code, exc.value.field) == ("esketamine_whole_devices", "dose_mg")
        assert "28 mg" in exc.value.message

    @pytest.mark.parametrize(("dose", "devices"), [(56, 3), (84, 2), (56, 0), (56, True)])
    def test_count_mismatch(self, dose: float, devices: int) -> None:
        with pytest.raises(AdministrationRuleError) as exc:
            check_esketamine_devices(dose, devices)
        assert (exc.value.code, exc.value.field) == ("device_count_mismatch", "devices")

    def test_mismatch_message(self) -> None:
        with pytest.raises(AdministrationRuleError) as exc:
            check_esketamine_devices(84, 2)
        assert exc.value.message == (
            "84 mg of esketamine is 3 devices of 28 mg, but 2 devices were recorded."
        )


class TestExceedsPlannedDose:
    def test_within(self) -> None:
        assert not exceeds_planned_dose(already_given_mg=0, this_dose_mg=35, planned_dose_mg=35)
        assert not exceeds_planned_dose(already_given_mg=20, this_dose_mg=15, planned_dose_mg=35)

    def test_tolerance(self) -> None:
        assert not exceeds_planned_dose(
            already_given_mg=17.5, this_dose_mg=17.55, planned_dose_mg=35.0
        )
        assert exceeds_planned_dose(already_given_mg=17.5, this_dose_mg=17.56, planned_dose_mg=35.0)

    def test_float_sums_do_not_trip(self) -> None:
        # 0.1 + 0.2 != 0.3 in binary floating point
        assert not exceeds_planned_dose(already_given_mg=0.1, this_dose_mg=0.2, planned_dose_mg=0.3)

    def test_exceeds(self) -> None:
        assert exceeds_planned_dose(already_given_mg=56, this_dose_mg=28, planned_dose_mg=56)
        assert exceeds_planned_dose(already_given_mg=0, this_dose_mg=36, planned_dose_mg=35)


class TestWaste:
    @pytest.mark.parametrize("wasted", [None, 0, 0.0])
    def test_no_waste_needs_no_witness(self, wasted: float | None) -> None:
        check_waste(wasted_mg=wasted, witness_id=None, administered_by="nurse-1")

    def test_witnessed(self) -> None:
        check_waste(wasted_mg=15, witness_id="nurse-2", administered_by="nurse-1")

    @pytest.mark.parametrize("witness", [None, "", "  "])
    def test_needs_witness(self, witness: str | None) -> None:
        with pytest.raises(AdministrationRuleError) as exc:
            check_waste(wasted_mg=15, witness_id=witness, administered_by="nurse-1")
        assert (exc.value.code, exc.value.field) == ("waste_witness_required", "waste_witness_id")
        assert "15 mg" in exc.value.message

    @pytest.mark.parametrize("witness", ["nurse-1", " NURSE-1 "])
    def test_witness_must_be_another_person(self, witness: str) -> None:
        with pytest.raises(AdministrationRuleError) as exc:
            check_waste(wasted_mg=15, witness_id=witness, administered_by="nurse-1")
        assert exc.value.code == "waste_witness_same_person"

    @pytest.mark.parametrize("wasted", [-0.1, -15, math.nan, math.inf])
    def test_invalid_amount(self, wasted: float) -> None:
        with pytest.raises(AdministrationRuleError) as exc:
            check_waste(wasted_mg=wasted, witness_id="nurse-2", administered_by="nurse-1")
        assert (exc.value.code, exc.value.field) == ("invalid_waste", "wasted_mg")

    def test_is_value_error(self) -> None:
        assert issubclass(AdministrationRuleError, ValueError)
