"""Device push and FHIR lock the sessions they store readings to, as the REST path does: a
reading racing the end of its session waits for it and is then refused (SPEC §4)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

import api.sessions.repository as session_repository
import api.sessions.service as sessions_service
from tests.conftest import Backend
from tests.factories import ago, create_session, transition, vital
from tests.integrations.helpers import bound_session, checked_in_session
from tests.integrations.test_fhir import FHIR, heart_rate, outcome
from tests.races import blocks_on_lock, needs_postgres, pause


def cancel_paused_before_commit(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch, session_id: str
) -> tuple[Any, asyncio.Task[httpx.Response]]:
    """Start ending the session (cancelled two minutes ago); it pauses after writing ended_at,
    before its commit."""
    paused = pause(monkeypatch, sessions_service, "publish_status")
    task = asyncio.create_task(
        transition(client, session_id, "cancelled", reason="unwell", at=ago(2))
    )
    return paused, task


async def test_a_pushed_reading_racing_the_end_of_its_session_is_rejected(
    client: httpx.AsyncClient,
    nurse_client: httpx.AsyncClient,
    admin_client: httpx.AsyncClient,
    integration_client: httpx.AsyncClient,
    backend: Backend,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    needs_postgres(backend)
    session, device = await bound_session(client, nurse_client, admin_client)
    paused, cancel = cancel_paused_before_commit(client, monkeypatch, session["id"])
    await paused.wait_entered()
    pushed = asyncio.create_task(
        integration_client.post(
            "/v1/integrations/observations",
            json={
                "device": device["identifier"],
                "observations": [vital("heart_rate", 70, "/min", ago(1))],
            },
        )
    )
    assert await blocks_on_lock(backend, pushed), "the push did not wait for the session"
    paused.release()
    c, p = await cancel, await pushed
    assert c.status_code == 200, c.text
    assert p.status_code == 200, p.text
    (result,) = p.json()["results"]
    # To the sender only "not routable"; the quarantine says the session had ended.
    assert (result["status"], result["reason"]) == ("rejected", "not_routable"), result
    kept = await admin_client.get(
        "/v1/integrations/quarantine", params={"device": device["identifier"]}
    )
    assert [q["reason"] for q in kept.json()["items"]] == ["session_ended"]
    assert (await client.get(f"/v1/sessions/{session['id']}/vitals")).json()["items"] == []


async def test_a_fhir_observation_racing_the_end_of_its_encounter_is_rejected(
    client: httpx.AsyncClient,
    integration_client: httpx.AsyncClient,
    backend: Backend,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    needs_postgres(backend)
    session = await checked_in_session(client, minutes_ago=40)
    paused, cancel = cancel_paused_before_commit(client, monkeypatch, session["id"])
    await paused.wait_entered()
    late = heart_rate(
        session["patient_id"], ago(1), encounter={"reference": f"Encounter/{session['id']}"}
    )
    posted = asyncio.create_task(
        integration_client.post("/fhir/R4/Observation", json=late, headers=FHIR)
    )
    assert await blocks_on_lock(backend, posted), "the Observation did not wait for the session"
    paused.release()
    c = await cancel
    assert c.status_code == 200, c.text
    body = outcome(await posted, 409)
    assert "ended" in body["issue"][0]["diagnostics"]
    assert (await client.get(f"/v1/sessions/{session['id']}/vitals")).json()["items"] == []


async def test_sessions_are_locked_in_id_order(
    app: FastAPI, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One request storing readings to several sessions (a device push or an HL7 message
    routed over two bindings) locks them in one fixed order, so two such requests cannot each
    hold one session the other waits for."""
    ids = [uuid.UUID((await create_session(client))["id"]) for _ in range(3)]
    locked: list[uuid.UUID] = []
    original = session_repository.get_session

    async def recording(db: Any, session_id: Any, **lock: bool) -> Any:
        locked.append((session_id, lock))
        return await original(db, session_id, **lock)

    monkeypatch.setattr(session_repository, "get_session", recording)
    given = [*sorted(ids, reverse=True), ids[0]]  # unsorted, one twice
    # FOR SHARE (the readings pipeline's lock), in id order.
    async with app.state.session_factory() as db, db.begin():
        sessions = await session_repository.share_sessions(db, given)
    assert locked == [(sid, {"for_share": True}) for sid in sorted(ids)]
    assert set(sessions) == set(ids)
    assert all(s.id == k for k, s in sessions.items())


async def test_a_fhir_bundle_locks_its_sessions_in_id_order(
    client: httpx.AsyncClient,
    integration_client: httpx.AsyncClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Entries name their sessions in any order; the sessions are locked in id order before
    any entry is stored (the entries lock them again, harmlessly)."""
    sessions = [await checked_in_session(client) for _ in range(2)]
    ids = sorted(uuid.UUID(s["id"]) for s in sessions)
    by_id = {uuid.UUID(s["id"]): s for s in sessions}
    locked: list[uuid.UUID] = []
    original = session_repository.get_session

    async def recording(db: Any, session_id: Any, **lock: bool) -> Any:
        if lock.get("for_share"):  # the readings pipeline's lock
            locked.append(session_id)
        return await original(db, session_id, **lock)

    monkeypatch.setattr(session_repository, "get_session", recording)
    resources = [
        heart_rate(by_id[sid]["patient_id"], ago(1), encounter={"reference": f"Encounter/{sid}"})
        for sid in reversed(ids)  # the higher id first
    ]
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {"request": {"method": "POST", "url": "Observation"}, "resource": r} for r in resources
        ],
    }
    r = await integration_client.post("/fhir/R4", json=bundle)
    assert r.status_code == 200, r.text
    assert locked[:2] == ids
