"""How a dose reads in the controlled-substance record (21 CFR 1304.22(c); DOMAIN.md).

For each administration the record names the substance, its form and strength, the amounts
given and wasted (mg and mL), lot and expiry, the patient, the date and time, who gave it and
who witnessed the waste. These functions turn stored values into those words.
"""

from __future__ import annotations

from api.clinical.administration import ESKETAMINE_DEVICE_MG

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


def disposal(wasted_mg: float | None) -> str | None:
    """Manner of disposal of the residue, when there was any."""
    if not wasted_mg:
        return None
    return "wasted at point of care, witnessed"
