"""Devices and bindings: one open binding per device, enforced by the database."""

from __future__ import annotations

import uuid

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.exc import IntegrityError

from models import DeviceBinding
from tests.factories import ago, transition
from tests.integrations.helpers import bind, checked_in_session, eui64, new_device


async def test_admin_registers_devices_and_eui64s_are_normalized(
    admin_client: httpx.AsyncClient, nurse_client: httpx.AsyncClient
) -> None:
    raw = eui64()
    spelled = "-".join(raw[i : i + 2] for i in range(0, 16, 2)).lower()
    device = await new_device(admin_client, spelled)
    assert device["identifier"] == raw
    r = await admin_client.post("/v1/devices", json={"identifier": raw})
    assert r.status_code == 409
    assert r.headers["content-type"].startswith("application/problem+json")
    r = await nurse_client.post("/v1/devices", json={"identifier": eui64()})
    assert r.status_code == 403
    r = await nurse_client.get("/v1/devices", params={"limit": 500})
    assert r.status_code == 200
    assert raw in {d["identifier"] for d in r.json()["items"]}


async def test_device_list_is_keyset_paginated(admin_client: httpx.AsyncClient) -> None:
    for _ in range(3):
        await new_device(admin_client)
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await admin_client.get("/v1/devices", params=params)).json()
        seen += [d["id"] for d in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) >= 3


async def test_a_device_has_one_open_binding(
    client: httpx.AsyncClient, nurse_client: httpx.AsyncClient, admin_client: httpx.AsyncClient
) -> None:
    first = await checked_in_session(client)
    second = await checked_in_session(client)
    device = await new_device(admin_client)
    binding = await bind(nurse_client, first["id"], device["id"])
    assert binding["active"] is True
    assert binding["device_identifier"] == device["identifier"]

    r = await nurse_client.post(
        f"/v1/sessions/{second['id']}/devices", json={"device_id": device["id"]}
    )
    assert r.status_code == 409
    assert r.json()["session_id"] == first["id"]

    r = await nurse_client.post(
        f"/v1/sessions/{first['id']}/devices/{binding['id']}/release",
        json={"reason": "swapped"},
    )
    assert r.status_code == 200, r.text
    assert r.json()["active"] is False
    assert r.json()["release_reason"] == "swapped"
    again = await nurse_client.post(
        f"/v1/sessions/{first['id']}/devices/{binding['id']}/release", json={}
    )
    assert again.status_code == 409

    await bind(nurse_client, second["id"], device["id"])
    devices = (await nurse_client.get("/v1/devices", params={"limit": 500})).json()["items"]
    assert next(d for d in devices if d["id"] == device["id"])["bound_session_id"] == second["id"]
    listed = (await nurse_client.get(f"/v1/sessions/{first['id']}/devices")).json()
    assert [b["id"] for b in listed] == [binding["id"]]


async def test_the_binding_closes_when_the_session_ends(
    client: httpx.AsyncClient, nurse_client: httpx.AsyncClient, admin_client: httpx.AsyncClient
) -> None:
    session = await checked_in_session(client)
    device = await new_device(admin_client)
    await bind(nurse_client, session["id"], device["id"])
    r = await transition(client, session["id"], "cancelled", reason="patient unwell", at=ago(1))
    assert r.status_code == 200, r.text
    listed = (await nurse_client.get(f"/v1/sessions/{session['id']}/devices")).json()
    assert listed[0]["active"] is False
    assert listed[0]["released_at"] is not None
    other = await checked_in_session(client)
    await bind(nurse_client, other["id"], device["id"])  # free again
    r = await nurse_client.post(
        f"/v1/sessions/{session['id']}/devices", json={"device_id": device["id"]}
    )
    assert r.status_code == 409  # an ended session takes no device


async def test_unknown_ids_are_404(
    nurse_client: httpx.AsyncClient, client: httpx.AsyncClient
) -> None:
    session = await checked_in_session(client)
    r = await nurse_client.post(
        f"/v1/sessions/{session['id']}/devices", json={"device_id": str(uuid.uuid4())}
    )
    assert r.status_code == 404
    r = await nurse_client.post(
        f"/v1/sessions/{session['id']}/devices/{uuid.uuid4()}/release", json={}
    )
    assert r.status_code == 404
    r = await nurse_client.get(f"/v1/sessions/{uuid.uuid4()}/devices")
    assert r.status_code == 404


async def test_the_database_refuses_a_second_open_binding(
    app: FastAPI, client: httpx.AsyncClient, admin_client: httpx.AsyncClient
) -> None:
    """The rule holds even for writers that skip the service (partial unique index)."""
    first = await checked_in_session(client)
    second = await checked_in_session(client)
    device = await new_device(admin_client)
    async with app.state.session_factory() as db:
        db.add(DeviceBinding(device_id=uuid.UUID(device["id"]), session_id=uuid.UUID(first["id"])))
        await db.flush()
        db.add(DeviceBinding(device_id=uuid.UUID(device["id"]), session_id=uuid.UUID(second["id"])))
        with pytest.raises(IntegrityError):
            await db.flush()
        await db.rollback()
