from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode
from zoneinfo import ZoneInfo

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from api.audit import AuditDep
from api.db import DbSession
from api.fhir import search as fhir_search
from api.fhir import service, translate
from api.fhir.errors import FHIR_JSON, FhirError
from api.fhir.translate import issue
from api.integrations.ingest import Quarantine
from models.base import utcnow

router = APIRouter(prefix="/fhir/R4", tags=["fhir"])
#: Routes anyone may call (the CapabilityStatement: no patient data), included without the
#: authorization dependency.
public_router = APIRouter(prefix="/fhir/R4", tags=["fhir"])


class FhirResponse(JSONResponse):
    media_type = FHIR_JSON


# Schemas in components (api/openapi.py FHIR_SCHEMAS); errors: OperationOutcome, documented
# for every route by api/openapi.py document_errors.
_RESOURCE = {"$ref": "#/components/schemas/FhirResource"}
_OUTCOME = {"content": {FHIR_JSON: {"schema": _RESOURCE}}}
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
    return {
        "requestBody": {
            "required": True,
            "description": f"A FHIR R4 {name}",
            "content": {
                FHIR_JSON: {"schema": _RESOURCE, "examples": {name: {"value": example}}},
                "application/json": {"schema": _RESOURCE, "examples": {name: {"value": example}}},
            },
        }
    }


async def _read_json(request: Request, db: DbSession, audit: AuditDep) -> Any:
    """The body as JSON; a body that is not JSON is a 400 and is still quarantined."""
    raw = await request.body()
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        error = FhirError(400, [issue("structure", f"the body is not valid JSON: {exc}")])
        quarantine = service.rejected(audit, [(None, None, error)], body=raw)
        await _quarantine_separately(request, db, quarantine)
        raise error from None


def _base_url(request: Request) -> str:
    """This server's FHIR base, from ``VIGIL_PUBLIC_BASE_URL``: never the request's ``Host``
    header, which any client can set (links built on it would point wherever it says)."""
    return str(request.app.state.settings.public_base_url) + "/fhir/R4"


def _etag(resource: Mapping[str, Any]) -> dict[str, str]:
    """A weak ETag of the resource's version (FHIR: ``W/"versionId"``)."""
    return {"ETag": f'W/"{resource["meta"]["versionId"]}"'}


@public_router.get(
    "/metadata",
    summary="CapabilityStatement of the FHIR R4 facade (no credentials needed)",
    description=(
        "Answers without credentials, so a FHIR client can discover the server before it "
        "authenticates; `rest.security` says how: a bearer token on every other request."
    ),
    response_class=FhirResponse,
    responses={200: _OUTCOME},
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
        "Goes to the session named by `encounter` (`Encounter/{session id}`, relative or an "
        "absolute URL on this server's base; another base is 400), else to the subject's "
        "session that is checked in and not ended at `effectiveDateTime` (none: 422; measured "
        "after the named session ended: 409). Only `status` final, amended and corrected are "
        "readings (others 422); a `valueQuantity.comparator` and any `modifierExtension` are "
        "422. The first `identifier` de-duplicates retries (200 with the stored resource; 409 "
        "when it was used for another session's reading). Refused resources are kept in the "
        "quarantine."
    ),
    response_class=FhirResponse,
    responses={201: _OUTCOME, 200: _OUTCOME, **_ERRORS},
    openapi_extra=_json_body("Observation", _OBSERVATION_EXAMPLE),
)
async def create_observation(request: Request, db: DbSession, audit: AuditDep) -> FhirResponse:
    resource = await _read_json(request, db, audit)
    base = _base_url(request)
    try:
        created = await service.ingest_observation(db, audit, resource, base_url=base)
    except FhirError as exc:
        rejected = service.rejected(audit, [(None, resource, exc)], body=await request.body())
        await _quarantine_separately(request, db, rejected)
        raise
    location = f"{base}/Observation/{created.resource['id']}"
    return FhirResponse(
        created.resource,
        status_code=201 if created.created else 200,
        headers={"Location": location, **_etag(created.resource)},
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
    body = await _read_json(request, db, audit)
    raw = await request.body()
    try:
        response, failures = await service.ingest_bundle(
            db, audit, body, base_url=_base_url(request)
        )
    except service.TransactionFailed as failed:
        quarantine = service.rejected(audit, failed.failures, body=raw)
        await _quarantine_separately(request, db, quarantine)
        raise failed.error from None
    except FhirError as exc:  # not a Bundle Vigil can read: kept whole
        await _quarantine_separately(
            request, db, service.rejected(audit, [(None, body, exc)], body=raw)
        )
        raise
    await service.rejected(audit, failures, body=raw).write(db)
    return FhirResponse(response)


async def _quarantine_separately(request: Request, db: DbSession, quarantine: Quarantine) -> None:
    """Keep what was refused even though this request's transaction is rolled back (released
    first: SQLite's write lock would block the separate write)."""
    await db.rollback()
    factory = request.app.state.session_factory
    async with factory() as separate:
        await quarantine.write(separate)
        await separate.commit()


_SEARCH_DESCRIPTION = (
    "`patient` (alias `subject`; `Patient/{id}`, `{id}` or an absolute URL on this server) or "
    "`encounter` (`Encounter/{session id}`) is required. `date` (a day is the clinic's day, "
    "`VIGIL_CLINIC_TZ`) takes the FHIR prefixes eq, ne, lt, gt, le, ge, sa, eb and ap and may "
    "repeat (all must match); `code` is a LOINC token (`http://loinc.org|8867-4` or `8867-4`, "
    "comma = or; 85354-9 = BP). A systolic and diastolic with one `measured_at` come as one "
    "85354-9 panel, one entry. `_count` (0-500, default 50) entries a page, exactly, with a "
    "`next` link while there are more; `_sort` `date` (default) or `-date` (newest first); "
    "`_summary=count` answers the `total` alone (every searchset carries `total`). Unknown "
    "parameters are ignored and listed in an OperationOutcome entry (search mode "
    "`outcome`), or a 400 with `Prefer: handling=strict`."
)
_SEARCH_PARAMETERS = [
    {"name": name, "in": "query", "required": False, "schema": schema, "description": text}
    for name, schema, text in (
        ("patient", {"type": "string"}, "Patient/{id} or {id}"),
        ("subject", {"type": "string"}, "Alias of patient"),
        ("encounter", {"type": "string"}, "Encounter/{session id} or {id}"),
        ("date", {"type": "array", "items": {"type": "string"}}, "e.g. ge2026-12-01"),
        ("code", {"type": "array", "items": {"type": "string"}}, "LOINC, e.g. 8867-4"),
        ("_count", {"type": "integer", "minimum": 0, "maximum": 500}, "Entries per page"),
        ("_sort", {"type": "string", "enum": ["date", "-date"]}, "Order by time"),
        ("_summary", {"type": "string", "enum": ["count", "false"]}, "count: total only"),
        ("_cursor", {"type": "string"}, "From the next link"),
    )
]


def _strict(request: Request) -> bool:
    """``Prefer: handling=strict`` (RFC 7240; among other preferences, in any case)."""
    prefer = request.headers.get("prefer", "").replace(";", ",").lower()
    return any(p.strip().replace(" ", "") == "handling=strict" for p in prefer.split(","))


async def _search(
    request: Request, db: DbSession, audit: AuditDep, pairs: list[tuple[str, str]]
) -> FhirResponse:
    base = _base_url(request)
    search = fhir_search.parse_search(pairs, base_url=base, strict=_strict(request))
    result = await service.search_observations(
        db,
        audit,
        search,
        day_tz=ZoneInfo(request.app.state.settings.clinic_tz),
        now=utcnow(),
    )
    kept = search.query_pairs(pairs)
    next_url = None
    if result.next_key is not None:
        cursor = fhir_search.encode_cursor(result.next_key)
        next_url = f"{base}/Observation?{urlencode([*kept, ('_cursor', cursor)])}"
    self_pairs = [*kept]
    if search.after is not None:
        self_pairs.append(("_cursor", fhir_search.encode_cursor(search.after)))
    return FhirResponse(
        translate.searchset_bundle(
            result.resources,
            self_url=f"{base}/Observation" + (f"?{urlencode(self_pairs)}" if self_pairs else ""),
            next_url=next_url,
            base_url=base,
            total=result.total,
            outcome=fhir_search.unknown_issues(search),
        )
    )


@router.get(
    "/Observation",
    summary="Search vital-sign Observations (searchset Bundle)",
    description=_SEARCH_DESCRIPTION,
    response_class=FhirResponse,
    responses={200: _OUTCOME, **_ERRORS},
    openapi_extra={"parameters": _SEARCH_PARAMETERS},
)
async def search_observations(request: Request, db: DbSession, audit: AuditDep) -> FhirResponse:
    return await _search(request, db, audit, list(request.query_params.multi_items()))


@router.post(
    "/Observation/_search",
    summary="Search vital-sign Observations, parameters form-encoded in the body",
    description="The same search as `GET /fhir/R4/Observation`, for parameters too long or too "
    "private for a URL. Parameters in the URL count too.",
    response_class=FhirResponse,
    responses={200: _OUTCOME, **_ERRORS},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/x-www-form-urlencoded": {
                    "schema": {
                        "type": "object",
                        "properties": {p["name"]: p["schema"] for p in _SEARCH_PARAMETERS},
                    },
                    "example": {
                        "patient": "Patient/5f0c8f3e-8f0a-4a53-9d55-3f1f5f1c2b7a",
                        "_sort": "-date",
                        "_count": 1,
                    },
                }
            },
        }
    },
)
async def search_observations_post(
    request: Request, db: DbSession, audit: AuditDep
) -> FhirResponse:
    raw = (await request.body()).decode("utf-8", "replace")
    pairs = list(request.query_params.multi_items()) + parse_qsl(raw, keep_blank_values=True)
    return await _search(request, db, audit, pairs)


@router.get(
    "/Observation/{observation_id}",
    summary="Read one Observation (a reading, or `bp-{systolic id}` for a BP panel)",
    response_class=FhirResponse,
    responses={200: _OUTCOME, **_ERRORS},
)
async def read_observation(observation_id: str, db: DbSession, audit: AuditDep) -> FhirResponse:
    resource = await service.read_observation(db, audit, observation_id)
    return FhirResponse(resource, headers=_etag(resource))


@router.get(
    "/Patient/{patient_id}",
    summary="Read a Patient",
    response_class=FhirResponse,
    responses={200: _OUTCOME, **_ERRORS},
)
async def read_patient(patient_id: str, db: DbSession, audit: AuditDep) -> FhirResponse:
    resource = await service.read_patient(db, audit, patient_id)
    return FhirResponse(resource, headers=_etag(resource))


@router.get(
    "/Encounter/{session_id}",
    summary="Read a session as an Encounter (status, period, subject, location)",
    response_class=FhirResponse,
    responses={200: _OUTCOME, **_ERRORS},
)
async def read_encounter(session_id: str, db: DbSession, audit: AuditDep) -> FhirResponse:
    resource = await service.read_encounter(db, audit, session_id)
    return FhirResponse(resource, headers=_etag(resource))


# More resource types (AdverseEvent, MedicationStatement: SPEC §8 and §11) go here: a read
# and a search route each, its function in api/fhir/service.py and its row in
# api/security/policy.py.
