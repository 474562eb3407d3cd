"""How a dose reads in the controlled-substance record (21 CFR 1304.22(c); DOMAIN.md).

For each administration the record names the substance, its form and strength, the amounts
given and wasted (mg and mL), lot and expiry, the patient, the date and time, who gave it and
who witnessed the waste. These functions turn stored values into those words.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo

from api.clinical.administration import ESKETAMINE_DEVICE_MG
from api.clinical.gates import Unmet
from api.clinical.labels import clinic_time

DEA_SCHEDULE = "III"  # ketamine and esketamine (DOMAIN.md)

SUBSTANCES = {"ketamine": "ketamine hydrochloride", "esketamine": "esketamine hydrochloride"}

FORMS = {
    ("esketamine", "intranasal"): "nasal spray device",
    ("ketamine", "iv_infusion"): "injection solution (IV infusion)",
    ("ketamine", "im"): "injection solution (IM)",
    ("ketamine", "intranasal"): "intranasal solution",
    ("ketamine", "sublingual"): "sublingual",
    ("ketamine", "oral"): "oral",
}


def substance_name(medication: str) -> str:
    return SUBSTANCES.get(medication, medication)


def dosage_form(medication: str, route: str) -> str:
    return FORMS.get((medication, route), route.replace("_", " "))


def strength(medication: str, route: str, concentration_mg_per_ml: float | None) -> str | None:
    """``28 mg/device`` for esketamine nasal spray; ``50 mg/mL`` when a concentration was
    recorded."""
    if (medication, route) == ("esketamine", "intranasal"):
        return f"{ESKETAMINE_DEVICE_MG} mg/device"
    if concentration_mg_per_ml:
        return f"{concentration_mg_per_ml:g} mg/mL"
    return None


def disposal(wasted_mg: float | None, witness_status: str | None = None) -> str | None:
    """Manner of disposal of the residue, when there was any, and whether its witness confirmed
    it (SPEC §6)."""
    if not wasted_mg:
        return None
    return {
        "witnessed": "wasted at point of care, witnessed",
        "pending": "wasted at point of care, witness has not yet confirmed",
        "not_confirmed": "wasted at point of care, witness named but never confirmed "
        "(recorded before witnesses confirmed waste)",
    }.get(witness_status or "", "wasted at point of care")


# Witness statuses (SPEC §6): waiting for the witness; confirmed by the witness signed in as
# themselves; recorded before that rule existed (blocks nothing).
PENDING, WITNESSED, NOT_CONFIRMED = "pending", "witnessed", "not_confirmed"
WITNESS_STATUSES = (PENDING, WITNESSED, NOT_CONFIRMED)


@dataclass(frozen=True)
class WasteRecord:
    """What the discharge gate reads of one administration with waste."""

    administration_id: str
    medication: str
    wasted_mg: float | None
    started_at: datetime
    witness_status: str | None
    witness_name: str | None
    administered_by_name: str | None
    retracted: bool = False


def unwitnessed_waste(records: Sequence[WasteRecord], *, tz: tzinfo) -> list[Unmet]:
    """The discharge gate's ``waste_unwitnessed`` items (SPEC §4, §6): one per waste of the
    session still waiting for its witness. Retracted records and waste recorded before the
    rule (``not_confirmed``) block nothing. Never overridable: only the witness resolves it."""
    items: list[Unmet] = []
    for r in records:
        if r.retracted or not r.wasted_mg or r.witness_status != PENDING:
            continue
        witness = r.witness_name or "the named witness"
        giver = r.administered_by_name or "the person who gave the dose"
        items.append(
            Unmet(
                code="waste_unwitnessed",
                administration_id=r.administration_id,
                overridable=False,
                message=(
                    f"{r.wasted_mg:g} mg of {r.medication} wasted from the dose given at "
                    f"{clinic_time(r.started_at, tz)} is waiting for {witness} to confirm "
                    f"witnessing it: {witness} signs in and confirms the waste, or {giver} "
                    "names another witness. Discharge waits until it is witnessed."
                ),
            )
        )
    return items
