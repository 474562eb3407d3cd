"""Scale scoring (SPEC §6 Assessments, DOMAIN.md Scales)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from api.clinical.scoring import (
    ITEM_INSTRUMENTS,
    Instrument,
    ScoringError,
    band_for,
    course_response,
    score_assessment,
    total_range,
)


def items_with_total(count: int, high: int, total: int) -> list[int]:
    """``count`` items in 0..high summing to ``total`` (greedy)."""
    items = []
    for _ in range(count):
        v = min(high, total)
        items.append(v)
        total -= v
    assert total == 0
    return items


BOUNDARIES = {
    "phq9": [
        (0, "minimal"), (4, "minimal"), (5, "mild"), (9, "mild"), (10, "moderate"),
        (14, "moderate"), (15, "moderately severe"), (19, "moderately severe"), (20, "severe"),
        (27, "severe"),
    ],
    "gad7": [
        (0, "minimal"), (4, "minimal"), (5, "mild"), (9, "mild"), (10, "moderate"),
        (14, "moderate"), (15, "severe"), (21, "severe"),
    ],
    "madrs": [
        (0, "normal"), (6, "normal"), (7, "mild"), (19, "mild"), (20, "moderate"),
        (34, "moderate"), (35, "severe"), (60, "severe"),
    ],
    "ybocs": [
        (0, "subclinical"), (7, "subclinical"), (8, "mild"), (15, "mild"), (16, "moderate"),
        (23, "moderate"), (24, "severe"), (31, "severe"), (32, "extreme"), (40, "extreme"),
    ],
    "pcl5": [(0, None), (32, None), (33, "provisional ptsd"), (80, "provisional ptsd")],
    "cadss": [(0, None), (50, None), (92, None)],
}  # fmt: skip

CASES = [(inst, total, band) for inst, cases in BOUNDARIES.items() for total, band in cases]


@pytest.mark.parametrize(("instrument", "total", "band"), CASES)
def test_band_boundaries(instrument: str, total: int, band: str | None) -> None:
    spec = ITEM_INSTRUMENTS[Instrument(instrument)]
    result = score_assessment(
        instrument, items=items_with_total(spec.count, spec.high, total), score=None
    )
    assert (result.instrument, result.total, result.band) == (instrument, total, band)


def test_phq9_details() -> None:
    result = score_assessment("phq9", items=[1, 2, 1, 0, 3, 1, 2, 0, 2], score=None)
    assert result.total == 12
    assert result.band == "moderate"
    assert result.details == {"item9_self_harm": 2}


class TestPcl5:
    def test_dsm_pattern_met(self) -> None:
        items = [2, 0, 0, 0, 0, 2, 0, 2, 2, 0, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0]
        result = score_assessment("pcl5", items=items, score=None)
        assert result.total == 12
        assert result.band is None
        assert result.details["dsm_criteria_met"] is True
        assert result.details["provisional_ptsd"] is False
        assert result.details["dsm_clusters_met"] == {"B": True, "C": True, "D": True, "E": True}

    @pytest.mark.parametrize(
        ("index_to_drop", "cluster"),
        [(0, "B"), (5, "C"), (7, "D"), (14, "E")],
    )
    def test_each_cluster_needed(self, index_to_drop: int, cluster: str) -> None:
        items = [2, 0, 0, 0, 0, 2, 0, 2, 2, 0, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0]
        items[index_to_drop] = 1  # rated 1 ("a little bit") does not count
        result = score_assessment("pcl5", items=items, score=None)
        assert result.details["dsm_criteria_met"] is False
        clusters = result.details["dsm_clusters_met"]
        assert isinstance(clusters, dict)
        assert clusters[cluster] is False

    def test_high_total_without_pattern(self) -> None:
        # All 1s and 4s only in cluster D: total high, pattern not met.
        items = [1] * 7 + [4] * 7 + [1] * 6
        result = score_assessment("pcl5", items=items, score=None)
        assert result.total == 41
        assert result.band == "provisional ptsd"
        assert result.details["provisional_ptsd"] is True
        assert result.details["dsm_criteria_met"] is False

    def test_cutoff_is_33(self) -> None:
        for total, expected in ((32, False), (33, True)):
            result = score_assessment("pcl5", items=items_with_total(20, 4, total), score=None)
            assert result.details["provisional_ptsd"] is expected
            assert result.details["provisional_ptsd_cutoff"] == 33


class TestSingleScore:
    @pytest.mark.parametrize(
        ("score", "description", "sedated"),
        [(5, "responds readily to name spoken in normal tone", False),
         (4, "lethargic response to name spoken in normal tone", True),
         (0, "no response after painful trapezius squeeze", True)],
    )  # fmt: skip
    def test_moaas(self, score: int, description: str, sedated: bool) -> None:
        result = score_assessment("moaas", items=None, score=score)
        assert (result.total, result.band) == (score, None)
        assert result.details == {"description": description, "sedated": sedated}

    @pytest.mark.parametrize(
        ("score", "description", "sedated"),
        [(4, "combative", False), (0, "alert and calm", False), (-1, "drowsy", True),
         (-5, "unarousable", True)],
    )  # fmt: skip
    def test_rass(self, score: int, description: str, sedated: bool) -> None:
        result = score_assessment("rass", items=None, score=score)
        assert (result.total, result.band) == (score, None)
        assert result.details == {"description": description, "sedated": sedated}

    @pytest.mark.parametrize(("instrument", "score"), [("moaas", -1), ("moaas", 6), ("rass", -6),
                                                       ("rass", 5), ("rass", True),
                                                       ("moaas", 4.0)])  # fmt: skip
    def test_out_of_range(self, instrument: str, score: int) -> None:
        with pytest.raises(ScoringError) as exc:
            score_assessment(instrument, items=None, score=score)
        assert exc.value.field == "score"

    def test_needs_score(self) -> None:
        with pytest.raises(ScoringError) as exc:
            score_assessment("moaas", items=None, score=None)
        assert exc.value.field == "score"

    def test_rejects_items(self) -> None:
        with pytest.raises(ScoringError) as exc:
            score_assessment("rass", items=[0], score=0)
        assert exc.value.field == "items"


class TestItemErrors:
    @pytest.mark.parametrize(("instrument", "count"), [("phq9", 8), ("phq9", 10), ("gad7", 9),
                                                       ("cadss", 22), ("madrs", 0)])  # fmt: skip
    def test_wrong_count(self, instrument: str, count: int) -> None:
        with pytest.raises(ScoringError) as exc:
            score_assessment(instrument, items=[0] * count, score=None)
        assert exc.value.field == "items"
        assert f"got {count}" in exc.value.message

    @pytest.mark.parametrize("bad", [4, -1, True, 1.0, "2", None])
    def test_item_out_of_range_or_type(self, bad: object) -> None:
        items: list[object] = [0] * 9
        items[3] = bad
        with pytest.raises(ScoringError) as exc:
            score_assessment("phq9", items=items, score=None)  # type: ignore[arg-type]
        assert exc.value.field == "items.3"
        assert "Item 4" in exc.value.message

    def test_madrs_allows_6(self) -> None:
        assert score_assessment("madrs", items=[6] * 10, score=None).total == 60
        with pytest.raises(ScoringError):
            score_assessment("madrs", items=[7] + [0] * 9, score=None)

    def test_needs_items(self) -> None:
        with pytest.raises(ScoringError) as exc:
            score_assessment("gad7", items=None, score=None)
        assert exc.value.field == "items"

    def test_rejects_score(self) -> None:
        with pytest.raises(ScoringError) as exc:
            score_assessment("gad7", items=[0] * 7, score=3)
        assert exc.value.field == "score"

    def test_items_string_rejected(self) -> None:
        with pytest.raises(ScoringError) as exc:
            score_assessment("phq9", items="000000000", score=None)  # type: ignore[arg-type]
        assert exc.value.field == "items"

    def test_unknown_instrument(self) -> None:
        with pytest.raises(ScoringError) as exc:
            score_assessment("hamd", items=[0], score=None)
        assert exc.value.field == "instrument"

    def test_is_value_error(self) -> None:
        assert issubclass(ScoringError, ValueError)


class TestCourseResponse:
    def test_madrs_response_and_remission(self) -> None:
        assert course_response("madrs", 30, 10) == {
            "instrument": "madrs",
            "baseline_total": 30,
            "current_total": 10,
            "change": -20,
            "percent_change": -66.7,
            "response": True,
            "response_threshold_percent": 50.0,
            "remission": True,
        }

    def test_exactly_50_percent_is_response(self) -> None:
        assert course_response("madrs", 30, 15)["response"] is True
        assert course_response("madrs", 30, 16)["response"] is False
        assert course_response("madrs", 31, 15)["response"] is True  # 51.6 %
        assert course_response("madrs", 31, 16)["response"] is False  # 48.4 %

    def test_madrs_remission_boundary(self) -> None:
        assert course_response("madrs", 30, 10)["remission"] is True
        assert course_response("madrs", 30, 11)["remission"] is False

    def test_phq9_remission_below_5(self) -> None:
        assert course_response("phq9", 20, 4)["remission"] is True
        assert course_response("phq9", 20, 5)["remission"] is False

    def test_worsening(self) -> None:
        result = course_response("phq9", 10, 15)
        assert (result["change"], result["percent_change"], result["response"]) == (5, 50.0, False)

    def test_zero_baseline(self) -> None:
        result = course_response("gad7", 0, 3)
        assert (result["percent_change"], result["response"]) == (None, None)
        assert result["remission"] is None  # not defined for GAD-7

    def test_ybocs_uses_35_percent(self) -> None:
        assert course_response("ybocs", 20, 13)["response"] is True  # 35 %
        assert course_response("ybocs", 20, 14)["response"] is False  # 30 %

    @pytest.mark.parametrize("instrument", ["cadss", "moaas", "rass"])
    def test_undefined(self, instrument: str) -> None:
        result = course_response(instrument, 3, 1)
        assert result["change"] == -2
        assert result["response"] is None
        assert result["remission"] is None

    def test_single_score_has_no_percent(self) -> None:
        assert course_response("rass", -2, 0)["percent_change"] is None

    def test_out_of_range_total(self) -> None:
        with pytest.raises(ScoringError) as exc:
            course_response("phq9", 28, 3)
        assert exc.value.field == "baseline_total"


# --- properties -------------------------------------------------------------------------------

item_instruments = st.sampled_from(sorted(ITEM_INSTRUMENTS))


@st.composite
def valid_items(draw: st.DrawFn) -> tuple[Instrument, list[int]]:
    inst = draw(item_instruments)
    spec = ITEM_INSTRUMENTS[inst]
    items = draw(
        st.lists(st.integers(spec.low, spec.high), min_size=spec.count, max_size=spec.count)
    )
    return inst, items


@given(valid_items())
def test_property_total_is_sum_and_band_consistent(case: tuple[Instrument, list[int]]) -> None:
    inst, items = case
    result = score_assessment(inst, items=items, score=None)
    assert result.total == sum(items)
    assert result.band == band_for(inst, result.total)


@given(item_instruments, st.data())
def test_property_band_covers_every_total(inst: Instrument, data: st.DataObject) -> None:
    low, high = total_range(inst)
    total = data.draw(st.integers(low, high))
    band = band_for(inst, total)
    if inst in (Instrument.cadss,):
        assert band is None
    elif inst is Instrument.pcl5:
        assert (band == "provisional ptsd") == (total >= 33)
    else:
        assert band is not None


@given(valid_items(), st.data())
def test_property_out_of_range_rejected(
    case: tuple[Instrument, list[int]], data: st.DataObject
) -> None:
    inst, items = case
    spec = ITEM_INSTRUMENTS[inst]
    index = data.draw(st.integers(0, spec.count - 1))
    bad = data.draw(
        st.one_of(st.integers(max_value=spec.low - 1), st.integers(min_value=spec.high + 1))
    )
    items[index] = bad
    with pytest.raises(ScoringError) as exc:
        score_assessment(inst, items=items, score=None)
    assert exc.value.field == f"items.{index}"


@given(st.sampled_from(["moaas", "rass"]), st.integers(-100, 100))
def test_property_single_score_range(instrument: str, score: int) -> None:
    low, high = total_range(instrument)
    if low <= score <= high:
        assert score_assessment(instrument, items=None, score=score).total == score
    else:
        with pytest.raises(ScoringError):
            score_assessment(instrument, items=None, score=score)


@given(valid_items(), st.integers(min_value=-3, max_value=3).filter(lambda d: d != 0))
def test_property_wrong_count_rejected(case: tuple[Instrument, list[int]], delta: int) -> None:
    inst, items = case
    wrong = items + [0] * delta if delta > 0 else items[:delta]
    with pytest.raises(ScoringError) as exc:
        score_assessment(inst, items=wrong, score=None)
    assert exc.value.field == "items"
