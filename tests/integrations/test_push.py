"""Device push: per-item results, routing by binding, quarantine, retry-safe de-duplication."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta, timezone
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select

from models import Observation
from tests.api.safety_helpers import dosing_session
from tests.factories import (
    ago,
    good_predose,
    iso,
    now,
    post_vitals,
    prepare_dosing,
    transition,
    vital,
)
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
        ("rejected", "not_routable"),  # before check-in: the sender is not told
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
    assert by_index[8]["reason"] == "before_check_in"  # administrators see why
    assert session["id"] in by_index[8]["detail"]
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
    assert body["results"][0]["reason"] == "not_routable"
    assert [q["reason"] for q in await quarantined(admin_client, idle["identifier"])] == [
        "unbound_device"
    ]

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
    assert after["reason"] == "not_routable"
    assert after["session_id"] is None
    assert sid not in after["detail"]
    kept = await quarantined(admin_client, device["identifier"])
    assert [(q["reason"], q["session_id"]) for q in kept] == [("session_ended", sid)]
    assert "ended" in kept[0]["detail"]


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


async def test_a_retried_push_without_external_id_stores_and_alerts_once(
    client: httpx.AsyncClient,
    nurse_client: httpx.AsyncClient,
    admin_client: httpx.AsyncClient,
    integration_client: httpx.AsyncClient,
) -> None:
    """SPEC §5: a device reading without external_id is identified by device, code and
    measured_at, so a gateway's retry is a duplicate, not a second reading and alert."""
    session = await dosing_session(client, dosing_at=30)
    device = await new_device(admin_client)
    await bind(nurse_client, session["id"], device["id"])
    at = ago(2)
    low = vital("spo2", 85, "%", at)  # below the alert limit: an alert when stored
    first = await push(integration_client, device["identifier"], [low])
    assert first["results"][0]["status"] == "accepted"
    same_instant = {**low, "measured_at": at.astimezone(timezone(timedelta(hours=2))).isoformat()}
    for item in (low, same_instant):  # a retry, and the same instant with another offset
        again = await push(integration_client, device["identifier"].lower(), [item])
        assert again["results"][0]["status"] == "duplicate", again
        assert again["results"][0]["observation_id"] == first["results"][0]["observation_id"]
    other_code = await push(
        integration_client, device["identifier"], [vital("heart_rate", 70, "/min", at)]
    )
    assert other_code["results"][0]["status"] == "accepted"
    stored = (await client.get(f"/v1/sessions/{session['id']}/vitals")).json()["items"]
    assert sorted(o["code"] for o in stored if o["measured_at"] == iso(at)) == [
        "heart_rate",
        "spo2",
    ]
    alerts = (await client.get(f"/v1/sessions/{session['id']}/alerts")).json()["items"]
    assert len(alerts) == 1  # one alert for one reading, however often it was sent


async def test_an_external_id_with_whitespace_around_it_is_a_rejected_item(
    client: httpx.AsyncClient,
    nurse_client: httpx.AsyncClient,
    admin_client: httpx.AsyncClient,
    integration_client: httpx.AsyncClient,
) -> None:
    session, device = await bound_session(client, nurse_client, admin_client)
    ext = f"m7:{uuid.uuid4().hex[:6]}"
    body = await push(
        integration_client,
        device["identifier"],
        [
            vital("heart_rate", 70, "/min", ago(3), external_id=ext),
            vital("heart_rate", 71, "/min", ago(2), external_id=f"{ext} "),  # not the same id
            vital("heart_rate", 72, "/min", ago(1), external_id=f" {ext}"),
        ],
    )
    assert [(r["status"], r["reason"]) for r in body["results"]] == [
        ("accepted", None),
        ("rejected", "invalid"),
        ("rejected", "invalid"),
    ]
    assert "whitespace" in body["results"][1]["detail"]
    kept = await quarantined(admin_client, device["identifier"])
    assert sorted(q["raw"]["external_id"] for q in kept) == sorted([f"{ext} ", f" {ext}"])
    stored = (await client.get(f"/v1/sessions/{session['id']}/vitals")).json()["items"]
    assert [o["external_id"] for o in stored] == [ext]


async def test_quarantined_items_that_are_bare_values_can_be_listed(
    admin_client: httpx.AsyncClient, integration_client: httpx.AsyncClient
) -> None:
    """On SQLite a JSON column has NUMERIC affinity: a quarantined ``5`` came back as a
    number the JSON decoder refused, and every quarantine page holding it answered 500."""
    device = await new_device(admin_client)
    items: list[Any] = [5, 2.5, -1, "abc", "12", None, True, [1, "x"], {"a": 1}]
    body = await push(integration_client, device["identifier"], items)
    assert body["rejected"] == len(items)
    kept = await quarantined(admin_client, device["identifier"])
    assert sorted(((q["item_index"], q["raw"]) for q in kept), key=lambda p: p[0]) == list(
        enumerate(items)
    )
    page = await admin_client.get("/v1/integrations/quarantine", params={"limit": 500})
    assert page.status_code == 200


async def test_an_external_id_used_for_another_session_is_a_rejected_item(
    client: httpx.AsyncClient,
    nurse_client: httpx.AsyncClient,
    admin_client: httpx.AsyncClient,
    integration_client: httpx.AsyncClient,
) -> None:
    """The readings pipeline's foreign_external_id (409 on REST and FHIR), as a device batch
    answers it: a rejected, quarantined item that names neither the other session nor its
    reading; the rest of the batch is stored."""
    first, first_device = await bound_session(client, nurse_client, admin_client)
    second, second_device = await bound_session(client, nurse_client, admin_client)
    ext = f"gw-{uuid.uuid4().hex}"
    at = ago(2)
    stored = await push(
        integration_client,
        first_device["identifier"],
        [vital("heart_rate", 70, "/min", at, external_id=ext)],
    )
    assert stored["results"][0]["status"] == "accepted"
    body = await push(
        integration_client,
        second_device["identifier"],
        [
            vital("heart_rate", 90, "/min", at, external_id=ext),
            vital("spo2", 97, "%", at, external_id=ext + ":spo2"),
        ],
    )
    conflict, fine = body["results"]
    assert (conflict["status"], conflict["reason"]) == ("rejected", "external_id_conflict")
    assert conflict["observation_id"] is None
    assert conflict["session_id"] == second["id"]
    assert fine["status"] == "accepted"
    items = (await client.get(f"/v1/sessions/{second['id']}/vitals")).json()["items"]
    assert [o["code"] for o in items] == ["spo2"]
    held = await quarantined(admin_client, second_device["identifier"])
    assert [q["reason"] for q in held] == ["external_id_conflict"]
    untouched = (await client.get(f"/v1/sessions/{first['id']}/vitals")).json()["items"]
    assert [(o["code"], o["value"]) for o in untouched] == [("heart_rate", 70)]
