"""The pre-session and discharge checklists as gate items (SPEC §4, §11; DOMAIN.md "Before each
session", "Discharge").

Pre-session, judged as of the dosing transition's ``at``; a go means:

* ``last_food_at`` / ``last_liquids_at`` at least the clinic's NPO minutes for the medication
  (``VIGIL_NPO``) before ``at``; exactly the minimum is a go;
* ``escort`` named; ``no_driving_acknowledged``; ``consent_confirmed``;
* no ``medication_changes`` (or a clinician's override after review);
* ``pregnancy_test``: ``positive`` is a stop no one overrides; for a patient of childbearing
  potential only ``negative`` is a go (``declined`` needs a clinician's override;
  ``not_applicable`` is refused when the checklist is recorded, see
  :func:`pregnancy_test_problem`).

Overridable by a clinician (SPEC §4's list): ``escort``, ``medication_changes`` and
``pregnancy_test`` when ``declined``. Every other item is not.

Discharge: ``dissociation_resolved``, ``escort_present`` (overridable: the clinician notes the
transport), ``instructions_given``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta, tzinfo

from api.clinical.clock import clinic_time
from api.clinical.gates import Unmet

DEFAULT_NPO: dict[str, dict[str, int]] = {
    "esketamine": {"food": 120, "liquids": 30},
    "ketamine": {"food": 120, "liquids": 30},
}


def npo_minutes(npo: Mapping[str, Mapping[str, int]], medication: str) -> tuple[int, int]:
    """(food, liquids) minutes for ``medication``; a medication the setting leaves out takes
    the defaults."""
    chosen = {**DEFAULT_NPO.get(medication, DEFAULT_NPO["ketamine"]), **npo.get(medication, {})}
    return int(chosen["food"]), int(chosen["liquids"])


def pregnancy_test_problem(value: str, *, childbearing_potential: bool) -> str | None:
    """Why a recorded answer is refused outright (422), or None."""
    if value == "not_applicable" and childbearing_potential:
        return (
            "the patient's screening records childbearing potential: the test is negative, "
            "positive or declined, not not_applicable"
        )
    return None


def _item(item: str, message: str, *, overridable: bool) -> Unmet:
    return Unmet(code="checklist_item", item=item, message=message, overridable=overridable)


def predose_checklist_unmet(
    checklist: Mapping[str, object] | None,
    *,
    at: datetime,
    food_minutes: int,
    liquids_minutes: int,
    childbearing_potential: bool,
    clinic_tz: tzinfo,
) -> list[Unmet]:
    """The pre-dose gate's checklist items, in the checklist's field order."""
    if checklist is None:
        return [
            Unmet(
                code="checklist_missing",
                overridable=False,
                message=(
                    "The pre-session checklist is not recorded: the nurse records it (fasting, "
                    "escort, no driving, medication changes, pregnancy test, consent) before "
                    "dosing."
                ),
            )
        ]
    unmet: list[Unmet] = []
    for field, minutes, what in (
        ("last_food_at", food_minutes, "food"),
        ("last_liquids_at", liquids_minutes, "liquids"),
    ):
        last = checklist.get(field)
        if not isinstance(last, datetime):
            unmet.append(
                _item(field, f"The time of the last {what} is not recorded.", overridable=False)
            )
            continue
        earliest = last + timedelta(minutes=minutes)
        if at < earliest:
            since = int((at - last).total_seconds() // 60)
            unmet.append(
                _item(
                    field,
                    (
                        f"Last {what} at {clinic_time(last, clinic_tz)}, {max(since, 0)} minutes "
                        f"before dosing; {minutes} are needed: wait until "
                        f"{clinic_time(earliest, clinic_tz)}."
                    ),
                    overridable=False,
                )
            )
    if not checklist.get("escort"):
        unmet.append(
            _item(
                "escort",
                "No escort is named to take the patient home: name one, or a clinician may "
                "override with a note on the transport.",
                overridable=True,
            )
        )
    if checklist.get("no_driving_acknowledged") is not True:
        unmet.append(
            _item(
                "no_driving_acknowledged",
                "The patient has not acknowledged not driving until the next day after restful "
                "sleep: ask them and record it.",
                overridable=False,
            )
        )
    if checklist.get("medication_changes") is not False:
        unmet.append(
            _item(
                "medication_changes",
                "Medicines changed since the last session: update the medication list; a "
                "clinician reviews the change and may override.",
                overridable=True,
            )
        )
    test = checklist.get("pregnancy_test")
    if test == "positive":
        unmet.append(
            _item(
                "pregnancy_test",
                "The pregnancy test is positive: no dose; tell the prescribing clinician "
                "(no one can override this).",
                overridable=False,
            )
        )
    elif childbearing_potential and test == "declined":
        unmet.append(
            _item(
                "pregnancy_test",
                "The patient declined the pregnancy test: a clinician may override after "
                "discussing the risk with the patient.",
                overridable=True,
            )
        )
    elif childbearing_potential and test != "negative":
        unmet.append(
            _item(
                "pregnancy_test",
                "The patient may become pregnant and no negative pregnancy test is recorded: "
                "test before dosing.",
                overridable=False,
            )
        )
    if checklist.get("consent_confirmed") is not True:
        unmet.append(
            _item(
                "consent_confirmed",
                "Consent for today's treatment is not confirmed: confirm it with the patient.",
                overridable=False,
            )
        )
    return unmet


def discharge_checklist_unmet(checklist: Mapping[str, object] | None) -> list[Unmet]:
    """The discharge gate's checklist items."""
    if checklist is None:
        return [
            Unmet(
                code="discharge_checklist_missing",
                overridable=False,
                message=(
                    "The discharge checklist is not recorded: the nurse records it "
                    "(dissociation resolved, escort present, instructions given, when the "
                    "patient was ready) before discharge."
                ),
            )
        ]
    unmet: list[Unmet] = []
    if checklist.get("dissociation_resolved") is not True:
        unmet.append(
            _item(
                "dissociation_resolved",
                "Dissociation has not resolved: keep monitoring and recheck before discharge.",
                overridable=False,
            )
        )
    if checklist.get("escort_present") is not True:
        unmet.append(
            _item(
                "escort_present",
                "No escort is present to take the patient home: a clinician may override, "
                "noting the transport.",
                overridable=True,
            )
        )
    if checklist.get("instructions_given") is not True:
        unmet.append(
            _item(
                "instructions_given",
                "Discharge instructions have not been given: give them and record it.",
                overridable=False,
            )
        )
    return unmet
