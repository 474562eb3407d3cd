"""Problem+json response documentation shared by every router."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class FieldError(BaseModel):
    loc: list[str | int]
    msg: str


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str
    title: str
    status: int
    detail: str
    errors: list[FieldError] | None = None
    allowed: list[str] | None = None
    unmet: list[dict[str, Any]] | None = None


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
    return {
        code: {
            "model": Problem,
            "description": _DESCRIPTIONS[code],
            "content": {"application/problem+json": {}},
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
