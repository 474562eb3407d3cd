"""Every route in the OpenAPI schema × every role: allowed exactly as the policy table says;
and every route except the public ones answers 401 without credentials."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from api.security.policy import POLICY, allowed_roles
from tests.conftest import Staff

PUBLIC = {
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("POST", "/v1/auth/token"),
    ("GET", "/fhir/R4/metadata"),
}
# Would end the shared test tokens: tests/security/test_accounts.py checks its roles.
LOGOUT = ("POST", "/v1/auth/logout")
ROLES = ("admin", "clinician", "nurse", "integration")


def _operations(app: FastAPI) -> list[tuple[str, str]]:
    ops = []
    for path, item in app.openapi()["paths"].items():
        for method in item:
            ops.append((method.upper(), path))
    return sorted(ops)


def _concrete(path: str) -> str:
    out = path
    while "{" in out:
        start, end = out.index("{"), out.index("}")
        name = out[start + 1 : end]
        out = out[:start] + ("1" if name == "n" else str(uuid.uuid4())) + out[end + 1 :]
    return out


async def _call(client: httpx.AsyncClient, method: str, path: str) -> httpx.Response:
    kwargs: dict[str, Any] = {}
    if method in ("POST", "PATCH", "PUT"):
        kwargs["json"] = {}
    if path.endswith("/hl7v2"):  # an HL7 v2 message, not JSON
        kwargs = {"content": b"MSH|", "headers": {"content-type": "application/hl7-v2"}}
    if path.endswith("/_search"):  # FHIR search parameters, form-encoded
        kwargs = {"data": {"patient": str(uuid.uuid4())}}
    if path.endswith("/events"):
        kwargs["params"] = {"max_seconds": 0}  # a live stream: catch up, then end
    return await client.request(method, _concrete(path), **kwargs)


def _error_type(path: str) -> str:
    """FHIR routes answer errors as OperationOutcome, everything else as problem+json."""
    return "application/fhir+json" if path.startswith("/fhir/") else "application/problem+json"


def _token(staff: Staff, role: str) -> str:
    return staff.api_key if role == "integration" else staff.tokens[role]


async def test_every_route_is_in_the_policy_table(app: FastAPI) -> None:
    missing = [op for op in _operations(app) if op not in PUBLIC and op not in POLICY]
    assert missing == []
    stale = [op for op in POLICY if op not in set(_operations(app))]
    assert stale == []


async def test_role_route_matrix(app: FastAPI, staff: Staff) -> None:
    failures = []
    transport = httpx.ASGITransport(app=app)
    for role in ROLES:
        headers = {"Authorization": f"Bearer {_token(staff, role)}"}
        async with httpx.AsyncClient(
            transport=transport, base_url="http://t", headers=headers
        ) as c:
            for method, path in _operations(app):
                if (method, path) in PUBLIC or (method, path) == LOGOUT:
                    continue
                r = await _call(c, method, path)
                allowed = role in allowed_roles(method, path)
                if allowed and r.status_code in (401, 403):
                    failures.append(f"{role} {method} {path}: {r.status_code} but allowed")
                if not allowed and r.status_code != 403:
                    failures.append(f"{role} {method} {path}: {r.status_code}, expected 403")
                if r.status_code == 403:
                    assert r.headers["content-type"].startswith(_error_type(path))
    assert failures == []


async def test_every_non_public_route_needs_credentials(
    anon_client: httpx.AsyncClient, app: FastAPI
) -> None:
    wrong = []
    for method, path in _operations(app):
        if (method, path) in PUBLIC:
            continue
        r = await _call(anon_client, method, path)
        if r.status_code != 401:
            wrong.append(f"{method} {path}: {r.status_code}")
        else:
            assert r.headers["www-authenticate"] == "Bearer"
            if path.startswith("/fhir/"):
                assert r.json()["resourceType"] == "OperationOutcome"
            else:
                assert r.json()["status"] == 401
    assert wrong == []


@pytest.mark.parametrize(
    "path", ["/healthz", "/readyz", "/docs", "/openapi.json", "/fhir/R4/metadata"]
)
async def test_public_routes_answer_without_credentials(
    anon_client: httpx.AsyncClient, path: str
) -> None:
    r = await anon_client.get(path)
    assert r.status_code == 200


async def test_openapi_declares_how_to_authenticate(app: FastAPI) -> None:
    spec = app.openapi()
    assert set(spec["components"]["securitySchemes"]) == {"staffLogin", "integrationKey"}
    flows = spec["components"]["securitySchemes"]["staffLogin"]["flows"]
    assert flows["password"]["tokenUrl"] == "/v1/auth/token"
    for method, path in _operations(app):
        operation = spec["paths"][path][method.lower()]
        if (method, path) in PUBLIC:
            assert "security" not in operation
        else:
            assert operation["security"], f"{method} {path}"
