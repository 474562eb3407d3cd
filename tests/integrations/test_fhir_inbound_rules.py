"""FHIR Observations in: the API-wide time rule and external ids already used elsewhere."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.factories import ago, iso, now
from tests.integrations.fhir_r4 import r4
from tests.integrations.helpers import checked_in_session
from tests.integrations.test_fhir import bp_panel, entry, heart_rate, outcome


async def count_readings(client: httpx.AsyncClient, session_id: str) -> int:
    return len((await client.get(f"/v1/sessions/{session_id}/vitals")).json()["items"])


# --------------------------------------------------------------------------------------------
# SPEC §1: a timestamp more than 2 minutes in the future is rejected with 422
# --------------------------------------------------------------------------------------------


async def test_an_observation_in_the_future_is_a_422_operation_outcome(
    client: httpx.AsyncClient, integration_client: httpx.AsyncClient
) -> None:
    session = await checked_in_session(client)
    pid = session["patient_id"]
    post = integration_client.post

    future = heart_rate(pid, now() + timedelta(hours=2))
    body = outcome(await post("/fhir/R4/Observation", json=future), 422)
    assert body["issue"][0]["expression"] == ["Observation.effectiveDateTime"]
    assert "in the future" in body["issue"][0]["diagnostics"]

    panel = bp_panel(pid, now() + timedelta(minutes=5), 120, 80)
    outcome(await post("/fhir/R4/Observation", json=panel), 422)

    period = heart_rate(pid, ago(0))
    del period["effectiveDateTime"]
    period["effectivePeriod"] = {"start": iso(now() + timedelta(minutes=10))}
    body = outcome(await post("/fhir/R4/Observation", json=period), 422)
    assert body["issue"][0]["expression"] == ["Observation.effectivePeriod.start"]

    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [entry(heart_rate(pid, ago(2))), entry(future)],
    }
    body = outcome(await post("/fhir/R4", json=bundle), 422)
    assert body["issue"][0]["expression"][0].startswith("Bundle.entry[1].resource")
    assert await count_readings(client, session["id"]) == 0

    # Within the tolerance (a device clock a little ahead of the server's) is accepted.
    r = await post("/fhir/R4/Observation", json=heart_rate(pid, now() + timedelta(seconds=60)))
    assert r.status_code == 201, r.text
    assert await count_readings(client, session["id"]) == 1


async def test_times_beyond_the_calendar_are_a_422_not_a_500(
    client: httpx.AsyncClient, integration_client: httpx.AsyncClient
) -> None:
    session = await checked_in_session(client)
    resource = heart_rate(session["patient_id"], ago(2))
    for text in ("0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"):
        resource["effectiveDateTime"] = text
        body = outcome(await integration_client.post("/fhir/R4/Observation", json=resource), 422)
        assert body["issue"][0]["expression"] == ["Observation.effectiveDateTime"]


# --------------------------------------------------------------------------------------------
# An identifier already used for another session's reading: 409, as in REST
# --------------------------------------------------------------------------------------------


async def vitals(client: httpx.AsyncClient, session_id: str) -> list[tuple[str, float]]:
    items = (await client.get(f"/v1/sessions/{session_id}/vitals")).json()["items"]
    return sorted((o["code"], o["value"]) for o in items)


async def test_an_identifier_used_for_another_patients_reading_is_a_409(
    client: httpx.AsyncClient, integration_client: httpx.AsyncClient
) -> None:
    first, second = await checked_in_session(client), await checked_in_session(client)
    ident = [{"system": "urn:example:monitor", "value": f"x-{uuid.uuid4().hex}"}]
    at = ago(3)
    post = integration_client.post
    r = await post(
        "/fhir/R4/Observation", json=heart_rate(first["patient_id"], at, identifier=ident)
    )
    assert r.status_code == 201, r.text

    # The same resource again is the same reading: 200 with it.
    again = heart_rate(first["patient_id"], at, identifier=ident)
    r = await post("/fhir/R4/Observation", json=again)
    assert r.status_code == 200, r.text
    assert r.json()["subject"]["reference"] == f"Patient/{first['patient_id']}"

    other = heart_rate(second["patient_id"], at, 99, identifier=ident)
    body = outcome(await post("/fhir/R4/Observation", json=other), 409)
    assert body["issue"][0]["code"] == "duplicate"
    assert body["issue"][0]["expression"] == ["Observation.identifier"]
    assert "another session" in body["issue"][0]["diagnostics"]

    # A panel reusing it (one component's id is taken) stores neither half.
    panel_ident = [{"value": f"p-{uuid.uuid4().hex}"}]
    panel = bp_panel(first["patient_id"], at, 130, 85, identifier=panel_ident)
    assert (await post("/fhir/R4/Observation", json=panel)).status_code == 201
    panel_other = bp_panel(second["patient_id"], at, 150, 95, identifier=panel_ident)
    outcome(await post("/fhir/R4/Observation", json=panel_other), 409)

    # In a batch the entry fails on its own; a transaction is refused whole.
    fresh = heart_rate(second["patient_id"], ago(2), 64)
    batch = {"resourceType": "Bundle", "type": "batch", "entry": [entry(other), entry(fresh)]}
    r = await post("/fhir/R4", json=batch)
    assert r.status_code == 200, r.text
    assert [e["response"]["status"] for e in r.json()["entry"]] == ["409 Conflict", "201 Created"]
    transaction = {**batch, "type": "transaction", "entry": [entry(other), entry(fresh)]}
    outcome(await post("/fhir/R4", json=transaction), 409)

    assert await vitals(client, first["id"]) == [
        ("diastolic_bp", 85),
        ("heart_rate", 72),
        ("systolic_bp", 130),
    ]
    assert await vitals(client, second["id"]) == [("heart_rate", 64)]


# --------------------------------------------------------------------------------------------
# Issue 19: only results that stand are readings; what Vigil cannot read is refused, not
# dropped; references to another server are malformed
# --------------------------------------------------------------------------------------------


async def quarantined(admin: httpx.AsyncClient) -> list[dict[str, Any]]:
    r = await admin.get("/v1/integrations/quarantine", params={"channel": "fhir", "limit": 500})
    assert r.status_code == 200, r.text
    return list(r.json()["items"])


@pytest.mark.parametrize(
    "status", ["preliminary", "registered", "cancelled", "entered-in-error", "unknown"]
)
async def test_only_final_amended_or_corrected_are_readings(
    client: httpx.AsyncClient,
    integration_client: httpx.AsyncClient,
    admin_client: httpx.AsyncClient,
    status: str,
) -> None:
    session = await checked_in_session(client)
    resource = heart_rate(session["patient_id"], ago(3), status=status)
    body = outcome(await integration_client.post("/fhir/R4/Observation", json=resource), 422)
    assert body["issue"][0]["expression"] == ["Observation.status"]
    assert await count_readings(client, session["id"]) == 0
    assert any(q["raw"] == resource for q in await quarantined(admin_client))
    for standing in ("final", "amended", "corrected"):
        ok = heart_rate(session["patient_id"], ago(3), status=standing)
        r = await integration_client.post("/fhir/R4/Observation", json=ok)
        assert r.status_code == 201, r.text
        assert r.json()["status"] == "final"
    assert await count_readings(client, session["id"]) == 3


async def test_a_comparator_is_not_a_measured_value(
    client: httpx.AsyncClient, integration_client: httpx.AsyncClient
) -> None:
    session = await checked_in_session(client)
    pid = session["patient_id"]
    bounded = heart_rate(pid, ago(3))
    bounded["valueQuantity"] = {**bounded["valueQuantity"], "value": 30, "comparator": "<"}
    body = outcome(await integration_client.post("/fhir/R4/Observation", json=bounded), 422)
    assert body["issue"][0]["expression"] == ["Observation.valueQuantity.comparator"]
    panel = bp_panel(pid, ago(3), 120, 80)
    panel["component"][1]["valueQuantity"]["comparator"] = ">="
    body = outcome(await integration_client.post("/fhir/R4/Observation", json=panel), 422)
    assert body["issue"][0]["expression"] == ["Observation.component[1].valueQuantity.comparator"]
    assert await count_readings(client, session["id"]) == 0


async def test_an_unknown_modifier_extension_is_refused(
    client: httpx.AsyncClient, integration_client: httpx.AsyncClient
) -> None:
    session = await checked_in_session(client)
    pid = session["patient_id"]
    modifier = [{"url": "http://example.org/not-really-measured", "valueBoolean": True}]
    top = heart_rate(pid, ago(3), modifierExtension=modifier)
    body = outcome(await integration_client.post("/fhir/R4/Observation", json=top), 422)
    assert body["issue"][0]["expression"] == ["Observation.modifierExtension"]
    assert body["issue"][0]["code"] == "extension"
    panel = bp_panel(pid, ago(3), 120, 80)
    panel["component"][0]["modifierExtension"] = modifier
    body = outcome(await integration_client.post("/fhir/R4/Observation", json=panel), 422)
    assert body["issue"][0]["expression"] == ["Observation.component[0].modifierExtension"]
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [entry(top)]}
    outcome(await integration_client.post("/fhir/R4", json=bundle), 422)
    # A plain extension is no modifier: ignored, the reading stored.
    plain = heart_rate(pid, ago(3), extension=modifier)
    r = await integration_client.post("/fhir/R4/Observation", json=plain)
    assert r.status_code == 201, r.text
    assert await count_readings(client, session["id"]) == 1


async def test_encounter_references_on_this_base_or_relative_another_base_is_400(
    app: FastAPI, client: httpx.AsyncClient, integration_client: httpx.AsyncClient
) -> None:
    session = await checked_in_session(client)
    pid, sid = session["patient_id"], session["id"]
    ours = f"{app.state.settings.public_base_url}/fhir/R4"
    for n, reference in enumerate((f"Encounter/{sid}", f"{ours}/Encounter/{sid}")):
        resource = heart_rate(pid, ago(3 + n), encounter={"reference": reference})
        r = await integration_client.post("/fhir/R4/Observation", json=resource)
        assert r.status_code == 201, r.text
        assert r.json()["encounter"]["reference"] == f"Encounter/{sid}"
    for reference in (
        f"https://other.example/fhir/R4/Encounter/{sid}",
        f"{ours}x/Encounter/{sid}",
    ):
        resource = heart_rate(pid, ago(5), encounter={"reference": reference})
        body = outcome(await integration_client.post("/fhir/R4/Observation", json=resource), 400)
        assert body["issue"][0]["expression"] == ["Observation.encounter.reference"]
    assert await count_readings(client, sid) == 2


async def test_metadata_needs_no_credentials_and_declares_bearer_security(
    anon_client: httpx.AsyncClient,
) -> None:
    r = await anon_client.get("/fhir/R4/metadata")
    assert r.status_code == 200, r.text
    statement = r4(r.json())
    [rest] = statement["rest"]
    assert rest["security"]["service"][0]["coding"][0]["code"] == "OAuth"
    assert {x["type"] for x in rest["resource"]} >= {"Observation", "Patient", "Encounter"}
    # Everything else still needs them.
    r = await anon_client.get("/fhir/R4/Observation", params={"patient": str(uuid.uuid4())})
    assert r.status_code == 401
    r = await anon_client.post("/fhir/R4/Observation/_search", data={"patient": "x"})
    assert r.status_code == 401


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        (
            "/fhir/R4/Observation",
            '{"resourceType":"Observation","status":"final","extension":' + nested(1000) + "}",
            422,
        ),
        (
            "/fhir/R4/Observation",
            '{"resourceType":"Observation","status":' + nested(1000) + "}",
            422,
        ),
        (
            "/fhir/R4/Observation",
            '{"resourceType":"Observation","valueQuantity":{"value":' + nested(1000) + "}}",
            422,
        ),
        ("/fhir/R4", '{"resourceType":"Bundle","type":"batch","entry":' + nested(1000) + "}", 400),
        ("/fhir/R4/Observation", nested(1000), 422),
        ("/fhir/R4/Observation", nested(2000), 400),  # deeper than any JSON parser goes
    ],
)
async def test_a_deeply_nested_body_is_answered_and_quarantined(
    integration_client: httpx.AsyncClient,
    admin_client: httpx.AsyncClient,
    path: str,
    body: str,
    status: int,
) -> None:
    raw = {"unparsed_body": body}  # too deep to store as JSON: kept as the text received
    before = sum(q["raw"] == raw for q in await quarantined(admin_client))
    r = await integration_client.post(
        path, content=body.encode(), headers={"content-type": "application/fhir+json"}
    )
    outcome(r, status)
    assert sum(q["raw"] == raw for q in await quarantined(admin_client)) == before + 1
