"""Patient and Encounter (a treatment session) resources."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from api.fhir.translate.codes import V2_IDENTIFIER_TYPE
from api.fhir.translate.times import fhir_instant

_GENDERS = frozenset({"female", "male", "other", "unknown"})


ENCOUNTER_STATUS = {
    "scheduled": "planned",
    "checked_in": "arrived",
    "dosing": "in-progress",
    "monitoring": "in-progress",
    "discharged": "finished",
    "transferred": "finished",
    "cancelled": "cancelled",
}
V3_ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"


def encounter_resource(
    *,
    id: str,
    patient_id: str,
    status: str,
    scheduled_at: datetime,
    checked_in_at: datetime | None,
    ended_at: datetime | None,
    location: str | None,
    version: int,
    last_updated: datetime | None = None,
) -> dict[str, Any]:
    """A treatment session as an ambulatory Encounter: status, period (check-in to the end;
    the scheduled time while it is only planned), subject and location (the chair)."""
    if status not in ENCOUNTER_STATUS:
        raise ValueError(f"not a session status: {status!r}")
    meta: dict[str, Any] = {"versionId": str(version)}
    if last_updated is not None:
        meta["lastUpdated"] = fhir_instant(last_updated)
    period: dict[str, Any] = {"start": fhir_instant(checked_in_at or scheduled_at)}
    if ended_at is not None:
        period["end"] = fhir_instant(ended_at)
    resource: dict[str, Any] = {
        "resourceType": "Encounter",
        "id": id,
        "meta": meta,
        "status": ENCOUNTER_STATUS[status],
        "class": {"system": V3_ACT_CODE, "code": "AMB", "display": "ambulatory"},
        "serviceType": {"text": "Ketamine/esketamine treatment session"},
        "subject": {"reference": f"Patient/{patient_id}"},
        "period": period,
    }
    if status == "transferred":
        resource["hospitalization"] = {"dischargeDisposition": {"text": "emergency transfer"}}
    if location:
        resource["location"] = [{"location": {"display": location}}]
    return resource


def patient_resource(
    *,
    id: str,
    mrn: str,
    given_name: str,
    family_name: str,
    birth_date: date,
    sex: str,
    mrn_system: str | None = None,
    version: int | None = None,
) -> dict[str, Any]:
    """A Patient with its MRN (identifier type MR) and Vigil's sex as FHIR gender."""
    if sex not in _GENDERS:
        raise ValueError(f"sex must be one of {sorted(_GENDERS)}, not {sex!r}")
    identifier: dict[str, Any] = {
        "use": "usual",
        "type": {
            "coding": [
                {"system": V2_IDENTIFIER_TYPE, "code": "MR", "display": "Medical record number"}
            ],
            "text": "MRN",
        },
        "value": mrn,
    }
    if mrn_system is not None:
        identifier["system"] = mrn_system
    resource: dict[str, Any] = {"resourceType": "Patient", "id": id}
    if version is not None:
        resource["meta"] = {"versionId": str(version)}
    return {
        **resource,
        "identifier": [identifier],
        "name": [{"use": "official", "family": family_name, "given": [given_name]}],
        "gender": sex,
        "birthDate": birth_date.isoformat(),
    }
