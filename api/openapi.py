"""Problem+json response documentation shared by every router."""

from __future__ import annotations

import copy
from typing import Any

from pydantic import BaseModel, ConfigDict

PROBLEM_JSON = "application/problem+json"
FHIR_JSON = "application/fhir+json"


class FieldError(BaseModel):
    loc: list[str | int]
    msg: str
    code: str | None = None


class Problem(BaseModel):
    """RFC 9457 problem details. Refusals add their extension members (``code``, ``unmet``,
    ``allowed``, ``errors``, ...): any other member may appear too."""

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    detail: str
    code: str | None = None
    errors: list[FieldError] | None = None
    allowed: list[str] | None = None
    unmet: list[dict[str, Any]] | None = None


_TYPE = "https://vigil.invalid/problems/"


def _example(status: int, slug: str, title: str, detail: str, **extra: Any) -> dict[str, Any]:
    return {"type": _TYPE + slug, "title": title, "status": status, "detail": detail, **extra}


#: One example body per status, as the error handlers write them (api/errors.py).
PROBLEM_EXAMPLES: dict[int, dict[str, Any]] = {
    400: _example(
        400,
        "malformed-json",
        "Malformed JSON",
        "The request body is not valid JSON: expected value at line 1 column 1",
    ),
    401: _example(401, "unauthorized", "Authentication required", "Send a bearer token."),
    403: _example(
        403,
        "forbidden",
        "Not allowed for your role",
        "Your role (nurse) may not POST /v1/patients/{patient_id}/dosing-plans. "
        "Allowed: clinician.",
    ),
    404: _example(404, "not-found", "Not found", "No session with this id."),
    409: _example(
        409,
        "gate-not-met",
        "Pre-dose gate not met",
        "Dosing cannot start: no SpO2 in the 30 minutes before 09:40 (-05:00). Take a "
        "reading, then try again.",
        code="missing_reading",
        unmet=[
            {
                "code": "missing_reading",
                "vital": "spo2",
                "overridable": False,
                "message": "No SpO2 measured in the 30 minutes before 09:40 (-05:00): take "
                "one and try again.",
            }
        ],
    ),
    412: _example(
        412,
        "precondition-failed",
        "The resource has changed",
        'If-Match "3" does not match the current version "4": read it again, then retry.',
    ),
    413: _example(
        413,
        "payload-too-large",
        "Payload too large",
        "The request body is larger than 2000000 bytes.",
    ),
    415: _example(
        415,
        "unsupported-media-type",
        "Unsupported media type",
        "Send the body as application/json (got text/plain).",
    ),
    422: _example(
        422,
        "validation",
        "Invalid request",
        "body.observations.0.measured_at: a timestamp needs an offset (Z or +hh:mm)",
        errors=[
            {
                "loc": ["body", "observations", 0, "measured_at"],
                "msg": "a timestamp needs an offset (Z or +hh:mm)",
            }
        ],
    ),
    503: _example(
        503,
        "service-unavailable",
        "Service unavailable",
        "The database is not reachable; try again shortly.",
    ),
}
OUTCOME_EXAMPLE = {
    "resourceType": "OperationOutcome",
    "issue": [
        {
            "severity": "error",
            "code": "value",
            "diagnostics": "valueQuantity.comparator '<': Vigil records measured values only",
            "expression": ["Observation.valueQuantity.comparator"],
        }
    ],
}
FHIR_SCHEMAS: dict[str, dict[str, Any]] = {
    "FhirResource": {
        "type": "object",
        "title": "FhirResource",
        "description": "A FHIR R4 resource in JSON (http://hl7.org/fhir/R4/json.html).",
        "required": ["resourceType"],
        "properties": {"resourceType": {"type": "string"}},
        "additionalProperties": True,
    },
    "OperationOutcome": {
        "type": "object",
        "title": "OperationOutcome",
        "description": "FHIR R4 OperationOutcome: every error under /fhir.",
        "required": ["resourceType", "issue"],
        "properties": {
            "resourceType": {"type": "string", "enum": ["OperationOutcome"]},
            "issue": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["severity", "code"],
                    "properties": {
                        "severity": {"type": "string"},
                        "code": {"type": "string"},
                        "diagnostics": {"type": "string"},
                        "expression": {"type": "array", "items": {"type": "string"}},
                    },
                    "additionalProperties": True,
                },
            },
        },
        "additionalProperties": True,
    },
}


_DESCRIPTIONS = {
    400: "Malformed request (e.g. invalid JSON)",
    401: "Missing or invalid credentials",
    403: "Not allowed for your role",
    404: "Unknown id",
    409: "Conflict with the current state",
    412: "If-Match does not match the current ETag",
    413: "Request body too large",
    415: "Unsupported content type",
    422: "Validation failed; `errors` lists each problem",
    503: "Database unavailable or not migrated",
}


def problems(*codes: int) -> dict[int | str, dict[str, Any]]:
    """Error responses of a route; :func:`document_errors` moves them under their real media
    type (problem+json) with the Problem schema and an example each."""
    return {
        code: {
            "model": Problem,
            "description": _DESCRIPTIONS[code],
            "content": {PROBLEM_JSON: {}},
        }
        for code in codes
    }


# Every /v1 route can answer these.
PROBLEMS = problems(400, 401, 403, 413, 415, 422, 503)


PUBLIC_OPERATIONS = frozenset(
    {
        ("GET", "/healthz"),
        ("GET", "/readyz"),
        ("POST", "/v1/auth/token"),
        ("GET", "/fhir/R4/metadata"),
    }
)
SECURITY_SCHEMES = {
    "staffLogin": {
        "type": "oauth2",
        "description": "Staff: log in with username and password (POST /v1/auth/token).",
        "flows": {"password": {"tokenUrl": "/v1/auth/token", "scopes": {}}},
    },
    "integrationKey": {
        "type": "http",
        "scheme": "bearer",
        "description": "Integration clients: `Authorization: Bearer <API key>`.",
    },
}


def with_security(schema: dict[str, Any]) -> dict[str, Any]:
    """Declare how to authenticate, and that every operation but the public ones needs it."""
    schema.setdefault("components", {})["securitySchemes"] = SECURITY_SCHEMES
    for path, item in schema.get("paths", {}).items():
        for method, operation in item.items():
            if (method.upper(), path) not in PUBLIC_OPERATIONS:
                operation["security"] = [{"staffLogin": []}, {"integrationKey": []}]
    return schema


_METHODS = frozenset({"get", "put", "post", "patch", "delete"})
_PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
_OUTCOME_REF = {"$ref": "#/components/schemas/OperationOutcome"}
_FHIR_DESCRIPTIONS = {
    400: "OperationOutcome: malformed",
    401: "OperationOutcome: no credentials",
    403: "OperationOutcome: not allowed for your role",
    404: "OperationOutcome: unknown id or path",
    409: "OperationOutcome: conflicts with the record",
    413: "OperationOutcome: request body too large",
    415: "OperationOutcome: unsupported content type",
    422: "OperationOutcome: not processable",
    503: "OperationOutcome: database unavailable",
}
#: Request bodies whose schema is not a model with its own examples.
_BODY_EXAMPLES: dict[str, Any] = {
    "/v1/auth/token": {
        "grant_type": "password",
        "username": "nurse.kim",
        "password": "correct horse battery staple",
    },
    "/v1/integrations/hl7v2": (
        "MSH|^~\\&|MONITOR|CLINIC|VIGIL|CLINIC|20261201140200+0000||ORU^R01^ORU_R01|MSG00001|P|2.6"
        "\rPID|||MRN-10023||Ruiz^Ana\rOBR|1|||182777000^monitoring of patient^SCT|||"
        "20261201140200+0000\rOBX|1|NM|150456^MDC_PULS_OXIM_SAT_O2^MDC||97|262688^MDC_DIM_PERCENT"
        "^MDC|||||F|||20261201140200+0000"
    ),
}


def _is_fhir(path: str) -> bool:
    return path.startswith("/fhir/")


def _error_codes(path: str, method: str, operation: dict[str, Any], secured: bool) -> set[int]:
    """The statuses this operation can answer besides its own: credentials and role when it is
    secured, 404 for ids in the path, 400/413/415/422 for a body, 422 for query parameters,
    503 for the database."""
    codes = {503}
    if secured:
        codes |= {401, 403}
    parameters = operation.get("parameters", [])
    if any(p.get("in") == "path" for p in parameters):
        codes.add(404)
    if any(p.get("in") == "query" for p in parameters):
        codes.add(422 if not _is_fhir(path) else 400)
    if "requestBody" in operation:
        codes |= {400, 413, 415, 422}
    return codes


def _problem_response(code: int, description: str | None) -> dict[str, Any]:
    example = PROBLEM_EXAMPLES.get(code) or _example(code, "error", "Error", "See detail.")
    return {
        "description": description or _DESCRIPTIONS.get(code, "Error"),
        "content": {PROBLEM_JSON: {"schema": dict(_PROBLEM_REF), "example": example}},
    }


def _outcome_response(code: int) -> dict[str, Any]:
    return {
        "description": _FHIR_DESCRIPTIONS.get(code, "OperationOutcome"),
        "content": {FHIR_JSON: {"schema": dict(_OUTCOME_REF), "example": OUTCOME_EXAMPLE}},
    }


def _body_examples(path: str, operation: dict[str, Any], schemas: dict[str, Any]) -> None:
    """Every request body media type gets an ``example``: the model's first example, or one
    of :data:`_BODY_EXAMPLES`."""
    for media in operation.get("requestBody", {}).get("content", {}).values():
        if "example" in media or "examples" in media:
            continue
        ref = str(media.get("schema", {}).get("$ref", ""))
        model = schemas.get(ref.rsplit("/", 1)[-1], {})
        if model.get("examples"):
            media["example"] = copy.deepcopy(model["examples"][0])
        elif path in _BODY_EXAMPLES:
            media["example"] = _BODY_EXAMPLES[path]


def _plain_ids(node: Any) -> None:
    """Ids are opaque strings (SPEC §1): no ``format: uuid``, so a generated client keeps the
    id it received as the same string type it sends back."""
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if item.get("format") == "uuid" and item.get("type") == "string":
                del item["format"]
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def document_errors(schema: dict[str, Any]) -> dict[str, Any]:
    """Declare every error where it is sent: ``application/problem+json`` with the Problem
    schema and an example per status (``application/fhir+json`` OperationOutcome under
    /fhir); an example for every request body; ids as plain strings."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.update(copy.deepcopy(FHIR_SCHEMAS))
    for path, item in schema.get("paths", {}).items():
        for method, operation in item.items():
            if method not in _METHODS:
                continue
            secured = (method.upper(), path) not in PUBLIC_OPERATIONS
            responses = operation.setdefault("responses", {})
            codes = {int(c) for c in responses if c[:1] in "45"}
            codes |= _error_codes(path, method, operation, secured)
            for code in sorted(codes):
                if _is_fhir(path):
                    responses[str(code)] = _outcome_response(code)
                else:
                    given = responses.get(str(code), {})
                    description = given.get("description")
                    if description in (None, "Validation Error"):
                        description = None
                    responses[str(code)] = _problem_response(code, description)
            _body_examples(path, operation, components)
    for unused in ("HTTPValidationError", "ValidationError"):
        components.pop(unused, None)
    _plain_ids(schema)
    return schema
