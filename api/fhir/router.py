from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import orjson
from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from api.audit import AuditDep
from api.db import DbSession
from api.fhir import service
from api.fhir.errors import FHIR_JSON, FhirError
from api.integrations import fhir as translate
from api.integrations.fhir import issue
from api.integrations.ingest import Quarantine

router = APIRouter(prefix="/fhir/R4", tags=["fhir"])


class FhirResponse(JSONResponse):
    media_type = FHIR_JSON


_OUTCOME = {"content": {FHIR_JSON: {"schema": {"type": "object"}}}}
_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"description": f"OperationOutcome ({text})", **_OUTCOME}
    for code, text in (
        (400, "malformed"),
        (401, "no credentials"),
        (403, "role may not"),
        (404, "unknown id"),
        (
            409,
            "conflicts with the record: measured after its session ended, or an identifier "
            "used for another session's reading",
        ),
        (422, "not processable"),
    )
}
_UCUM = translate.UCUM
_OBSERVATION_EXAMPLE = {
    "resourceType": "Observation",
    "status": "final",
    "category": [
        {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                    "code": "vital-signs",
                }
            ]
        }
    ],
    "code": {"coding": [{"system": "http://loinc.org", "code": "85354-9"}]},
    "subject": {"reference": "Patient/5f0c8f3e-8f0a-4a53-9d55-3f1f5f1c2b7a"},
    "effectiveDateTime": "2026-12-01T14:02:00Z",
    "identifier": [{"system": "urn:example:gateway", "value": "bp-20261201140200"}],
    "component": [
        {
            "code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]},
            "valueQuantity": {
                "value": 128,
                "unit": "mmHg",
                "system": "http://unitsofmeasure.org",
                "code": "mm[Hg]",
            },
        },
        {
            "code": {"coding": [{"system": "http://loinc.org", "code": "8462-4"}]},
            "valueQuantity": {
                "value": 82,
                "unit": "mmHg",
                "system": "http://unitsofmeasure.org",
                "code": "mm[Hg]",
            },
        },
    ],
}


def _json_body(name: str, example: dict[str, Any]) -> dict[str, Any]:
    schema = {"type": "object", "description": name}
    return {
        "requestBody": {
            "required": True,
            "content": {
                FHIR_JSON: {"schema": schema, "examples": {name: {"value": example}}},
                "application/json": {"schema": schema, "examples": {name: {"value": example}}},
            },
        }
    }


async def _read_json(request: Request) -> Any:
    raw = await request.body()
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise FhirError(400, [issue("structure", f"the body is not valid JSON: {exc}")]) from None


def _base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/") + "/fhir/R4"


@router.get(
    "/metadata",
    summary="CapabilityStatement of the FHIR R4 facade",
    response_class=FhirResponse,
    responses={200: _OUTCOME, **_ERRORS},
)
async def metadata(request: Request) -> FhirResponse:
    return FhirResponse(
        translate.capability_statement(base_url=_base_url(request), version=request.app.version)
    )


@router.post(
    "/Observation",
    status_code=201,
    summary="Create a vital-signs Observation (BP as the 85354-9 panel)",
    description=(
        "Goes to the session named by `encounter` (`Encounter/{session id}`), else to the "
        "subject's session that is checked in and not ended at `effectiveDateTime` (none: 422; "
        "measured after the named session ended: 409). The first `identifier` de-duplicates "
        "retries (200 with the stored resource; 409 when it was used for another session's "
        "reading)."
    ),
    response_class=FhirResponse,
    responses={201: _OUTCOME, 200: _OUTCOME, **_ERRORS},
    openapi_extra=_json_body("Observation", _OBSERVATION_EXAMPLE),
)
async def create_observation(request: Request, db: DbSession, audit: AuditDep) -> FhirResponse:
    resource = await _read_json(request)
    try:
        created = await service.ingest_observation(db, audit, resource)
    except FhirError as exc:
        rejected = service.rejected(audit, [(None, resource, exc)])
        await _quarantine_separately(request, db, rejected)
        raise
    location = f"{_base_url(request)}/Observation/{created.resource['id']}"
    return FhirResponse(
        created.resource,
        status_code=201 if created.created else 200,
        headers={"Location": location},
    )


@router.post(
    "",
    summary="Batch or transaction Bundle of Observation creates",
    description=(
        "`batch`: each entry succeeds or fails on its own (`batch-response`). `transaction`: "
        "all or nothing; one bad entry and nothing is stored, answered with an "
        "OperationOutcome naming every failed entry (`Bundle.entry[i]...`)."
    ),
    response_class=FhirResponse,
    responses={200: _OUTCOME, **_ERRORS},
    openapi_extra=_json_body(
        "Bundle",
        {
            "resourceType": "Bundle",
            "type": "transaction",
            "entry": [
                {
                    "request": {"method": "POST", "url": "Observation"},
                    "resource": _OBSERVATION_EXAMPLE,
                }
            ],
        },
    ),
)
async def bundle(request: Request, db: DbSession, audit: AuditDep) -> FhirResponse:
    body = await _read_json(request)
    try:
        response, failures = await service.ingest_bundle(db, audit, body)
    except service.TransactionFailed as failed:
        await _quarantine_separately(request, db, service.rejected(audit, failed.failures))
        raise failed.error from None
    await service.rejected(audit, failures).write(db)
    return FhirResponse(response)


async def _quarantine_separately(request: Request, db: DbSession, quarantine: Quarantine) -> None:
    """Keep what was refused even though this request's transaction is rolled back (released
    first: SQLite's write lock would block the separate write)."""
    await db.rollback()
    factory = request.app.state.session_factory
    async with factory() as separate:
        await quarantine.write(separate)
        await separate.commit()


def _cursor(after: datetime) -> str:
    return base64.urlsafe_b64encode(after.isoformat().encode()).decode().rstrip("=")


def _after(cursor: str | None) -> datetime | None:
    if not cursor:
        return None
    try:
        value = datetime.fromisoformat(
            base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        )
        if value.tzinfo is None:
            raise ValueError
        # In UTC here, not when bound: 0001-01-01T00:00:00+01:00 overflows there (a 500).
        return value.astimezone(UTC)
    except (ValueError, UnicodeDecodeError, OverflowError):
        raise FhirError(400, [issue("invalid", "invalid _cursor", ["_cursor"])]) from None


@router.get(
    "/Observation",
    summary="Search vital-sign Observations (searchset Bundle)",
    description=(
        "`patient` (`Patient/{id}` or id) or `encounter` is required. `date` (a day is the "
        "clinic's day, `VIGIL_CLINIC_TZ`) takes the FHIR "
        "prefixes eq, ne, lt, gt, le, ge, sa, eb and may repeat (all must match); `code` is a "
        "LOINC token (`http://loinc.org|8867-4` or `8867-4`, comma = or; 85354-9 = BP). A "
        "systolic and diastolic with one `measured_at` come as one 85354-9 panel. Paged with "
        "`_count` (1–500, default 50) and the `next` link."
    ),
    response_class=FhirResponse,
    responses={200: _OUTCOME, **_ERRORS},
)
async def search_observations(
    request: Request,
    db: DbSession,
    audit: AuditDep,
    patient: Annotated[str | None, Query(max_length=80)] = None,
    encounter: Annotated[str | None, Query(max_length=80)] = None,
    date: Annotated[list[str] | None, Query()] = None,
    code: Annotated[list[str] | None, Query()] = None,
    count: Annotated[int, Query(alias="_count", ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(alias="_cursor")] = None,
) -> FhirResponse:
    resources, next_after = await service.search_observations(
        db,
        audit,
        patient=patient,
        encounter=encounter,
        dates=date or [],
        codes=code or [],
        count=count,
        after=_after(cursor),
        day_tz=ZoneInfo(request.app.state.settings.clinic_tz),
    )
    next_url = None
    if next_after is not None:
        next_url = str(request.url.include_query_params(_cursor=_cursor(next_after)))
    return FhirResponse(
        translate.searchset_bundle(
            resources, self_url=str(request.url), next_url=next_url, base_url=_base_url(request)
        )
    )


@router.get(
    "/Observation/{observation_id}",
    summary="Read one Observation (a reading, or `bp-{systolic id}` for a BP panel)",
    response_class=FhirResponse,
    responses={200: _OUTCOME, **_ERRORS},
)
async def read_observation(observation_id: str, db: DbSession, audit: AuditDep) -> FhirResponse:
    return FhirResponse(await service.read_observation(db, audit, observation_id))


@router.get(
    "/Patient/{patient_id}",
    summary="Read a Patient",
    response_class=FhirResponse,
    responses={200: _OUTCOME, **_ERRORS},
)
async def read_patient(patient_id: str, db: DbSession, audit: AuditDep) -> FhirResponse:
    return FhirResponse(await service.read_patient(db, audit, patient_id))
