"""FHIR Observations in: the API-wide time rule and external ids already used elsewhere."""

from __future__ import annotations

from datetime import timedelta

import httpx

from tests.factories import ago, iso, now
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
