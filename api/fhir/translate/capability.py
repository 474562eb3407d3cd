"""The CapabilityStatement (``GET /fhir/R4/metadata``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from api.fhir.translate.codes import (
    BP_PROFILE,
    FHIR_VERSION,
    SPECIFIC_PROFILES,
    VITAL_SIGNS_PROFILE,
)
from api.fhir.translate.times import fhir_instant

SEARCH_PARAMETERS = (
    (
        "patient",
        "reference",
        "clinical-patient",
        "The patient: Patient/{id}, {id} or an absolute URL on this server",
    ),
    ("subject", "reference", "Observation-subject", "Alias of patient"),
    ("encounter", "reference", "clinical-encounter", "The session: Encounter/{session id} or {id}"),
    (
        "date",
        "date",
        "clinical-date",
        "When the reading was measured (prefixes eq ne gt lt ge le sa eb ap; a day is the "
        "clinic's day)",
    ),
    (
        "code",
        "token",
        "clinical-code",
        "LOINC code (http://loinc.org|8867-4 or 8867-4; 85354-9 = BP)",
    ),
)
SEARCH_DOCUMENTATION = (
    "Also _count (entries per page, 0-500; a BP panel is one entry; 0 = the total only), "
    "_sort (date or -date), _summary=count, and POST Observation/_search (form-encoded). "
    "Unknown parameters are ignored and listed in an OperationOutcome entry; with "
    "Prefer: handling=strict they are a 400."
)
#: Searched by patient only (api/fhir/safety_router.py): (type, what a search finds, R4's
#: SearchParameter for ``subject``; ``patient`` is R4's ``clinical-patient`` where it has one).
PATIENT_SEARCHES = (
    (
        "AdverseEvent",
        "The adverse events recorded in the patient's sessions (retracted ones are not listed)",
        "AdverseEvent-subject",
        None,
    ),
    (
        "MedicationStatement",
        "The patient's current medication list, one MedicationStatement an item",
        "MedicationStatement-subject",
        "clinical-patient",
    ),
)
RESTFUL_SECURITY = "http://terminology.hl7.org/CodeSystem/restful-security-service"


def capability_statement(
    *, base_url: str, version: str, published: datetime | None = None
) -> dict[str, Any]:
    """What ``GET /fhir/R4/metadata`` answers (to anyone: it holds no patient data)."""
    moment = published or datetime.now(UTC)
    observation = {
        "type": "Observation",
        "profile": VITAL_SIGNS_PROFILE,
        "supportedProfile": [BP_PROFILE, *SPECIFIC_PROFILES.values()],
        "documentation": SEARCH_DOCUMENTATION,
        "interaction": [{"code": "create"}, {"code": "read"}, {"code": "search-type"}],
        "versioning": "versioned",
        "readHistory": False,
        "updateCreate": False,
        "searchParam": [
            {
                "name": name,
                "definition": f"http://hl7.org/fhir/SearchParameter/{definition}",
                "type": kind,
                "documentation": doc,
            }
            for name, kind, definition, doc in SEARCH_PARAMETERS
        ],
    }
    read_only = {"interaction": [{"code": "read"}], "versioning": "versioned", "readHistory": False}
    patient = {"type": "Patient", **read_only}
    encounter = {"type": "Encounter", **read_only}
    by_patient = [_patient_search(*search) for search in PATIENT_SEARCHES]
    security = {
        "cors": False,
        "service": [
            {
                "coding": [{"system": RESTFUL_SECURITY, "code": "OAuth", "display": "OAuth"}],
                "text": "Bearer token",
            }
        ],
        "description": (
            "Every request but this one needs `Authorization: Bearer <token>`: staff get a "
            "token from POST /v1/auth/token (username and password); integration clients send "
            "their API key as the bearer token."
        ),
    }
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": fhir_instant(moment),
        "publisher": "Vigil",
        "kind": "instance",
        "software": {"name": "Vigil", "version": version},
        "implementation": {
            "description": "Vigil ketamine/esketamine session record: FHIR R4 facade",
            "url": base_url,
        },
        "fhirVersion": FHIR_VERSION,
        "format": ["json", "application/fhir+json"],
        "rest": [
            {
                "mode": "server",
                "security": security,
                "resource": [observation, patient, encounter, *by_patient],
                "interaction": [{"code": "batch"}, {"code": "transaction"}],
            }
        ],
    }


def _patient_search(
    kind: str, documentation: str, subject: str, patient: str | None
) -> dict[str, Any]:
    base = "http://hl7.org/fhir/SearchParameter/"
    patient_param: dict[str, Any] = {"name": "patient", "type": "reference"}
    if patient is not None:
        patient_param["definition"] = base + patient
    patient_param["documentation"] = "Required: Patient/{id} or {id}"
    return {
        "type": kind,
        "documentation": documentation,
        "interaction": [{"code": "search-type"}],
        "searchParam": [
            patient_param,
            {
                "name": "subject",
                "definition": base + subject,
                "type": "reference",
                "documentation": "Alias of patient",
            },
        ],
    }
