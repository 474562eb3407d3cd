"""Pure rules: screening decisions, the TRD criterion, eligibility, the checklists (SPEC §11)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from api.clinical.adverse_events import adverse_event_alert, is_study_drug
from api.clinical.checklist import (
    discharge_checklist_unmet,
    npo_minutes,
    predose_checklist_unmet,
    pregnancy_test_problem,
)
from api.clinical.screening import (
    CONTRAINDICATION_ITEMS,
    ScreeningStatus,
    decision_problems,
    eligibility_unmet,
    failed_adequate_antidepressant_trials,
    meets_trd_criterion,
)

ABSENT = dict.fromkeys(CONTRAINDICATION_ITEMS, "absent")
AT = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
NY = ZoneInfo("America/New_York")


def trial(
    outcome: str, *, adequate: bool = True, kind: str = "antidepressant"
) -> dict[str, object]:
    return {"kind": kind, "name": "x", "adequate": adequate, "outcome": outcome}


def test_trd_counts_adequate_antidepressant_trials_without_response() -> None:
    assert failed_adequate_antidepressant_trials([]) == 0
    treatments = [
        trial("no_response"),
        trial("partial"),
        trial("response"),
        trial("intolerant"),
        trial("no_response", adequate=False),
        trial("no_response", kind="augmentation"),
    ]
    assert failed_adequate_antidepressant_trials(treatments) == 2
    assert meets_trd_criterion(treatments) is True
    assert meets_trd_criterion(treatments[1:]) is False


@pytest.mark.parametrize(
    ("item", "answer", "decision", "refused"),
    [
        ("aneurysmal_vascular_disease", "present", "eligible_with_precautions", True),
        ("arteriovenous_malformation", "present", "eligible", True),
        ("intracerebral_hemorrhage_history", "present", "not_eligible", False),
        ("hypersensitivity", "present", "eligible_with_precautions", True),
        ("pregnancy", "present", "eligible_with_precautions", True),
        ("breastfeeding", "present", "eligible", True),
        ("breastfeeding", "present", "eligible_with_precautions", False),
        ("psychosis_history", "unknown", "eligible", True),
        ("aneurysmal_vascular_disease", "unknown", "eligible", True),
        ("aneurysmal_vascular_disease", "unknown", "eligible_with_precautions", False),
        ("mania_history", "absent", "eligible", False),
    ],
)
def test_decision_rules(item: str, answer: str, decision: str, refused: bool) -> None:
    problems = decision_problems({**ABSENT, item: answer}, decision)
    assert bool(problems) is refused
    if refused:
        assert problems[0][0] == item


def test_eligibility_items() -> None:
    ok = ScreeningStatus("eligible", date(2026, 12, 31), date(2026, 1, 1))

    def codes(status: ScreeningStatus | None, *, today: date, med: str, rems: bool) -> list[str]:
        unmet = eligibility_unmet(
            status,
            today=today,
            medication=med,
            rems_enrolled=rems,
            patient_name="Ana Ruiz",
            for_what="dosing",
        )
        assert all(u.overridable is False for u in unmet)
        assert all("Ana Ruiz" in u.message for u in unmet)
        return [u.code for u in unmet]

    day = date(2026, 12, 1)
    assert codes(ok, today=day, med="ketamine", rems=False) == []
    assert codes(ok, today=date(2026, 12, 31), med="ketamine", rems=False) == []
    assert codes(ok, today=date(2027, 1, 1), med="ketamine", rems=False) == ["screening_expired"]
    assert codes(None, today=day, med="ketamine", rems=False) == ["screening_required"]
    no = ScreeningStatus("not_eligible", date(2026, 12, 31), date(2026, 1, 1))
    assert codes(no, today=day, med="ketamine", rems=False) == ["not_eligible"]
    assert codes(ok, today=day, med="esketamine", rems=False) == ["rems_enrollment_missing"]
    assert codes(ok, today=day, med="esketamine", rems=True) == []


def checklist(**overrides: object) -> dict[str, object]:
    return {
        "last_food_at": AT - timedelta(minutes=120),
        "last_liquids_at": AT - timedelta(minutes=30),
        "escort": {"name": "Luis"},
        "no_driving_acknowledged": True,
        "medication_changes": False,
        "pregnancy_test": "negative",
        "consent_confirmed": True,
        **overrides,
    }


def predose(
    c: dict[str, object] | None, *, childbearing: bool = False
) -> list[tuple[str, object, object]]:
    unmet = predose_checklist_unmet(
        c,
        at=AT,
        food_minutes=120,
        liquids_minutes=30,
        childbearing_potential=childbearing,
        clinic_tz=NY,
    )
    return [(u.code, u.item, u.overridable) for u in unmet]


def test_predose_checklist_items() -> None:
    assert predose(checklist()) == []
    assert predose(None) == [("checklist_missing", None, False)]
    late = checklist(last_food_at=AT - timedelta(minutes=119, seconds=59))
    assert predose(late) == [("checklist_item", "last_food_at", False)]
    message = predose_checklist_unmet(
        late,
        at=AT,
        food_minutes=120,
        liquids_minutes=30,
        childbearing_potential=False,
        clinic_tz=NY,
    )[0].message
    assert "2026-12-01 10:00 -05:00" in message  # the earliest dosing time, clinic zone
    assert predose(checklist(escort=None)) == [("checklist_item", "escort", True)]
    assert predose(checklist(medication_changes=True)) == [
        ("checklist_item", "medication_changes", True)
    ]
    assert predose(checklist(pregnancy_test="positive")) == [
        ("checklist_item", "pregnancy_test", False)
    ]
    assert predose(checklist(pregnancy_test="declined")) == []
    assert predose(checklist(pregnancy_test="declined"), childbearing=True) == [
        ("checklist_item", "pregnancy_test", True)
    ]
    assert predose(checklist(pregnancy_test="not_applicable"), childbearing=True) == [
        ("checklist_item", "pregnancy_test", False)
    ]
    assert predose(checklist(consent_confirmed=False, no_driving_acknowledged=False)) == [
        ("checklist_item", "no_driving_acknowledged", False),
        ("checklist_item", "consent_confirmed", False),
    ]
    assert pregnancy_test_problem("not_applicable", childbearing_potential=True)
    assert pregnancy_test_problem("not_applicable", childbearing_potential=False) is None


def test_npo_minutes_fall_back_to_defaults() -> None:
    assert npo_minutes({}, "esketamine") == (120, 30)
    assert npo_minutes({"ketamine": {"food": 360}}, "ketamine") == (360, 30)


def test_discharge_checklist_items() -> None:
    good = {"dissociation_resolved": True, "escort_present": True, "instructions_given": True}
    assert discharge_checklist_unmet(good) == []
    assert [u.code for u in discharge_checklist_unmet(None)] == ["discharge_checklist_missing"]
    unmet = discharge_checklist_unmet({**good, "escort_present": False})
    assert [(u.item, u.overridable) for u in unmet] == [("escort_present", True)]
    unmet = discharge_checklist_unmet({**good, "dissociation_resolved": False})
    assert [(u.item, u.overridable) for u in unmet] == [("dissociation_resolved", False)]


def test_adverse_event_alerts_and_study_drug_names() -> None:
    assert adverse_event_alert("nausea", "moderate") is None
    decision = adverse_event_alert("hypertension", "severe")
    assert decision is not None
    assert decision.severity == "critical"
    assert decision.kind == "adverse_event"
    assert adverse_event_alert("allergic_reaction", "life_threatening") is not None
    assert is_study_drug("Esketamine")
    assert is_study_drug("SPRAVATO 28 mg")
    assert not is_study_drug("ondansetron")
