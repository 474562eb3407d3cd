"""FHIR R4 AdverseEvent and MedicationStatement searches, validated with fhir.resources (its
R4B models: R4B left these two resources as R4 had them)."""

from __future__ import annotations

import httpx
from fhir.resources.R4B.adverseevent import AdverseEvent
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.medicationstatement import MedicationStatement

from tests.api.safety_helpers import monitoring_session, ok
from tests.factories import ago, iso


async def test_adverse_events_and_medication_statements_of_a_patient(
    client: httpx.AsyncClient, nurse_client: httpx.AsyncClient
) -> None:
    session = await monitoring_session(client)
    sid, pid = session["id"], session["patient_id"]
    url = f"/v1/sessions/{sid}/adverse-events"
    nausea = await ok(
        await nurse_client.post(
            url,
            json={
                "kind": "nausea",
                "severity": "mild",
                "onset_at": iso(ago(60)),
                "resolved_at": iso(ago(40)),
            },
        ),
        201,
    )
    severe = await ok(
        await nurse_client.post(
            url,
            json={"kind": "hypertension", "severity": "life_threatening", "onset_at": iso(ago(50))},
        ),
        201,
    )
    wrong = await ok(
        await nurse_client.post(
            url, json={"kind": "headache", "severity": "mild", "onset_at": iso(ago(45))}
        ),
        201,
    )
    await ok(
        await nurse_client.post(f"{url}/{wrong['id']}/retract", json={"reason": "other chair"})
    )
    await ok(
        await nurse_client.put(
            f"/v1/patients/{pid}/medications",
            json={
                "items": [
                    {"name": "sertraline", "class": "antidepressant", "dose": "100 mg daily"},
                    {"name": "lorazepam", "class": "benzodiazepine"},
                ]
            },
        )
    )

    r = await client.get("/fhir/R4/AdverseEvent", params={"patient": pid})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/fhir+json")
    bundle = Bundle.model_validate(r.json())
    events = {
        e.resource.id: AdverseEvent.model_validate(e.resource.model_dump()) for e in bundle.entry
    }
    assert set(events) == {nausea["id"], severe["id"]}  # the retracted one is not emitted
    assert events[nausea["id"]].outcome.coding[0].code == "resolved"
    assert events[severe["id"]].seriousness.coding[0].code == "serious"
    assert events[severe["id"]].severity.coding[0].code == "severe"
    assert events[severe["id"]].subject.reference == f"Patient/{pid}"
    assert events[severe["id"]].encounter.reference == f"Encounter/{sid}"

    r = await client.get("/fhir/R4/MedicationStatement", params={"subject": f"Patient/{pid}"})
    assert r.status_code == 200
    bundle = Bundle.model_validate(r.json())
    statements = [MedicationStatement.model_validate(e.resource.model_dump()) for e in bundle.entry]
    assert [s.medicationCodeableConcept.text for s in statements] == ["sertraline", "lorazepam"]
    assert statements[0].dosage[0].text == "100 mg daily"
    assert {s.meta.versionId for s in statements} == {"1"}

    empty = await client.get("/fhir/R4/AdverseEvent", params={"patient": "nobody"})
    assert empty.status_code == 200
    assert "entry" not in empty.json()
    assert (await client.get("/fhir/R4/MedicationStatement")).status_code == 400


async def test_the_capability_statement_lists_every_search_the_server_answers(
    client: httpx.AsyncClient,
) -> None:
    session = await monitoring_session(client)
    statement = await ok(await client.get("/fhir/R4/metadata"))
    searched = [
        r["type"]
        for r in statement["rest"][0]["resource"]
        if any(i["code"] == "search-type" for i in r["interaction"])
    ]
    assert sorted(searched) == ["AdverseEvent", "MedicationStatement", "Observation"]
    for kind in searched:
        for name in ("patient", "subject"):
            r = await client.get(f"/fhir/R4/{kind}", params={name: session["patient_id"]})
            bundle = Bundle.model_validate(await ok(r))
            assert bundle.type == "searchset", (kind, name)
