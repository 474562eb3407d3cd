"""Every refused attempt leaves an audit row, on every route (SPEC §9): the route template
(however long), the id the path names as ``resource_id`` and, where that is a patient's
record, the patient as ``patient_id``. Reading the audit trail is audited too."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from api.security.policy import allowed_roles
from models import AuditEvent
from tests.conftest import Staff
from tests.factories import create_patient, create_plan, create_session

PUBLIC = {("GET", "/healthz"), ("GET", "/readyz"), ("POST", "/v1/auth/token")}
ROLES = ("integration", "nurse", "admin", "clinician")


def _operations(app: FastAPI) -> list[tuple[str, str]]:
    return sorted(
        (method.upper(), path)
        for path, item in app.openapi()["paths"].items()
        for method in item
        if (method.upper(), path) not in PUBLIC
    )


def _fill(path: str, ids: dict[str, str]) -> tuple[str, str | None]:
    """A concrete path and the id its last ``..._id`` parameter names."""
    out, last = path, None
    while "{" in out:
        start, end = out.index("{"), out.index("}")
        name = out[start + 1 : end]
        value = "1" if name == "n" else ids.get(name, str(uuid.uuid4()))
        if name.endswith("_id"):
            last = value
        out = out[:start] + value + out[end + 1 :]
    return out, last


def _body(method: str, path: str) -> dict[str, Any]:
    if path.endswith("/hl7v2"):
        return {"content": b"MSH|", "headers": {"content-type": "application/hl7-v2"}}
    if path.endswith("/_search"):
        return {"data": {"code": "8867-4"}}  # FHIR search by POST is form-encoded
    kwargs: dict[str, Any] = {"json": {}} if method in ("POST", "PATCH", "PUT") else {}
    if path.endswith("/events"):
        kwargs["params"] = {"max_seconds": 0}
    return kwargs


async def _rows(app: FastAPI, request_id: str) -> list[Any]:
    async with app.state.engine.connect() as conn:
        result = await conn.execute(
            select(
                AuditEvent.resource_type,
                AuditEvent.resource_id,
                AuditEvent.patient_id,
                AuditEvent.outcome,
            ).where(AuditEvent.request_id == request_id)
        )
        return list(result.all())


async def test_every_refused_attempt_is_audited_with_the_record_it_names(
    app: FastAPI, staff: Staff, client: httpx.AsyncClient
) -> None:
    patient = await create_patient(client)
    plan = await create_plan(client, patient["id"])
    session = await create_session(client, plan=plan)
    ids = {"patient_id": patient["id"], "plan_id": plan["id"], "session_id": session["id"]}
    transport = httpx.ASGITransport(app=app)
    missing: list[str] = []
    checked = 0
    for method, template in _operations(app):
        if (method, template) == ("POST", "/v1/auth/logout"):
            continue  # would end the shared token; refused like the others (test_accounts)
        allowed = allowed_roles(method, template)
        refused = next((r for r in ROLES if r not in allowed), None)
        token = (
            None
            if refused is None
            else staff.api_key
            if refused == "integration"
            else staff.tokens[refused]
        )
        path, named = _fill(template, ids)
        request_id = f"walk-{uuid.uuid4().hex[:12]}"
        headers = {"X-Request-ID": request_id}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        kwargs = _body(method, template)
        kwargs["headers"] = {**kwargs.get("headers", {}), **headers}
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            r = await c.request(method, path, **kwargs)
        if r.status_code < 400:
            continue  # public after all (e.g. FHIR metadata): nothing was refused
        assert r.status_code == (403 if token else 401), (method, template, r.status_code)
        checked += 1
        rows = await _rows(app, request_id)
        want_patient = uuid.UUID(patient["id"]) if set(ids) & _params(template) else None
        if not any(
            row.resource_type == template
            and row.resource_id == named
            and row.patient_id == want_patient
            and row.outcome in ("denied", "unauthenticated")
            for row in rows
        ):
            missing.append(f"{method} {template}: {rows}")
    assert missing == []
    assert checked > 50


def _params(template: str) -> set[str]:
    return {part[1:-1] for part in template.split("/") if part.startswith("{")}


async def test_a_refused_dose_retraction_is_audited_with_its_patient(
    app: FastAPI, client: httpx.AsyncClient, integration_client: httpx.AsyncClient
) -> None:
    """The route template is 73 characters: it did not fit the column on PostgreSQL."""
    session = await create_session(client)
    wrong = str(uuid.uuid4())
    path = f"/v1/sessions/{session['id']}/administrations/{wrong}/retract"
    body = {"reason": "entered on the wrong patient"}
    for c, status, outcome in ((client, 404, "not_found"), (integration_client, 403, "denied")):
        request_id = f"retract-{uuid.uuid4().hex[:12]}"
        r = await c.post(path, json=body, headers={"X-Request-ID": request_id})
        assert r.status_code == status, r.text
        rows = await _rows(app, request_id)
        assert [(row.resource_id, str(row.patient_id), row.outcome) for row in rows] == [
            (wrong, session["patient_id"], outcome)
        ]


async def test_a_missing_session_is_audited_with_the_id_asked_for(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    wrong = str(uuid.uuid4())
    request_id = f"missing-{uuid.uuid4().hex[:12]}"
    r = await client.get(f"/v1/sessions/{wrong}/vitals", headers={"X-Request-ID": request_id})
    assert r.status_code == 404
    rows = await _rows(app, request_id)
    assert [(row.resource_id, row.patient_id, row.outcome) for row in rows] == [
        (wrong, None, "not_found")
    ]


async def test_reading_the_audit_trail_is_audited(
    app: FastAPI, admin_client: httpx.AsyncClient, client: httpx.AsyncClient, staff: Staff
) -> None:
    patient = await create_patient(client)
    request_id = f"trail-{uuid.uuid4().hex[:12]}"
    r = await admin_client.get(
        "/v1/audit-events",
        params={"patient_id": patient["id"]},
        headers={"X-Request-ID": request_id},
    )
    assert r.status_code == 200
    rows = await _rows(app, request_id)
    assert [(row.resource_type, str(row.patient_id), row.outcome) for row in rows] == [
        ("audit_event", patient["id"], "success")
    ]
