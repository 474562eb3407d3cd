"""FHIR R4 facade: what Vigil emits validates with fhir.resources; errors are OperationOutcome."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import httpx
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.operationoutcome import OperationOutcome
from fhir.resources.R4B.patient import Patient

from tests.factories import ago, iso, transition
from tests.integrations.helpers import checked_in_session

FHIR = {"content-type": "application/fhir+json"}
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
CATEGORY = [
    {
        "coding": [
            {
                "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                "code": "vital-signs",
            }
        ]
    }
]


def quantity(value: float, code: str) -> dict[str, Any]:
    return {"value": value, "unit": code, "system": UCUM, "code": code}


def heart_rate(patient_id: str, at: datetime, value: float = 72, **extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "status": "final",
        "category": CATEGORY,
        "code": {"coding": [{"system": LOINC, "code": "8867-4"}]},
        "subject": {"reference": f"Patient/{patient_id}"},
        "effectiveDateTime": iso(at),
        "valueQuantity": quantity(value, "/min"),
        **extra,
    }


def bp_panel(
    patient_id: str, at: datetime, systolic: float, diastolic: float, **extra: Any
) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "status": "final",
        "category": CATEGORY,
        "code": {"coding": [{"system": LOINC, "code": "85354-9"}]},
        "subject": {"reference": f"Patient/{patient_id}"},
        "effectiveDateTime": iso(at),
        "component": [
            {
                "code": {"coding": [{"system": LOINC, "code": "8480-6"}]},
                "valueQuantity": quantity(systolic, "mm[Hg]"),
            },
            {
                "code": {"coding": [{"system": LOINC, "code": "8462-4"}]},
                "valueQuantity": quantity(diastolic, "mm[Hg]"),
            },
        ],
        **extra,
    }


def outcome(r: httpx.Response, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/fhir+json")
    body = dict(r.json())
    OperationOutcome.model_validate(body)
    return body


async def count_readings(client: httpx.AsyncClient, session_id: str) -> int:
    return len((await client.get(f"/v1/sessions/{session_id}/vitals")).json()["items"])


async def test_metadata_is_a_valid_capability_statement(client: httpx.AsyncClient) -> None:
    r = await client.get("/fhir/R4/metadata")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/fhir+json")
    CapabilityStatement.model_validate(r.json())
    assert r.json()["fhirVersion"] == "4.0.1"


async def test_create_observations_and_read_them_back(
    client: httpx.AsyncClient, integration_client: httpx.AsyncClient
) -> None:
    session = await checked_in_session(client)
    pid = session["patient_id"]
    r = await integration_client.post(
        "/fhir/R4/Observation", json=heart_rate(pid, ago(3)), headers=FHIR
    )
    assert r.status_code == 201, r.text
    created = r.json()
    Observation.model_validate(created)
    assert created["encounter"]["reference"] == f"Encounter/{session['id']}"
    assert r.headers["location"].endswith(f"/fhir/R4/Observation/{created['id']}")

    panel = bp_panel(
        pid,
        ago(3),
        131,
        84,
        encounter={"reference": f"Encounter/{session['id']}"},
        identifier=[{"system": "urn:example:gw", "value": "bp-1"}],
    )
    r = await integration_client.post("/fhir/R4/Observation", json=panel)
    assert r.status_code == 201, r.text
    bp = r.json()
    Observation.model_validate(bp)
    assert bp["id"].startswith("bp-")
    assert [c["valueQuantity"]["value"] for c in bp["component"]] == [131, 84]
    retry = await integration_client.post("/fhir/R4/Observation", json=panel)
    assert retry.status_code == 200
    assert retry.json()["id"] == bp["id"]
    assert await count_readings(client, session["id"]) == 3

    r = await client.get(f"/fhir/R4/Observation/{bp['id']}")
    assert r.status_code == 200
    Observation.model_validate(r.json())
    assert r.json()["component"][1]["valueQuantity"]["value"] == 84


async def test_search_groups_bp_pairs_and_filters_by_date_and_code(
    client: httpx.AsyncClient,
) -> None:
    session = await checked_in_session(client, minutes_ago=90)
    pid = session["patient_id"]
    observations = [
        {"code": "systolic_bp", "value": 120, "unit": "mm[Hg]", "measured_at": iso(ago(80))},
        {"code": "diastolic_bp", "value": 80, "unit": "mm[Hg]", "measured_at": iso(ago(80))},
        {"code": "heart_rate", "value": 70, "unit": "/min", "measured_at": iso(ago(80))},
        {"code": "spo2", "value": 97, "unit": "%", "measured_at": iso(ago(20))},
    ]
    r = await client.post(
        f"/v1/sessions/{session['id']}/vitals", json={"observations": observations}
    )
    assert r.status_code == 201

    r = await client.get("/fhir/R4/Observation", params={"patient": f"Patient/{pid}"})
    assert r.status_code == 200, r.text
    bundle = r.json()
    Bundle.model_validate(bundle)
    codes = [e["resource"]["code"]["coding"][0]["code"] for e in bundle["entry"]]
    assert sorted(codes[:2]) == ["85354-9", "8867-4"]  # same time: in id order
    assert codes[2] == "59408-5"

    by_day = {"patient": pid, "date": f"ge{ago(90).date().isoformat()}"}
    assert len((await client.get("/fhir/R4/Observation", params=by_day)).json()["entry"]) == 3
    later = {"patient": pid, "date": f"ge{iso(ago(30))}"}

    r = await client.get("/fhir/R4/Observation", params=later)
    assert [e["resource"]["code"]["coding"][0]["code"] for e in r.json()["entry"]] == ["59408-5"]
    r = await client.get(
        "/fhir/R4/Observation",
        params=[("patient", pid), ("date", f"gt{iso(ago(85))}"), ("date", f"lt{iso(ago(30))}")],
    )
    assert len(r.json()["entry"]) == 2
    r = await client.get(
        "/fhir/R4/Observation", params={"patient": pid, "code": f"{LOINC}|85354-9"}
    )
    (only,) = r.json()["entry"]
    assert only["resource"]["component"][0]["valueQuantity"]["value"] == 120

    pages, url = [], "/fhir/R4/Observation"
    params: dict[str, Any] | None = {"patient": pid, "_count": 1}
    while url:
        page = (await client.get(url, params=params)).json()
        Bundle.model_validate(page)
        pages.append([e["resource"]["id"] for e in page.get("entry", [])])
        url = next((link["url"] for link in page["link"] if link["relation"] == "next"), "")
        params = None
    ids = [i for p in pages for i in p]
    assert len(ids) == len(set(ids)) == 3  # the BP pair stays one panel across pages

    r = await client.get("/fhir/R4/Observation", params={"patient": pid, "date": "2026-13-45"})
    outcome(r, 400)
    outcome(await client.get("/fhir/R4/Observation"), 400)


async def test_patient_read(client: httpx.AsyncClient) -> None:
    session = await checked_in_session(client)
    r = await client.get(f"/fhir/R4/Patient/{session['patient_id']}")
    assert r.status_code == 200
    Patient.model_validate(r.json())
    assert r.json()["identifier"][0]["value"].startswith("MRN-")
    body = outcome(await client.get(f"/fhir/R4/Patient/{uuid.uuid4()}"), 404)
    assert body["issue"][0]["code"] == "not-found"


async def test_bad_observations_are_operation_outcomes(
    client: httpx.AsyncClient,
    integration_client: httpx.AsyncClient,
    admin_client: httpx.AsyncClient,
) -> None:
    session = await checked_in_session(client)
    pid = session["patient_id"]
    post = integration_client.post

    wrong_unit = heart_rate(pid, ago(2), valueQuantity=quantity(72, "mm[Hg]"))
    body = outcome(await post("/fhir/R4/Observation", json=wrong_unit), 422)
    assert body["issue"][0]["expression"] == ["Observation.valueQuantity.code"]

    unknown = heart_rate(pid, ago(2), code={"coding": [{"system": LOINC, "code": "2339-0"}]})
    body = outcome(await post("/fhir/R4/Observation", json=unknown), 422)
    assert body["issue"][0]["code"] == "code-invalid"

    impossible = heart_rate(pid, ago(2), value=900)
    body = outcome(await post("/fhir/R4/Observation", json=impossible), 422)
    assert "possible range" in body["issue"][0]["diagnostics"]

    stranger = heart_rate(str(uuid.uuid4()), ago(2))
    outcome(await post("/fhir/R4/Observation", json=stranger), 422)

    not_checked_in = heart_rate(pid, ago(120))  # before the session's check-in
    body = outcome(await post("/fhir/R4/Observation", json=not_checked_in), 422)
    assert "no session checked in" in body["issue"][0]["diagnostics"]

    inverted = bp_panel(pid, ago(2), 70, 90)
    outcome(await post("/fhir/R4/Observation", json=inverted), 422)

    r = await post("/fhir/R4/Observation", content=b"{not json", headers=FHIR)
    outcome(r, 400)
    r = await post("/fhir/R4/Observation", content=b"x", headers={"content-type": "text/plain"})
    outcome(r, 415)
    outcome(await client.get("/fhir/R4/Nothing/here"), 404)

    assert await count_readings(client, session["id"]) == 0
    kept = (
        await admin_client.get(
            "/v1/integrations/quarantine", params={"channel": "fhir", "limit": 500}
        )
    ).json()["items"]
    assert any(q["raw"] == wrong_unit for q in kept)


async def test_reading_after_the_encounter_ended(
    client: httpx.AsyncClient, integration_client: httpx.AsyncClient
) -> None:
    session = await checked_in_session(client, minutes_ago=40)
    r = await transition(client, session["id"], "cancelled", reason="unwell", at=ago(20))
    assert r.status_code == 200
    late = heart_rate(
        session["patient_id"], ago(5), encounter={"reference": f"Encounter/{session['id']}"}
    )
    body = outcome(await integration_client.post("/fhir/R4/Observation", json=late), 409)
    assert "ended" in body["issue"][0]["diagnostics"]


def entry(resource: dict[str, Any]) -> dict[str, Any]:
    return {"request": {"method": "POST", "url": "Observation"}, "resource": resource}


async def test_a_transaction_with_one_bad_entry_stores_nothing(
    client: httpx.AsyncClient, integration_client: httpx.AsyncClient
) -> None:
    session = await checked_in_session(client)
    pid = session["patient_id"]
    good = [heart_rate(pid, ago(3)), bp_panel(pid, ago(3), 125, 80)]
    bad = heart_rate(pid, ago(3), valueQuantity=quantity(72, "%"))
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [entry(good[0]), entry(bad), entry(good[1])],
    }
    body = outcome(await integration_client.post("/fhir/R4", json=bundle), 422)
    assert body["issue"][0]["expression"][0].startswith("Bundle.entry[1].resource")
    assert "entry 1" in body["issue"][0]["diagnostics"]
    assert await count_readings(client, session["id"]) == 0

    bundle["entry"] = [entry(good[0]), entry(good[1])]
    r = await integration_client.post("/fhir/R4", json=bundle)
    assert r.status_code == 200, r.text
    Bundle.model_validate(r.json())
    assert r.json()["type"] == "transaction-response"
    assert [e["response"]["status"] for e in r.json()["entry"]] == ["201 Created"] * 2
    assert await count_readings(client, session["id"]) == 3


async def test_a_batch_answers_each_entry(
    client: httpx.AsyncClient, integration_client: httpx.AsyncClient
) -> None:
    session = await checked_in_session(client)
    pid = session["patient_id"]
    bundle = {
        "resourceType": "Bundle",
        "type": "batch",
        "entry": [
            entry(heart_rate(pid, ago(2))),
            entry(heart_rate(pid, ago(2), status="cancelled")),
        ],
    }
    r = await integration_client.post("/fhir/R4", json=bundle)
    assert r.status_code == 200, r.text
    Bundle.model_validate(r.json())
    statuses = [e["response"]["status"] for e in r.json()["entry"]]
    assert statuses == ["201 Created", "422 Unprocessable Entity"]
    assert await count_readings(client, session["id"]) == 1
    outcome(
        await integration_client.post("/fhir/R4", json={"resourceType": "Bundle", "type": "x"}),
        400,
    )


async def test_a_reading_more_than_12_hours_before_check_in_is_422(
    client: httpx.AsyncClient, integration_client: httpx.AsyncClient
) -> None:
    """SPEC §4: the same rule on FHIR as on REST (api.clinical.reading_time)."""
    session = await checked_in_session(client, minutes_ago=40)
    early = heart_rate(
        session["patient_id"],
        ago(40 + 12 * 60 + 1),
        encounter={"reference": f"Encounter/{session['id']}"},
    )
    body = outcome(await integration_client.post("/fhir/R4/Observation", json=early), 422)
    assert "more than 12 hours before" in body["issue"][0]["diagnostics"]
    assert await count_readings(client, session["id"]) == 0
