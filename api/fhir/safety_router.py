"""FHIR R4 AdverseEvent and MedicationStatement searches (SPEC §8): the adverse events of a
patient's sessions and their current medication list."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from api.adverse_events.service import adverse_events_for_patient
from api.audit import AuditDep
from api.db import DbSession
from api.fhir.errors import FhirError
from api.fhir.router import _ERRORS, _OUTCOME, FhirResponse, _base_url
from api.fhir.translate import issue, searchset_bundle
from api.fhir.translate.safety import adverse_event_resource, medication_statement_resources
from api.medications.service import current_medication_list
from api.types import parse_id
from models import Patient

router = APIRouter(prefix="/fhir/R4", tags=["fhir"])

PatientParam = Annotated[str | None, Query(description="Patient id (or `Patient/{id}`); required")]


def _patient_id(patient: str | None, subject: str | None) -> str:
    value = patient or subject
    if not value:
        raise FhirError(400, [issue("required", "the search needs patient=")])
    return value.removeprefix("Patient/")


@router.get(
    "/AdverseEvent",
    summary="Search AdverseEvent by patient (the adverse events of the patient's sessions)",
    response_class=FhirResponse,
    responses={200: _OUTCOME, **_ERRORS},
)
async def search_adverse_events(
    request: Request,
    db: DbSession,
    audit: AuditDep,
    patient: PatientParam = None,
    subject: PatientParam = None,
) -> FhirResponse:
    pid_text = _patient_id(patient, subject)
    pid = parse_id(pid_text)
    found = await db.get(Patient, pid) if pid is not None else None
    resources = []
    if found is not None:
        audit.record("read", "adverse_event", None, patient_id=found.id)
        resources = [
            adverse_event_resource(
                id=str(e.id),
                patient_id=str(e.patient_id),
                session_id=str(e.session_id),
                kind=e.kind,
                severity=e.severity,
                onset_at=e.onset_at,
                resolved_at=e.resolved_at,
                recorded_at=e.recorded_at,
                note=e.note,
            )
            for e in await adverse_events_for_patient(db, found.id)
            if e.status == "final"
        ]
    base = _base_url(request)
    return FhirResponse(
        searchset_bundle(resources, self_url=str(request.url), next_url=None, base_url=base)
    )


@router.get(
    "/MedicationStatement",
    summary="Search MedicationStatement by patient (the current medication list)",
    response_class=FhirResponse,
    responses={200: _OUTCOME, **_ERRORS},
)
async def search_medication_statements(
    request: Request,
    db: DbSession,
    audit: AuditDep,
    patient: PatientParam = None,
    subject: PatientParam = None,
) -> FhirResponse:
    pid_text = _patient_id(patient, subject)
    pid = parse_id(pid_text)
    found = await db.get(Patient, pid) if pid is not None else None
    resources = []
    if found is not None:
        audit.record("read", "medication_list", None, patient_id=found.id)
        row = await current_medication_list(db, found.id)
        if row is not None:
            resources = medication_statement_resources(
                patient_id=str(found.id),
                list_id=str(row.id),
                version=row.version,
                recorded_at=row.recorded_at,
                items=list(row.items),
            )
    return FhirResponse(
        searchset_bundle(
            resources, self_url=str(request.url), next_url=None, base_url=_base_url(request)
        )
    )
