"""Accounts (SPEC §9): password rules, change and reset, logout, tokens ended by a password
change, reset, disable or role change (and not revived by enabling), lock-outs per account and
client address, admin unlock, user fields, the staff list, paginated user and client lists."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from fastapi import FastAPI

from api.security.passwords import password_problem
from tests.conftest import STAFF_PASSWORD, Staff, create_staff, login

NEW_PASSWORD = "quiet-harbour-lantern-77"


@asynccontextmanager
async def _from(
    app: FastAPI, address: str, token: str | None = None
) -> AsyncIterator[httpx.AsyncClient]:
    """A client whose TCP peer is ``address``."""
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx.AsyncClient(
        transport=transport, base_url="http://vigil.test", headers=headers
    ) as c:
        yield c


async def _me(app: FastAPI, token: str) -> int:
    async with _from(app, "127.0.0.1", token) as c:
        return (await c.get("/v1/users/me")).status_code


async def _user(admin: httpx.AsyncClient, user_id: str) -> dict[str, object]:
    cursor: str | None = None
    while True:
        page = (
            await admin.get(
                "/v1/users", params={"limit": 500, **({"cursor": cursor} if cursor else {})}
            )
        ).json()
        for user in page["items"]:
            if user["id"] == user_id:
                return dict(user)
        cursor = page["next_cursor"]
        assert cursor is not None, "no such user"


def _name() -> str:
    return f"acct-{uuid.uuid4().hex[:8]}"


@pytest.mark.parametrize(
    ("password", "username", "problem"),
    [
        ("short-pass", "kim", "at least 12"),
        ("Nurse.Kim.Lee", "nurse.kim.lee", "username"),
        ("PASSWORD1234", "kim", "commonly used"),
        ("qwertyuiopasdfgh", "kim", "commonly used"),
        ("aaaaaaaaaaaaaaaa", "kim", "commonly used"),
        ("passwordpassword", "kim", "commonly used"),
    ],
)
def test_password_rules(password: str, username: str, problem: str) -> None:
    found = password_problem(password, username)
    assert found is not None
    assert problem in found


def test_a_long_uncommon_password_is_fine() -> None:
    assert password_problem(NEW_PASSWORD, "kim") is None


async def test_creating_a_user_applies_the_password_rules(admin_client: httpx.AsyncClient) -> None:
    name = _name()
    for password in (name, "password12345", "123456789012"):
        r = await admin_client.post(
            "/v1/users",
            json={"username": name, "password": password, "role": "nurse", "display_name": "X"},
        )
        assert r.status_code == 422, (password, r.text)
        assert r.json()["errors"][0]["loc"] == ["body", "password"]


async def test_change_own_password_ends_every_older_token(
    app: FastAPI, admin_client: httpx.AsyncClient
) -> None:
    name = _name()
    _, first = await create_staff(admin_client, "nurse", username=name)
    async with _from(app, "127.0.0.1") as anon:
        second = (await login(anon, name, STAFF_PASSWORD)).json()["access_token"]
    async with _from(app, "127.0.0.1", first) as c:
        wrong = await c.post(
            "/v1/users/me/password", json={"current": "not-it-at-all-x", "new": NEW_PASSWORD}
        )
        assert wrong.status_code == 403
        weak = await c.post(
            "/v1/users/me/password", json={"current": STAFF_PASSWORD, "new": "password1234"}
        )
        assert weak.status_code == 422
        assert weak.json()["errors"][0]["loc"] == ["body", "new"]
        assert await _me(app, first) == 200  # refused changes end nothing
        r = await c.post(
            "/v1/users/me/password", json={"current": STAFF_PASSWORD, "new": NEW_PASSWORD}
        )
        assert r.status_code == 200, r.text
        fresh = r.json()["access_token"]
    assert await _me(app, first) == 401
    assert await _me(app, second) == 401
    assert await _me(app, fresh) == 200
    async with _from(app, "127.0.0.1") as anon:
        assert (await login(anon, name, STAFF_PASSWORD)).status_code == 401
        assert (await login(anon, name, NEW_PASSWORD)).status_code == 200


async def test_admin_reset_ends_tokens_and_the_new_password_works(
    app: FastAPI, admin_client: httpx.AsyncClient
) -> None:
    name = _name()
    user_id, token = await create_staff(admin_client, "clinician", username=name)
    r = await admin_client.post(f"/v1/users/{user_id}/password", json={"password": name})
    assert r.status_code == 422  # the username
    assert await _me(app, token) == 200
    r = await admin_client.post(f"/v1/users/{user_id}/password", json={"password": NEW_PASSWORD})
    assert r.status_code == 200, r.text
    assert await _me(app, token) == 401
    async with _from(app, "127.0.0.1") as anon:
        assert (await login(anon, name, NEW_PASSWORD)).status_code == 200


async def test_enabling_again_does_not_revive_old_tokens(
    app: FastAPI, admin_client: httpx.AsyncClient
) -> None:
    name = _name()
    user_id, token = await create_staff(admin_client, "nurse", username=name)
    assert (await admin_client.post(f"/v1/users/{user_id}/disable")).status_code == 200
    assert await _me(app, token) == 401
    assert (await admin_client.post(f"/v1/users/{user_id}/enable")).status_code == 200
    assert await _me(app, token) == 401
    async with _from(app, "127.0.0.1") as anon:
        fresh = (await login(anon, name, STAFF_PASSWORD)).json()["access_token"]
    assert await _me(app, fresh) == 200


async def test_a_role_change_ends_tokens_and_patch_changes_the_fields(
    app: FastAPI, admin_client: httpx.AsyncClient, staff: Staff
) -> None:
    name = _name()
    user_id, token = await create_staff(admin_client, "nurse", username=name)
    r = await admin_client.patch(
        f"/v1/users/{user_id}",
        json={"display_name": "Kim Lee, RN", "phone": "+1 555 0100", "email": "kim@clinic.example"},
    )
    assert r.status_code == 200, r.text
    assert (r.json()["phone"], r.json()["email"]) == ("+1 555 0100", "kim@clinic.example")
    assert await _me(app, token) == 200  # not a role change
    bad = await admin_client.patch(f"/v1/users/{user_id}", json={"email": "not an email"})
    assert bad.status_code == 422
    r = await admin_client.patch(f"/v1/users/{user_id}", json={"role": "clinician"})
    assert r.status_code == 200
    assert r.json()["role"] == "clinician"
    assert await _me(app, token) == 401
    own = await admin_client.patch(f"/v1/users/{staff.ids['admin']}", json={"role": "nurse"})
    assert own.status_code == 409


async def test_logout_ends_only_the_token_it_is_called_with(
    app: FastAPI, admin_client: httpx.AsyncClient, integration_client: httpx.AsyncClient
) -> None:
    name = _name()
    _, first = await create_staff(admin_client, "nurse", username=name)
    async with _from(app, "127.0.0.1") as anon:
        second = (await login(anon, name, STAFF_PASSWORD)).json()["access_token"]
    async with _from(app, "127.0.0.1", first) as c:
        assert (await c.post("/v1/auth/logout")).status_code == 204
        assert (await c.post("/v1/auth/logout")).status_code == 401
    assert await _me(app, first) == 401
    assert await _me(app, second) == 200
    assert (await integration_client.post("/v1/auth/logout")).status_code == 403


async def test_a_lock_out_from_one_address_does_not_reach_another(
    app: FastAPI, admin_client: httpx.AsyncClient
) -> None:
    name = _name()
    user_id, _ = await create_staff(admin_client, "nurse", username=name)
    async with _from(app, "203.0.113.9") as attacker:
        for _ in range(5):
            assert (await login(attacker, name, "wrong-password-xx")).status_code == 401
        assert (await login(attacker, name, STAFF_PASSWORD)).status_code == 401  # locked there
    async with _from(app, "10.1.2.3") as workstation:
        assert (await login(workstation, name, STAFF_PASSWORD)).status_code == 200
    r = await admin_client.post(f"/v1/users/{user_id}/unlock")
    assert r.status_code == 200
    async with _from(app, "203.0.113.9") as attacker:
        assert (await login(attacker, name, STAFF_PASSWORD)).status_code == 200


async def test_an_account_wide_lock_spares_addresses_the_user_logged_in_from(
    app: FastAPI, admin_client: httpx.AsyncClient
) -> None:
    name = _name()
    user_id, _ = await create_staff(admin_client, "nurse", username=name)
    async with _from(app, "10.1.2.3") as workstation:  # the user's own place
        assert (await login(workstation, name, STAFF_PASSWORD)).status_code == 200
    # 50 failures spread over 25 addresses, 2 each: no single address is locked ...
    for i in range(25):
        async with _from(app, f"198.51.100.{i + 1}") as bot:
            for _ in range(2):
                assert (await login(bot, name, "wrong-password-xx")).status_code == 401
    # ... but the account is, for every address it never logged in from
    async with _from(app, "198.51.100.200") as new_place:
        assert (await login(new_place, name, STAFF_PASSWORD)).status_code == 401
    async with _from(app, "10.1.2.3") as workstation:
        assert (await login(workstation, name, STAFF_PASSWORD)).status_code == 200
    assert (await _user(admin_client, user_id))["locked_until"] is not None
    assert (await admin_client.post(f"/v1/users/{user_id}/unlock")).json()["locked_until"] is None
    async with _from(app, "198.51.100.200") as new_place:
        assert (await login(new_place, name, STAFF_PASSWORD)).status_code == 200


async def test_staff_list_for_clinical_staff(
    nurse_client: httpx.AsyncClient,
    client: httpx.AsyncClient,
    integration_client: httpx.AsyncClient,
    staff: Staff,
) -> None:
    r = await nurse_client.get("/v1/staff", params={"role": "clinician", "limit": 500})
    assert r.status_code == 200
    items = r.json()["items"]
    assert {i["role"] for i in items} == {"clinician"}
    mine = next(i for i in items if i["id"] == staff.ids["clinician"])
    assert set(mine) == {"id", "username", "display_name", "role", "active"}
    assert mine["active"] is True
    assert (await client.get("/v1/staff", params={"role": "boss"})).status_code == 422
    assert (await integration_client.get("/v1/staff")).status_code == 403
    assert (await nurse_client.get("/v1/users")).status_code == 403


async def test_user_and_client_lists_are_pages(admin_client: httpx.AsyncClient) -> None:
    for _ in range(3):
        await create_staff(admin_client, "nurse")
        assert (
            await admin_client.post("/v1/integration-clients", json={"name": "gateway"})
        ).status_code == 201
    for path in ("/v1/users", "/v1/integration-clients"):
        seen: list[str] = []
        cursor: str | None = None
        while True:
            params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
            r = await admin_client.get(path, params=params)
            assert r.status_code == 200, r.text
            page = r.json()
            assert len(page["items"]) <= 2
            seen += [i["id"] for i in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert len(seen) == len(set(seen)) >= 4
        assert all("api_key" not in i and "key_hash" not in i for i in page["items"])
        assert (await admin_client.get(path, params={"limit": 0})).status_code == 422
        assert (await admin_client.get(path, params={"cursor": "nonsense"})).status_code == 422
