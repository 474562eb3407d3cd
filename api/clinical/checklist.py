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

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta, tzinfo

from api.clinical.gates import Unmet, is_overridable
from api.clinical.labels import clinic_time

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


def _item(step: str, item: str, message: str, *, pregnancy_test: str | None = None) -> Unmet:
    """A ``checklist_item``; whether a clinician may pass it is the gates' one list
    (:func:`api.clinical.gates.is_overridable`)."""
    overridable = is_overridable(step, "checklist_item", item=item, pregnancy_test=pregnancy_test)
    return Unmet(code="checklist_item", item=item, message=message, overridable=overridable)


def _is_true(value: object) -> bool:
    return value is True


def _is_false(value: object) -> bool:
    return value is False


# (field, what a go needs, the message when it is not): the yes/no items, in field order.
_Flag = tuple[str, Callable[[object], bool], str]
_PREDOSE_FLAGS: tuple[_Flag, ...] = (
    (
        "escort",
        bool,
        "No escort is named to take the patient home: name one, or a clinician may "
        "override with a note on the transport.",
    ),
    (
        "no_driving_acknowledged",
        _is_true,
        "The patient has not acknowledged not driving until the next day after restful "
        "sleep: ask them and record it.",
    ),
    (
        "medication_changes",
        _is_false,
        "Medicines changed since the last session: update the medication list; a "
        "clinician reviews the change and may override.",
    ),
)
_CONSENT_FLAGS: tuple[_Flag, ...] = (
    (
        "consent_confirmed",
        _is_true,
        "Consent for today's treatment is not confirmed: confirm it with the patient.",
    ),
)
_DISCHARGE_FLAGS: tuple[_Flag, ...] = (
    (
        "dissociation_resolved",
        _is_true,
        "Dissociation has not resolved: keep monitoring and recheck before discharge.",
    ),
    (
        "escort_present",
        _is_true,
        "No escort is present to take the patient home: a clinician may override, "
        "noting the transport.",
    ),
    (
        "instructions_given",
        _is_true,
        "Discharge instructions have not been given: give them and record it.",
    ),
)


def _flag_items(step: str, checklist: Mapping[str, object], flags: Sequence[_Flag]) -> list[Unmet]:
    return [_item(step, f, message) for f, go, message in flags if not go(checklist.get(f))]


def _fasting_items(
    checklist: Mapping[str, object],
    *,
    at: datetime,
    food_minutes: int,
    liquids_minutes: int,
    clinic_tz: tzinfo,
) -> list[Unmet]:
    unmet: list[Unmet] = []
    for field, minutes, what in (
        ("last_food_at", food_minutes, "food"),
        ("last_liquids_at", liquids_minutes, "liquids"),
    ):
        last = checklist.get(field)
        if not isinstance(last, datetime):
            unmet.append(_item("dosing", field, f"The time of the last {what} is not recorded."))
            continue
        earliest = last + timedelta(minutes=minutes)
        if at < earliest:
            since = int((at - last).total_seconds() // 60)
            unmet.append(
                _item(
                    "dosing",
                    field,
                    f"Last {what} at {clinic_time(last, clinic_tz)}, {max(since, 0)} minutes "
                    f"before dosing; {minutes} are needed: wait until "
                    f"{clinic_time(earliest, clinic_tz)}.",
                )
            )
    return unmet


def _pregnancy_items(
    checklist: Mapping[str, object], *, childbearing_potential: bool
) -> list[Unmet]:
    test = checklist.get("pregnancy_test")
    if test == "positive":
        message = (
            "The pregnancy test is positive: no dose; tell the prescribing clinician "
            "(no one can override this)."
        )
    elif childbearing_potential and test == "declined":
        message = (
            "The patient declined the pregnancy test: a clinician may override after "
            "discussing the risk with the patient."
        )
    elif childbearing_potential and test != "negative":
        message = (
            "The patient may become pregnant and no negative pregnancy test is recorded: "
            "test before dosing."
        )
    else:
        return []
    shown = test if isinstance(test, str) else None
    return [_item("dosing", "pregnancy_test", message, pregnancy_test=shown)]


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
    return [
        *_fasting_items(
            checklist,
            at=at,
            food_minutes=food_minutes,
            liquids_minutes=liquids_minutes,
            clinic_tz=clinic_tz,
        ),
        *_flag_items("dosing", checklist, _PREDOSE_FLAGS),
        *_pregnancy_items(checklist, childbearing_potential=childbearing_potential),
        *_flag_items("dosing", checklist, _CONSENT_FLAGS),
    ]


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
    return _flag_items("discharged", checklist, _DISCHARGE_FLAGS)
