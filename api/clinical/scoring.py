"""Server-side scoring of rating scales (SPEC §6 "Assessments"; DOMAIN.md "Scales").

Item instruments (``items``, exact count, each an int in range; bools rejected):

======  =====  =====  =====================================================================
name    items  range  bands (total)
======  =====  =====  =====================================================================
phq9    9      0–3    0–4 minimal, 5–9 mild, 10–14 moderate, 15–19 moderately severe, 20–27 severe
gad7    7      0–3    0–4 minimal, 5–9 mild, 10–14 moderate, 15–21 severe
pcl5    20     0–4    "provisional ptsd" at total ≥ 33, otherwise no band (see below)
madrs   10     0–6    0–6 normal, 7–19 mild, 20–34 moderate, 35–60 severe
ybocs   10     0–4    0–7 subclinical, 8–15 mild, 16–23 moderate, 24–31 severe, 32–40 extreme
cadss   23     0–4    no band
======  =====  =====  =====================================================================

Single-score instruments (``score``): ``moaas`` 0–5 and ``rass`` −5..+4; band None, with a
descriptive word in ``details["description"]`` and ``details["sedated"]`` (MOAA/S ≤ 4 counted as
sedated in the Spravato trials, DOMAIN.md; RASS < 0).

PCL-5: DOMAIN.md gives the provisional-PTSD cut-point as "31–33+". Vigil uses **33**, the
cut-point of the original validation (Bovin et al. 2016, as published by the US National Center
for PTSD), the more conservative end of the range. Below it the band is None (DOMAIN.md names no
other band). ``details["dsm_criteria_met"]`` applies the DSM-5 pattern: an item rated ≥ 2
(moderately) counts as endorsed; ≥ 1 of items 1–5 (B), ≥ 1 of 6–7 (C), ≥ 2 of 8–14 (D),
≥ 2 of 15–20 (E).

Errors raise :class:`ScoringError` with ``field`` ``instrument``, ``items``, ``items.N``
(0-based index, as in a JSON path; the message names the 1-based item number) or ``score``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum


class Instrument(StrEnum):
    phq9 = "phq9"
    gad7 = "gad7"
    pcl5 = "pcl5"
    madrs = "madrs"
    ybocs = "ybocs"
    cadss = "cadss"
    moaas = "moaas"
    rass = "rass"


@dataclass(frozen=True)
class ScoreResult:
    instrument: str
    total: int
    band: str | None
    details: dict[str, object]


class ScoringError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class ItemSpec:
    count: int
    low: int
    high: int
    # (lowest total of the band, band word), ascending; empty: no bands
    bands: tuple[tuple[int, str], ...]

    @property
    def max_total(self) -> int:
        return self.count * self.high


PCL5_PROVISIONAL_PTSD_CUTOFF = 33

ITEM_INSTRUMENTS: dict[Instrument, ItemSpec] = {
    Instrument.phq9: ItemSpec(
        9, 0, 3, ((0, "minimal"), (5, "mild"), (10, "moderate"), (15, "moderately severe"),
                  (20, "severe")),
    ),
    Instrument.gad7: ItemSpec(7, 0, 3, ((0, "minimal"), (5, "mild"), (10, "moderate"),
                                        (15, "severe"))),
    Instrument.pcl5: ItemSpec(20, 0, 4, ((PCL5_PROVISIONAL_PTSD_CUTOFF, "provisional ptsd"),)),
    Instrument.madrs: ItemSpec(10, 0, 6, ((0, "normal"), (7, "mild"), (20, "moderate"),
                                          (35, "severe"))),
    Instrument.ybocs: ItemSpec(
        10, 0, 4, ((0, "subclinical"), (8, "mild"), (16, "moderate"), (24, "severe"),
                   (32, "extreme")),
    ),
    Instrument.cadss: ItemSpec(23, 0, 4, ()),
}  # fmt: skip

SINGLE_SCORE_RANGES: dict[Instrument, tuple[int, int]] = {
    Instrument.moaas: (0, 5),
    Instrument.rass: (-5, 4),
}

MOAAS_DESCRIPTIONS: dict[int, str] = {
    5: "responds readily to name spoken in normal tone",
    4: "lethargic response to name spoken in normal tone",
    3: "responds only after name is called loudly or repeatedly",
    2: "responds only after mild prodding or shaking",
    1: "responds only after painful trapezius squeeze",
    0: "no response after painful trapezius squeeze",
}

RASS_DESCRIPTIONS: dict[int, str] = {
    4: "combative",
    3: "very agitated",
    2: "agitated",
    1: "restless",
    0: "alert and calm",
    -1: "drowsy",
    -2: "light sedation",
    -3: "moderate sedation",
    -4: "deep sedation",
    -5: "unarousable",
}

# PCL-5 DSM-5 clusters: (1-based first item, last item, endorsed items needed)
PCL5_CLUSTERS: dict[str, tuple[int, int, int]] = {
    "B": (1, 5, 1),
    "C": (6, 7, 1),
    "D": (8, 14, 2),
    "E": (15, 20, 2),
}
PCL5_ENDORSED_AT = 2


def band_for(instrument: str, total: int) -> str | None:
    """The band word of an item instrument's total (None where the scale has none)."""
    spec = ITEM_INSTRUMENTS.get(_instrument(instrument))
    if spec is None:
        return None
    band: str | None = None
    for lowest, word in spec.bands:
        if total >= lowest:
            band = word
    return band


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _instrument(instrument: str) -> Instrument:
    try:
        return Instrument(instrument)
    except ValueError:
        raise ScoringError(
            "instrument",
            f"Unknown instrument {instrument!r}; use one of {[i.value for i in Instrument]}.",
        ) from None


def pcl5_clusters(items: Sequence[int]) -> dict[str, bool]:
    """Whether each DSM-5 cluster (B, C, D, E) has enough items rated ≥ 2."""
    result: dict[str, bool] = {}
    for name, (first, last, needed) in PCL5_CLUSTERS.items():
        endorsed = sum(1 for v in items[first - 1 : last] if v >= PCL5_ENDORSED_AT)
        result[name] = endorsed >= needed
    return result


def score_assessment(
    instrument: str, *, items: Sequence[int] | None, score: int | None
) -> ScoreResult:
    """Validate and score one assessment (see module docstring for the rules)."""
    inst = _instrument(instrument)
    if inst in SINGLE_SCORE_RANGES:
        return _score_single(inst, items=items, score=score)

    spec = ITEM_INSTRUMENTS[inst]
    if score is not None:
        raise ScoringError(
            "score", f"{inst.value} is scored from its items; send items, not score."
        )
    if items is None:
        raise ScoringError("items", f"{inst.value} needs its {spec.count} item answers.")
    if isinstance(items, str | bytes) or not isinstance(items, Sequence):
        raise ScoringError("items", "items must be a list of whole numbers.")
    if len(items) != spec.count:
        raise ScoringError(
            "items", f"{inst.value} needs exactly {spec.count} items, got {len(items)}."
        )
    for index, value in enumerate(items):
        if not _is_int(value) or not spec.low <= value <= spec.high:
            raise ScoringError(
                f"items.{index}",
                f"Item {index + 1} of {inst.value} must be a whole number from {spec.low} "
                f"to {spec.high}, got {value!r}.",
            )
    values = [int(v) for v in items]
    total = sum(values)
    details: dict[str, object] = {}
    if inst is Instrument.phq9:
        details["item9_self_harm"] = values[8]
    elif inst is Instrument.pcl5:
        clusters = pcl5_clusters(values)
        details["dsm_criteria_met"] = all(clusters.values())
        details["dsm_clusters_met"] = clusters
        details["provisional_ptsd"] = total >= PCL5_PROVISIONAL_PTSD_CUTOFF
        details["provisional_ptsd_cutoff"] = PCL5_PROVISIONAL_PTSD_CUTOFF
    return ScoreResult(inst.value, total, band_for(inst, total), details)


def _score_single(
    inst: Instrument, *, items: Sequence[int] | None, score: int | None
) -> ScoreResult:
    low, high = SINGLE_SCORE_RANGES[inst]
    if items is not None:
        raise ScoringError("items", f"{inst.value} is a single score; send score, not items.")
    if score is None:
        raise ScoringError("score", f"{inst.value} needs a score from {low} to {high}.")
    if not _is_int(score) or not low <= score <= high:
        raise ScoringError(
            "score",
            f"{inst.value} score must be a whole number from {low} to {high}, got {score!r}.",
        )
    if inst is Instrument.moaas:
        details: dict[str, object] = {
            "description": MOAAS_DESCRIPTIONS[score],
            "sedated": score <= 4,
        }
    else:
        details = {"description": RASS_DESCRIPTIONS[score], "sedated": score < 0}
    return ScoreResult(inst.value, score, None, details)


def total_range(instrument: str) -> tuple[int, int]:
    """Lowest and highest possible total of an instrument."""
    inst = _instrument(instrument)
    if inst in SINGLE_SCORE_RANGES:
        return SINGLE_SCORE_RANGES[inst]
    spec = ITEM_INSTRUMENTS[inst]
    return spec.count * spec.low, spec.max_total


# Response: ≥ 50 % drop from baseline (DOMAIN.md, MADRS; the usual definition for PHQ-9, GAD-7,
# PCL-5). Y-BOCS uses ≥ 35 % (international expert consensus, Mataix-Cols et al. 2016); CADSS,
# MOAA/S and RASS measure acute state, not treatment course: no response or remission.
RESPONSE_DROP_PERCENT: dict[Instrument, float] = {
    Instrument.phq9: 50.0,
    Instrument.gad7: 50.0,
    Instrument.pcl5: 50.0,
    Instrument.madrs: 50.0,
    Instrument.ybocs: 35.0,
}
# Remission: MADRS ≤ 10 (DOMAIN.md). PHQ-9 < 5, i.e. the "minimal" band (Kroenke & Spitzer's
# PHQ-9 remission definition, used in most PHQ-9 outcome studies). Others: not defined here.
REMISSION_AT_MOST: dict[Instrument, int] = {
    Instrument.madrs: 10,
    Instrument.phq9: 4,
}


def course_response(instrument: str, baseline_total: int, current_total: int) -> dict[str, object]:
    """Change from the course baseline.

    Returns ``change`` (current − baseline), ``percent_change`` (rounded to 0.1; None when the
    baseline is 0 or the scale is MOAA/S/RASS), ``response`` (drop ≥ the instrument's response
    percentage; None when undefined or baseline 0), ``response_threshold_percent`` and
    ``remission`` (None when undefined).
    """
    inst = _instrument(instrument)
    low, high = total_range(inst)
    for field, value in (("baseline_total", baseline_total), ("current_total", current_total)):
        if not _is_int(value) or not low <= value <= high:
            raise ScoringError(field, f"{field} must be a whole number from {low} to {high}.")
    change = current_total - baseline_total
    percent: float | None = None
    if inst not in SINGLE_SCORE_RANGES and baseline_total > 0:
        percent = round(change * 100.0 / baseline_total, 1)
    threshold = RESPONSE_DROP_PERCENT.get(inst)
    response: bool | None = None
    if threshold is not None and baseline_total > 0:
        # integer arithmetic: drop * 100 >= threshold * baseline, no float rounding at 50 %
        response = (baseline_total - current_total) * 100 >= threshold * baseline_total
    remission_limit = REMISSION_AT_MOST.get(inst)
    remission = None if remission_limit is None else current_total <= remission_limit
    return {
        "instrument": inst.value,
        "baseline_total": baseline_total,
        "current_total": current_total,
        "change": change,
        "percent_change": percent,
        "response": response,
        "response_threshold_percent": threshold,
        "remission": remission,
    }
