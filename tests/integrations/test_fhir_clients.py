"""Real FHIR client libraries against a real server (issue 19): fhirpy (async) searches,
pages, counts, follows the Observation's Encounter and creates; fhirclient starts from the
CapabilityStatement without credentials and reads with a bearer token. Every resource they
get is valid R4 (fhir_r4.r4)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fhirclient.client import FHIRClient
from fhirclient.models.encounter import Encounter as R4Encounter
from fhirclient.models.patient import Patient as R4Patient
from fhirpy import AsyncFHIRClient

from tests.conftest import Backend, Staff
from tests.factories import iso, now
from tests.integrations.fhir_r4 import r4
from tests.integrations.live_app import live_server
from tests.integrations.test_fhir import heart_rate
from tests.integrations.test_fhir_search import session_with_readings


@pytest.fixture(scope="module")
async def live_url(backend: Backend) -> AsyncIterator[str]:
    async with live_server(backend) as url:
        yield url


def fhirpy_client(url: str, token: str) -> AsyncFHIRClient:
    return AsyncFHIRClient(f"{url}/fhir/R4", authorization=f"Bearer {token}")


async def test_fhirpy_latest_reading_pages_count_and_encounter(
    live_url: str, staff: Staff, client: httpx.AsyncClient
) -> None:
    t0 = now()
    session = await session_with_readings(client, t0, rounds=3)
    pid = session["patient_id"]
    fhir = fhirpy_client(live_url, staff.tokens["nurse"])
    observations = fhir.resources("Observation").search(patient=f"Patient/{pid}")

    latest = await observations.search(code="8867-4").sort("-date").first()
    assert latest is not None
    r4(dict(latest))
    assert latest["effectiveDateTime"] == iso(t0 - timedelta(minutes=40))
    assert latest["valueQuantity"]["value"] == 72
    oldest = await observations.search(code="8867-4").sort("date").first()
    assert oldest is not None
    assert oldest["valueQuantity"]["value"] == 70

    assert await observations.count() == 9
    every = await observations.limit(2).fetch_all()  # follows five next links
    assert len(every) == len({o["id"] for o in every}) == 9
    for observation in every:
        r4(dict(observation))
    page = await observations.limit(4).fetch()
    assert len(page) == 4

    encounter = await latest["encounter"].to_resource()
    r4(dict(encounter))
    assert encounter["id"] == session["id"]
    assert encounter["subject"]["reference"] == f"Patient/{pid}"


async def test_fhirpy_creates_an_observation_as_an_integration_client(
    live_url: str, staff: Staff, client: httpx.AsyncClient
) -> None:
    t0 = now()
    session = await session_with_readings(client, t0, rounds=1)
    fhir = fhirpy_client(live_url, staff.api_key)
    resource = fhir.resource(
        "Observation", **heart_rate(session["patient_id"], t0 - timedelta(minutes=2), value=88)
    )
    await resource.save()
    assert resource["id"]
    r4(dict(resource))
    assert resource["meta"]["versionId"] == "1"
    assert resource["encounter"]["reference"] == f"Encounter/{session['id']}"
    reader = fhirpy_client(live_url, staff.tokens["clinician"])
    read = await reader.reference("Observation", resource["id"]).to_resource()
    assert read["valueQuantity"]["value"] == 88


def fhirclient_reads(url: str, token: str, patient_id: str, session_id: str) -> dict[str, Any]:
    """What a SMART-on-FHIR-style client does: discover first, then read."""
    fhir = FHIRClient(settings={"app_id": "vigil-tests", "api_base": f"{url}/fhir/R4"})
    assert fhir.prepare()  # fetched /metadata with no credentials
    statement = fhir.server.capabilityStatement
    assert statement.rest[0].security.service[0].coding[0].code == "OAuth"
    fhir.server.session.headers["Authorization"] = f"Bearer {token}"
    patient = R4Patient.read(patient_id, fhir.server)
    encounter = R4Encounter.read(session_id, fhir.server)
    return {"patient": patient.as_json(), "encounter": encounter.as_json()}


async def test_fhirclient_starts_without_credentials_and_reads_with_a_token(
    live_url: str, staff: Staff, client: httpx.AsyncClient
) -> None:
    session = await session_with_readings(client, now(), rounds=1)
    read = await asyncio.to_thread(
        fhirclient_reads, live_url, staff.tokens["nurse"], session["patient_id"], session["id"]
    )
    assert r4(read["patient"])["id"] == session["patient_id"]
    assert r4(read["encounter"])["status"] == "arrived"
