"""Screening before treatment and the eligibility it gives (SPEC §11; DOMAIN.md "Screening and
safety checks").

* **Contraindications.** Every item is answered ``present``, ``absent`` or ``unknown``. The
  label contraindications (:data:`LABEL_CONTRAINDICATIONS`) and ``pregnancy`` allow only the
  decision ``not_eligible`` when ``present``; ``unknown`` on any item, or another precaution
  ``present``, rules out plain ``eligible`` (``eligible_with_precautions`` says a clinician
  weighed it). :func:`decision_problems` names every item that contradicts the decision.
* **Treatment-resistant depression**: at least :data:`TRD_MIN_FAILED_TRIALS` antidepressant
  trials of adequate dose and duration without an adequate response (``no_response`` or
  ``partial``; an ``intolerant`` trial was not a trial of adequate dose, a ``response`` is no
  failure): :func:`failed_adequate_antidepressant_trials`.
* **Eligibility** for a plan or a dose (:func:`eligibility_unmet`): a current screening, not
  expired (``valid_until`` is the last clinic day it holds), deciding ``eligible`` or
  ``eligible_with_precautions``; for esketamine also the patient's REMS enrollment. None of
  these items is overridable.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from api.clinical.gates import Unmet

LABEL_CONTRAINDICATIONS = (
    "aneurysmal_vascular_disease",
    "arteriovenous_malformation",
    "intracerebral_hemorrhage_history",
    "hypersensitivity",
)
PRECAUTIONS = (
    "uncontrolled_hypertension",
    "pregnancy",
    "breastfeeding",
    "psychosis_history",
    "mania_history",
    "substance_use_disorder",
    "cardiovascular_disease",
    "severe_hepatic_impairment",
)
CONTRAINDICATION_ITEMS = LABEL_CONTRAINDICATIONS + PRECAUTIONS
# present on any of these: not eligible, whatever the clinician weighs
ABSOLUTE_STOPS = frozenset({*LABEL_CONTRAINDICATIONS, "pregnancy"})
ANSWERS = ("present", "absent", "unknown")
DECISIONS = ("eligible", "eligible_with_precautions", "not_eligible")
ELIGIBLE_DECISIONS = frozenset({"eligible", "eligible_with_precautions"})
TRD_MIN_FAILED_TRIALS = 2
FAILED_OUTCOMES = frozenset({"no_response", "partial"})
DEFAULT_VALID_DAYS = 365


def failed_adequate_antidepressant_trials(prior_treatments: Sequence[Mapping[str, object]]) -> int:
    """Antidepressant trials of adequate dose and duration without an adequate response."""
    return sum(
        1
        for t in prior_treatments
        if t.get("kind") == "antidepressant"
        and t.get("adequate") is True
        and t.get("outcome") in FAILED_OUTCOMES
    )


def meets_trd_criterion(prior_treatments: Sequence[Mapping[str, object]]) -> bool:
    return failed_adequate_antidepressant_trials(prior_treatments) >= TRD_MIN_FAILED_TRIALS


def decision_problems(contraindications: Mapping[str, str], decision: str) -> list[tuple[str, str]]:
    """``(item, why)`` for every contraindication answer the decision contradicts; [] when the
    decision is allowed. ``contraindications`` holds every item (the schema checks that)."""
    problems: list[tuple[str, str]] = []
    if decision == "not_eligible":
        return problems
    for item in CONTRAINDICATION_ITEMS:
        answer = contraindications.get(item)
        words = item.replace("_", " ")
        if answer == "present" and item in ABSOLUTE_STOPS:
            problems.append(
                (item, f"{words} is present: only the decision not_eligible is allowed")
            )
        elif decision == "eligible" and answer == "present":
            problems.append(
                (
                    item,
                    f"{words} is present: decide eligible_with_precautions (with the "
                    "precautions in decision_reason) or not_eligible",
                )
            )
        elif decision == "eligible" and answer == "unknown":
            problems.append(
                (
                    item,
                    f"{words} is unknown: find out, or decide eligible_with_precautions "
                    "(saying why in decision_reason) or not_eligible",
                )
            )
    return problems


@dataclass(frozen=True)
class ScreeningStatus:
    """What eligibility needs of the patient's current screening."""

    decision: str
    valid_until: date
    screened_on: date


def eligibility_unmet(
    current: ScreeningStatus | None,
    *,
    today: date,
    medication: str,
    rems_enrolled: bool,
    patient_name: str,
    for_what: str,
) -> list[Unmet]:
    """The screening items of plan creation/revision and of the pre-dose gate, as of the clinic
    day ``today``; ``for_what`` ends the messages ("a dosing plan", "dosing")."""
    unmet: list[Unmet] = []
    if current is None:
        unmet.append(
            Unmet(
                code="screening_required",
                overridable=False,
                message=(
                    f"{patient_name} has no screening on record: a clinician records one "
                    f"(history, contraindications, consent, decision) before {for_what}."
                ),
            )
        )
    elif current.decision not in ELIGIBLE_DECISIONS:
        unmet.append(
            Unmet(
                code="not_eligible",
                overridable=False,
                message=(
                    f"{patient_name}'s current screening ({current.screened_on.isoformat()}) "
                    f"decided not eligible: no {for_what} unless a clinician records a new "
                    "screening that finds the patient eligible."
                ),
            )
        )
    elif today > current.valid_until:
        unmet.append(
            Unmet(
                code="screening_expired",
                overridable=False,
                message=(
                    f"{patient_name}'s screening was valid until "
                    f"{current.valid_until.isoformat()}: a clinician records a new screening "
                    f"before {for_what}."
                ),
            )
        )
    if medication == "esketamine" and not rems_enrolled:
        unmet.append(
            Unmet(
                code="rems_enrollment_missing",
                overridable=False,
                message=(
                    f"{patient_name}'s Spravato REMS enrollment is not recorded: a clinician "
                    "enrolls the patient (spravatorems.com) and records it with a screening "
                    f"before {for_what}."
                ),
            )
        )
    return unmet
