"""The audit trail records who touched which patient's data, including refused attempts."""

from __future__ import annotations

import logging
import uuid

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from tests.conftest import Backend, Staff
from tests.factories import create_patient


async def _events(admin: httpx.AsyncClient, **params: str) -> list[dict[str, object]]:
    r = await admin.get("/v1/audit-events", params={"limit": 200, **params})
    assert r.status_code == 200
    return list(r.json()["items"])


async def test_writes_and_reads_are_audited_with_actor_and_request_id(
    nurse_client: httpx.AsyncClient, admin_client: httpx.AsyncClient, staff: Staff
) -> None:
    r = await nurse_client.post(
        "/v1/patients",
        json={
            "mrn": f"AUD-{uuid.uuid4().hex[:8]}",
            "given_name": "Eva",
            "family_name": "Audit",
            "birth_date": "1970-01-01",
            "sex": "female",
        },
        headers={"X-Request-ID": "req-audit-1"},
    )
    assert r.status_code == 201
    assert r.headers["x-request-id"] == "req-audit-1"
    pid = r.json()["id"]
    await nurse_client.get(f"/v1/patients/{pid}")
    events = await _events(admin_client, patient_id=pid)
    actions = sorted(e["action"] for e in events)
    assert actions == ["create", "read"]
    create = next(e for e in events if e["action"] == "create")
    assert create["actor_id"] == staff.ids["nurse"]
    assert create["role"] == "nurse"
    assert create["resource_type"] == "patient"
    assert create["resource_id"] == pid
    assert create["request_id"] == "req-audit-1"
    assert create["outcome"] == "success"
    assert create["client_address"]


async def test_denied_and_failed_attempts_are_audited(
    integration_client: httpx.AsyncClient,
    admin_client: httpx.AsyncClient,
    client: httpx.AsyncClient,
    staff: Staff,
) -> None:
    assert (await integration_client.get("/v1/patients")).status_code == 403
    events = await _events(admin_client, actor_id=staff.integration_client_id)
    assert any(e["outcome"] == "denied" and e["resource_type"] == "/v1/patients" for e in events)
    missing = str(uuid.uuid4())
    assert (await client.get(f"/v1/patients/{missing}")).status_code == 404
    events = await _events(admin_client, actor_id=staff.ids["clinician"])
    assert any(e["outcome"] == "not_found" for e in events)


async def test_no_patient_data_in_logs(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="vigil")
    marker = f"Zyx{uuid.uuid4().hex[:8]}"
    patient = await create_patient(client, family_name=marker, mrn=f"M-{marker}")
    await client.get("/v1/patients", params={"q": marker})
    await client.get(f"/v1/patients/{patient['id']}")
    assert marker not in caplog.text


async def test_audit_rows_cannot_be_changed_on_postgres(backend: Backend, app: object) -> None:
    """Not even by the owner, whose rights the app does not have (test_audit_chain.py): the
    append-only trigger refuses it."""
    if not backend.is_postgres:
        pytest.skip("the append-only trigger is PostgreSQL's")
    from api.db import create_engine
    from tests.conftest import make_settings

    engine = create_engine(make_settings(backend.owner_url))
    try:
        for statement in ("UPDATE audit_events SET outcome = 'x'", "DELETE FROM audit_events"):
            with pytest.raises(DBAPIError, match="append-only"):
                async with engine.begin() as conn:
                    await conn.execute(text(statement))
    finally:
        await engine.dispose()


async def test_database_errors_do_not_carry_patient_values(app: object) -> None:
    """An unexpected database error is logged; its message must not include bound values."""
    from sqlalchemy.exc import IntegrityError

    engine = app.state.engine  # type: ignore[attr-defined]
    marker = f"Secret{uuid.uuid4().hex[:8]}"
    statement = text(
        "INSERT INTO patients (id, mrn, given_name, family_name, birth_date, sex, version, "
        "created_at, updated_at) VALUES (:id, :mrn, :name, :name, '1980-01-01', 'nobody', 1, "
        "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
    )
    with pytest.raises(IntegrityError) as caught:
        async with engine.begin() as conn:
            await conn.execute(
                statement, {"id": str(uuid.uuid4()).replace("-", ""), "mrn": marker, "name": marker}
            )
    assert marker not in str(caught.value)
