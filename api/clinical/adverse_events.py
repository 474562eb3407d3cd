"""Adverse events of a session (SPEC §6; DOMAIN.md "Adverse events") and what they mean for
alerts and the REMS form."""

from __future__ import annotations

from api.clinical.alerts import AlertDecision, Severity

ALERTING_SEVERITIES = frozenset({"severe", "life_threatening"})
# what the REMS form's observations learn from an adverse event of these kinds
SEDATION_KINDS = frozenset({"excessive_sedation"})
DISSOCIATION_KINDS = frozenset({"dissociation_distress"})
RESPIRATORY_KINDS = frozenset({"respiratory_depression", "oxygen_desaturation"})
# names a session's "other medications" may not carry: ketamine and esketamine are
# administrations (the controlled-substance record), never "other medications"
STUDY_DRUG_WORDS = ("ketamine", "ketalar", "spravato")


def adverse_event_alert(kind: str, severity: str) -> AlertDecision | None:
    """A severe or life-threatening adverse event raises a critical alert; others none."""
    if severity not in ALERTING_SEVERITIES:
        return None
    words = kind.replace("_", " ")
    grade = "life-threatening" if severity == "life_threatening" else "severe"
    return AlertDecision(
        kind="adverse_event",
        severity=Severity.critical,
        message=(
            f"Adverse event: {grade} {words}. Assess the patient now and tell the responsible "
            "clinician."
        ),
        vital="",
        value=0.0,
        limit=0.0,
    )


def is_study_drug(name: str) -> bool:
    lowered = name.casefold()
    return any(word in lowered for word in STUDY_DRUG_WORDS)
