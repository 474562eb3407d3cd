"""Device push: per-item results, routing by binding, quarantine, retry-safe de-duplication."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select

from models import Observation
from tests.factories import ago, good_predose, now, post_vitals, prepare_dosing, transition, vital
from tests.integrations.helpers import bind, bound_session, checked_in_session, new_device


async def push(
    integration: httpx.AsyncClient, device: str, observations: list[Any]
) -> dict[str, Any]:
    r = await integration.post(
        "/v1/integrations/observations", json={"device": device, "observations": observations}
    )
    assert r.status_code == 200, r.text
    return dict(r.json())


async def quarantined(admin: httpx.AsyncClient, device: str) -> list[dict[str, Any]]:
    r = await admin.get("/v1/integrations/quarantine", params={"device": device, "limit": 500})
    assert r.status_code == 200, r.text
    return list(r.json()["items"])


async def test_readings_reach_the_bound_session(
    client: httpx.AsyncClient,
    nurse_client: httpx.AsyncClient,
    admin_client: httpx.AsyncClient,
    integration_client: httpx.AsyncClient,
) -> None:
    session, device = await bound_session(client, nurse_client, admin_client)
    body = await push(
        integration_client,
        device["identifier"].lower(),  # any spelling of the EUI-64
        [
            vital("heart_rate", 72, "/min", ago(5), external_id="m1:hr"),
            vital("systolic_bp", 16.5, "kPa", ago(5), external_id="m1:sys"),
            vital("diastolic_bp", 80, "mmHg", ago(5), external_id="m1:dia"),
        ],
    )
    assert (body["accepted"], body["duplicates"], body["rejected"]) == (3, 0, 0)
    assert {r["session_id"] for r in body["results"]} == {session["id"]}
    stored = (await client.get(f"/v1/sessions/{session['id']}/vitals")).json()["items"]
    by_code = {o["code"]: o for o in stored}
    assert by_code["systolic_bp"]["value"] == 123.76
    assert by_code["systolic_bp"]["original_unit"] == "kPa"
    assert by_code["heart_rate"]["source"].startswith("integration:")

    again = await push(
        integration_client,
        device["identifier"],
        [vital("heart_rate", 72, "/min", ago(5), external_id="m1:hr")],
    )
    assert again["results"][0]["status"] == "duplicate"
    assert again["results"][0]["observation_id"] == body["results"][0]["observation_id"]


async def test_bad_items_are_rejected_with_reasons_and_quarantined(
    client: httpx.AsyncClient,
    nurse_client: httpx.AsyncClient,
    admin_client: httpx.AsyncClient,
    integration_client: httpx.AsyncClient,
) -> None:
    session, device = await bound_session(client, nurse_client, admin_client)
    items: list[Any] = [
        vital("heart_rate", 70, "/min", ago(4)),  # fine
        "garbage",
        vital("glucose", 5.4, "mmol/L", ago(4)),  # unknown code
        vital("spo2", 97, "mm[Hg]", ago(4)),  # unit mismatch
        vital("heart_rate", 900, "/min", ago(4)),  # impossible
        {"code": "heart_rate", "value": 70, "unit": "/min", "measured_at": "2026-01-01T10:00:00"},
        vital("systolic_bp", 70, "mm[Hg]", ago(3)),  # systolic not above diastolic
        vital("diastolic_bp", 90, "mm[Hg]", ago(3)),
        vital("heart_rate", 70, "/min", ago(90)),  # before check-in
        vital("heart_rate", 70, "/min", ago(4), phase="intra"),  # contradicts the timeline
    ]
    body = await push(integration_client, device["identifier"], items)
    statuses = [(r["status"], r["reason"]) for r in body["results"]]
    assert statuses == [
        ("accepted", None),
        ("rejected", "invalid"),
        ("rejected", "unknown_code"),
        ("rejected", "unit_mismatch"),
        ("rejected", "invalid_value"),
        ("rejected", "invalid"),
        ("rejected", "invalid_bp_pair"),
        ("rejected", "invalid_bp_pair"),
        ("rejected", "before_check_in"),
        ("rejected", "phase_mismatch"),
    ]
    assert all(r["detail"] for r in body["results"][1:])
    kept = await quarantined(admin_client, device["identifier"])
    assert len(kept) == 9
    by_index = {q["item_index"]: q for q in kept}
    assert by_index[1]["raw"] == "garbage"
    assert by_index[3]["raw"] == items[3]
    assert by_index[3]["reason"] == "unit_mismatch"
    assert by_index[3]["channel"] == "observations"
    assert by_index[3]["source"].startswith("integration:")
    stored = (await client.get(f"/v1/sessions/{session['id']}/vitals")).json()["items"]
    assert len(stored) == 1


async def test_unknown_and_unbound_devices_and_readings_after_discharge(
    client: httpx.AsyncClient,
    nurse_client: httpx.AsyncClient,
    admin_client: httpx.AsyncClient,
    integration_client: httpx.AsyncClient,
) -> None:
    unknown = f"SN-{uuid.uuid4().hex[:8]}"
    body = await push(integration_client, unknown, [vital("heart_rate", 70, "/min", ago(1))])
    assert body["results"][0]["reason"] == "unknown_device"
    assert len(await quarantined(admin_client, unknown)) == 1

    idle = await new_device(admin_client)
    body = await push(integration_client, idle["identifier"], [vital("spo2", 97, "%", ago(1))])
    assert body["results"][0]["reason"] == "unbound_device"

    session = await checked_in_session(client, minutes_ago=120)
    device = await new_device(admin_client)
    await bind(nurse_client, session["id"], device["id"])
    sid = session["id"]
    assert (await post_vitals(client, sid, good_predose(ago(100)))).status_code == 201
    await prepare_dosing(client, sid, ago(95))
    assert (await transition(client, sid, "dosing", at=ago(95))).status_code == 200
    r = await transition(client, sid, "transferred", reason="to ED", at=ago(30))
    assert r.status_code == 200, r.text
    body = await push(
        integration_client,
        device["identifier"],
        [vital("heart_rate", 88, "/min", ago(40)), vital("heart_rate", 90, "/min", ago(10))],
    )
    late, after = body["results"]
    assert late["status"] == "accepted"  # measured before the end: still that session's
    assert late["session_id"] == sid
    assert after["status"] == "rejected"
    assert after["reason"] == "session_ended"
    assert "ended" in after["detail"]


async def test_a_released_device_routes_by_time(
    client: httpx.AsyncClient,
    nurse_client: httpx.AsyncClient,
    admin_client: httpx.AsyncClient,
    integration_client: httpx.AsyncClient,
) -> None:
    first = await checked_in_session(client, minutes_ago=50)
    device = await new_device(admin_client)
    binding = await bind(nurse_client, first["id"], device["id"])
    r = await nurse_client.post(
        f"/v1/sessions/{first['id']}/devices/{binding['id']}/release", json={}
    )
    assert r.status_code == 200
    second = await checked_in_session(client, minutes_ago=1)
    await bind(nurse_client, second["id"], device["id"])
    body = await push(
        integration_client,
        device["identifier"],
        [
            vital("heart_rate", 80, "/min", ago(20)),
            vital("heart_rate", 81, "/min", now() + timedelta(seconds=5)),  # after the release
        ],
    )
    assert [r["session_id"] for r in body["results"]] == [first["id"], second["id"]]


async def test_request_shape_errors_are_422(integration_client: httpx.AsyncClient) -> None:
    r = await integration_client.post("/v1/integrations/observations", json={"device": "x"})
    assert r.status_code == 422
    r = await integration_client.post(
        "/v1/integrations/observations",
        json={"device": "x", "observations": [{}] * 1001},
    )
    assert r.status_code == 422


async def test_an_integration_key_pushes_but_reads_no_patient_data(
    integration_client: httpx.AsyncClient, client: httpx.AsyncClient
) -> None:
    session = await checked_in_session(client)
    for path in (
        "/v1/patients",
        f"/v1/sessions/{session['id']}",
        f"/v1/sessions/{session['id']}/vitals",
        f"/v1/sessions/{session['id']}/devices",
        "/v1/integrations/quarantine",
        "/v1/devices",
        f"/fhir/R4/Patient/{session['patient_id']}",
        f"/fhir/R4/Observation?patient={session['patient_id']}",
    ):
        r = await integration_client.get(path, params={"max_seconds": 0})
        assert r.status_code == 403, path
    r = await integration_client.get(f"/v1/sessions/{session['id']}/events?max_seconds=0")
    assert r.status_code == 403


async def test_concurrent_identical_pushes_store_one_reading(
    app: FastAPI,
    client: httpx.AsyncClient,
    nurse_client: httpx.AsyncClient,
    admin_client: httpx.AsyncClient,
    integration_client: httpx.AsyncClient,
) -> None:
    """Retries racing each other: the unique constraint decides, exactly one row."""
    _, device = await bound_session(client, nurse_client, admin_client)
    external = f"race-{uuid.uuid4().hex}"
    payload = {
        "device": device["identifier"],
        "observations": [
            {**vital("spo2", 95, "%", ago(2)), "external_id": external},
            {**vital("heart_rate", 77, "/min", ago(2)), "external_id": external + ":hr"},
        ],
    }
    responses = await asyncio.gather(
        *[integration_client.post("/v1/integrations/observations", json=payload) for _ in range(20)]
    )
    assert {r.status_code for r in responses} == {200}
    statuses = sorted(r.json()["results"][0]["status"] for r in responses)
    assert statuses.count("accepted") == 1
    assert statuses.count("duplicate") == 19
    async with app.state.session_factory() as db:
        count = await db.scalar(
            select(func.count())
            .select_from(Observation)
            .where(Observation.external_id.in_([external, external + ":hr"]))
        )
    assert count == 2
    ids = {r.json()["results"][0]["observation_id"] for r in responses}
    assert len(ids) == 1
