"""FHIR R4 AdverseEvent and MedicationStatement from Vigil's records (SPEC §8, §6, §11): pure
translators, no database.

* AdverseEvent: ``actuality`` actual; ``event`` the kind (Vigil's code, text in words);
  ``severity`` mild / moderate / severe (life-threatening is ``severe`` and ``seriousness``
  serious; severe is serious too); ``outcome`` resolved or ongoing; ``encounter`` the session.
  R4's AdverseEvent has no status: a retracted event is not emitted.
* MedicationStatement: one per item of the patient's current medication list, ``status``
  active, the medicine as ``medicationCodeableConcept.text``, Vigil's class as ``category``,
  the dose as ``dosage.text``; ``meta.versionId`` the list's version.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from api.fhir.translate.times import fhir_instant

VIGIL_AE_KIND = "urn:vigil:adverse-event-kind"
VIGIL_MEDICATION_CLASS = "urn:vigil:medication-class"
AE_SEVERITY = "http://terminology.hl7.org/CodeSystem/adverse-event-severity"
AE_SERIOUSNESS = "http://terminology.hl7.org/CodeSystem/adverse-event-seriousness"
AE_OUTCOME = "http://terminology.hl7.org/CodeSystem/adverse-event-outcome"
_SEVERITY = {
    "mild": "mild",
    "moderate": "moderate",
    "severe": "severe",
    "life_threatening": "severe",
}


def adverse_event_resource(
    *,
    id: str,
    patient_id: str,
    session_id: str,
    kind: str,
    severity: str,
    onset_at: datetime,
    resolved_at: datetime | None,
    recorded_at: datetime,
    note: str | None = None,
) -> dict[str, Any]:
    serious = severity in ("severe", "life_threatening")
    words = kind.replace("_", " ")
    resource: dict[str, Any] = {
        "resourceType": "AdverseEvent",
        "id": id,
        "meta": {"versionId": "2" if resolved_at is not None else "1"},
        "actuality": "actual",
        "event": {
            "coding": [{"system": VIGIL_AE_KIND, "code": kind, "display": words}],
            "text": words if note is None else f"{words}: {note}",
        },
        "subject": {"reference": f"Patient/{patient_id}"},
        "encounter": {"reference": f"Encounter/{session_id}"},
        "date": fhir_instant(onset_at),
        "recordedDate": fhir_instant(recorded_at),
        "seriousness": {
            "coding": [
                {
                    "system": AE_SERIOUSNESS,
                    "code": "serious" if serious else "non-serious",
                    "display": "Serious" if serious else "Non-serious",
                }
            ]
        },
        "severity": {"coding": [{"system": AE_SEVERITY, "code": _SEVERITY[severity]}]},
        "outcome": {
            "coding": [
                {
                    "system": AE_OUTCOME,
                    "code": "resolved" if resolved_at is not None else "ongoing",
                }
            ]
        },
    }
    return resource


def medication_statement_resources(
    *,
    patient_id: str,
    list_id: str,
    version: int,
    recorded_at: datetime,
    items: list[Mapping[str, Any]],
) -> list[dict[str, Any]]:
    out = []
    for index, item in enumerate(items):
        resource: dict[str, Any] = {
            "resourceType": "MedicationStatement",
            "id": f"{list_id}-{index}",
            "meta": {"versionId": str(version)},
            "status": "active",
            "category": {
                "coding": [{"system": VIGIL_MEDICATION_CLASS, "code": str(item.get("class"))}]
            },
            "medicationCodeableConcept": {"text": str(item.get("name"))},
            "subject": {"reference": f"Patient/{patient_id}"},
            "dateAsserted": fhir_instant(recorded_at),
        }
        if item.get("dose"):
            resource["dosage"] = [{"text": str(item["dose"])}]
        out.append(resource)
    return out
