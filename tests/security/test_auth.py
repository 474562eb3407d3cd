"""Login, tokens, lock-out, disabled users, API keys."""

from __future__ import annotations

import uuid

import httpx
import pytest
from fastapi import FastAPI

from api.config import Settings
from api.main import create_app
from api.security.tokens import issue_token
from tests.conftest import STAFF_PASSWORD, Staff, _client, create_staff, login


async def test_login_issues_a_bearer_token(anon_client: httpx.AsyncClient, staff: Staff) -> None:
    r = await login(anon_client, "admin", "admin-password-for-tests")
    assert r.status_code == 200
    body = r.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] > 0
    me = await anon_client.get(
        "/v1/users/me", headers={"Authorization": f"Bearer {body['access_token']}"}
    )
    assert me.json()["username"] == "admin"


async def test_wrong_password_and_unknown_user_look_the_same(
    anon_client: httpx.AsyncClient, admin_client: httpx.AsyncClient
) -> None:
    _, _ = await create_staff(admin_client, "nurse", username=f"n-{uuid.uuid4().hex[:6]}")
    wrong = await login(anon_client, "admin", "not-the-password")
    unknown = await login(anon_client, f"ghost-{uuid.uuid4().hex[:6]}", "whatever-password")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json()["detail"] == unknown.json()["detail"]
    assert wrong.headers["content-type"].startswith("application/problem+json")


async def test_repeated_failures_lock_the_account_and_are_audited(
    anon_client: httpx.AsyncClient, admin_client: httpx.AsyncClient
) -> None:
    username = f"lock-{uuid.uuid4().hex[:6]}"
    user_id, _ = await create_staff(admin_client, "nurse", username=username)
    for _ in range(5):
        assert (await login(anon_client, username, "wrong-password-xx")).status_code == 401
    # Locked now: even the right password is refused for a while.
    assert (await login(anon_client, username, STAFF_PASSWORD)).status_code == 401
    events = (
        await admin_client.get("/v1/audit-events", params={"actor_id": user_id, "limit": 50})
    ).json()["items"]
    failures = [e for e in events if e["action"] == "login" and e["outcome"] == "failure"]
    assert len(failures) == 6  # five wrong passwords, then the right one while locked
    assert [e["detail"] for e in failures][:2] == [
        "locked",
        "wrong password; locked from this address",
    ]


async def test_grant_type_must_be_password(anon_client: httpx.AsyncClient) -> None:
    r = await anon_client.post(
        "/v1/auth/token",
        data={"grant_type": "client_credentials", "username": "admin", "password": "x"},
    )
    assert r.status_code == 422


async def test_login_with_json_is_415(anon_client: httpx.AsyncClient) -> None:
    r = await anon_client.post("/v1/auth/token", json={"username": "admin", "password": "x"})
    assert r.status_code == 415


@pytest.mark.parametrize(
    "header",
    ["Bearer not-a-jwt", "Bearer eyJhbGciOiJIUzI1NiJ9.e30.x", "Basic YWRtaW46eA==", "Bearer "],
)
async def test_malformed_credentials_are_401(anon_client: httpx.AsyncClient, header: str) -> None:
    r = await anon_client.get("/v1/patients", headers={"Authorization": header})
    assert r.status_code == 401
    assert r.json()["title"] == "Authentication required"


async def test_tampered_and_expired_tokens_are_401(
    anon_client: httpx.AsyncClient, staff: Staff, app: FastAPI
) -> None:
    token = staff.tokens["nurse"]
    head, payload, signature = token.split(".")
    tampered = f"{head}.{payload}.{signature[:-2]}{'AA' if signature[-2:] != 'AA' else 'BB'}"
    r = await anon_client.get("/v1/patients", headers={"Authorization": f"Bearer {tampered}"})
    assert r.status_code == 401
    expired = issue_token(
        user_id=uuid.UUID(staff.ids["nurse"]),
        role="nurse",
        secret=app.state.secret_key,
        ttl_minutes=-1,
    )
    r = await anon_client.get("/v1/patients", headers={"Authorization": f"Bearer {expired}"})
    assert r.status_code == 401
    forged = issue_token(
        user_id=uuid.UUID(staff.ids["nurse"]),
        role="nurse",
        secret="another-secret-key-of-enough-length-000",
        ttl_minutes=5,
    )
    r = await anon_client.get("/v1/patients", headers={"Authorization": f"Bearer {forged}"})
    assert r.status_code == 401


async def test_disabled_user_cannot_log_in_and_token_stops_working(
    app: FastAPI, admin_client: httpx.AsyncClient, anon_client: httpx.AsyncClient
) -> None:
    username = f"leaver-{uuid.uuid4().hex[:6]}"
    user_id, token = await create_staff(admin_client, "nurse", username=username)
    async with _client(app, token) as nurse:
        assert (await nurse.get("/v1/patients")).status_code == 200
        assert (await admin_client.post(f"/v1/users/{user_id}/disable")).status_code == 200
        assert (await nurse.get("/v1/patients")).status_code == 401
    assert (await login(anon_client, username, STAFF_PASSWORD)).status_code == 401


async def test_api_key_is_shown_once_stored_hashed_and_revocable(
    app: FastAPI, admin_client: httpx.AsyncClient
) -> None:
    r = await admin_client.post("/v1/integration-clients", json={"name": "gateway x"})
    assert r.status_code == 201
    key, client_id = r.json()["api_key"], r.json()["id"]
    assert len(key) >= 32
    listed = (await admin_client.get("/v1/integration-clients")).json()
    assert all("api_key" not in c for c in listed)
    assert key not in str(listed)
    async with _client(app, key) as gateway:
        assert (await gateway.get("/v1/patients")).status_code == 403
        assert (
            await admin_client.post(f"/v1/integration-clients/{client_id}/revoke")
        ).status_code == 200
        assert (await gateway.get("/v1/patients")).status_code == 401


async def test_nurse_cannot_manage_users(nurse_client: httpx.AsyncClient) -> None:
    r = await nurse_client.post(
        "/v1/users",
        json={
            "username": "sneaky",
            "password": "long-enough-password",
            "role": "admin",
            "display_name": "x",
        },
    )
    assert r.status_code == 403


async def test_short_password_is_rejected(admin_client: httpx.AsyncClient) -> None:
    r = await admin_client.post(
        "/v1/users",
        json={"username": "shorty", "password": "short", "role": "nurse", "display_name": "x"},
    )
    assert r.status_code == 422
    assert r.json()["errors"][0]["loc"] == ["body", "password"]


def test_production_refuses_a_placeholder_secret() -> None:
    settings = Settings(
        environment="production", secret_key="changeme", database_url="sqlite+aiosqlite:///:memory:"
    )
    with pytest.raises(RuntimeError, match="VIGIL_SECRET_KEY"):
        create_app(settings)
