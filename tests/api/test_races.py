"""Two conflicting changes never both succeed (SPEC §1), on PostgreSQL: each test pauses one
request between its checks and its commit while a conflicting one runs, and checks the second
one waits for the first (a row lock) and then sees its outcome."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

import api.plans.service as plans_service
import api.readings.pipeline as readings_pipeline
import api.sessions.service as sessions_service
import api.vitals.service as vitals_service
from tests.conftest import Backend
from tests.factories import (
    ago,
    create_patient,
    create_plan,
    create_session,
    good_predose,
    iso,
    now,
    post_vitals,
    prepare_discharge,
    prepare_dosing,
    transition,
    vital,
)
from tests.races import WAIT_SECONDS, blocks_on_lock, needs_postgres, pause


async def checked_in(client: httpx.AsyncClient) -> dict[str, Any]:
    session = await create_session(client)
    r = await transition(client, session["id"], "checked_in", weight_kg=70, at=ago(10))
    assert r.status_code == 200, r.text
    assert (await post_vitals(client, session["id"], good_predose(ago(5)))).status_code == 201
    return session


async def test_a_reading_racing_the_dosing_start_gets_its_phase_and_alert(
    client: httpx.AsyncClient, backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The reading read the session (checked in) before the transition to dosing commits; it
    must not be stored as pre-dose with no alert after alerts_after_transition ran."""
    needs_postgres(backend)
    session = await checked_in(client)
    sid = session["id"]
    await prepare_dosing(client, sid, ago(2))
    paused = pause(monkeypatch, readings_pipeline, "check_pairs")  # after the session read
    reading = asyncio.create_task(post_vitals(client, sid, [vital("spo2", 80, "%", ago(1))]))
    await paused.wait_entered()
    dosing = asyncio.create_task(transition(client, sid, "dosing", at=ago(2)))
    assert await blocks_on_lock(backend, dosing), "the transition did not wait for the reading"
    paused.release()
    r, t = await reading, await dosing
    assert r.status_code == 201, r.text
    assert t.status_code == 200, t.text
    oid = r.json()["items"][0]["id"]
    listed = (await client.get(f"/v1/sessions/{sid}/vitals", params={"code": "spo2"})).json()
    assert [o["phase"] for o in listed["items"]] == ["pre", "intra"]  # pre-dose 98, then 80
    alerts = (await client.get(f"/v1/sessions/{sid}/alerts")).json()["items"]
    assert [a["observation_id"] for a in alerts] == [oid], "SpO2 80% intra-dose raised no alert"


async def test_a_reading_after_a_discharge_committing_meanwhile_is_409(
    client: httpx.AsyncClient, backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    needs_postgres(backend)
    session = await checked_in(client)
    sid = session["id"]
    await prepare_dosing(client, sid, ago(4))
    assert (await transition(client, sid, "dosing", at=ago(4))).status_code == 200
    r = await transition(client, sid, "monitoring", at=ago(3), reason="short")
    assert r.status_code == 200, r.text
    # The discharge has written the session (ended_at) and is paused before its commit.
    await prepare_discharge(client, sid, ago(2))
    paused = pause(monkeypatch, sessions_service, "publish_status")
    discharge = asyncio.create_task(
        transition(
            client,
            sid,
            "discharged",
            at=ago(2),
            discharge_type="against_advice",
            reason="left before the end of monitoring",
        )
    )
    await paused.wait_entered()
    reading = asyncio.create_task(
        post_vitals(client, sid, [vital("heart_rate", 70, "/min", ago(1))])
    )
    assert await blocks_on_lock(backend, reading), "the reading did not wait for the discharge"
    paused.release()
    d, r = await discharge, await reading
    assert d.status_code == 200, d.text
    assert r.status_code == 409, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    listed = await client.get(f"/v1/sessions/{sid}/vitals", params={"code": "heart_rate"})
    assert [o["value"] for o in listed.json()["items"]] == [72]  # the pre-dose one only


async def test_two_halves_of_one_blood_pressure_posted_at_once_are_checked_as_a_pair(
    client: httpx.AsyncClient,
    nurse_client: httpx.AsyncClient,
    backend: Backend,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    needs_postgres(backend)
    session = await create_session(client)
    sid, at = session["id"], ago(1)
    paused = pause(monkeypatch, readings_pipeline, "store_readings")  # checked, not yet stored
    systolic = asyncio.create_task(
        post_vitals(client, sid, [vital("systolic_bp", 80, "mm[Hg]", at)])
    )
    await paused.wait_entered()
    diastolic = asyncio.create_task(
        post_vitals(nurse_client, sid, [vital("diastolic_bp", 120, "mm[Hg]", at)])
    )
    assert await blocks_on_lock(backend, diastolic), "the second half did not wait"
    paused.release()
    r1, r2 = await systolic, await diastolic
    assert r1.status_code == 201, r1.text
    assert r2.status_code == 422, r2.text
    assert "systolic 80 must be above diastolic 120" in r2.text
    items = (await client.get(f"/v1/sessions/{sid}/vitals")).json()["items"]
    assert [(o["code"], o["value"]) for o in items] == [("systolic_bp", 80)]


async def test_readings_of_one_session_proceed_together_and_a_transition_waits_for_them(
    client: httpx.AsyncClient,
    nurse_client: httpx.AsyncClient,
    backend: Backend,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A reading holding its session's lock (checked, not yet stored) does not make another
    reading of that session wait (FOR SHARE does not conflict with FOR SHARE), nor another BP
    reading at another time; a transition of the session (FOR UPDATE) waits for it."""
    needs_postgres(backend)
    session = await checked_in(client)
    sid, at = session["id"], ago(1)
    paused = pause(monkeypatch, readings_pipeline, "store_readings")  # locked, not yet stored
    first = asyncio.create_task(post_vitals(client, sid, [vital("systolic_bp", 120, "mm[Hg]", at)]))
    await paused.wait_entered()
    # Other readings of the same session, while the first holds its locks: they finish.
    second = await asyncio.wait_for(
        post_vitals(nurse_client, sid, [vital("heart_rate", 71, "/min", at)]), WAIT_SECONDS
    )
    assert second.status_code == 201, second.text
    other_bp = await asyncio.wait_for(
        post_vitals(nurse_client, sid, [vital("diastolic_bp", 80, "mm[Hg]", ago(2))]),
        WAIT_SECONDS,
    )
    assert other_bp.status_code == 201, other_bp.text
    cancel = asyncio.create_task(transition(client, sid, "cancelled", reason="unwell", at=ago(0)))
    assert await blocks_on_lock(backend, cancel), "the transition did not wait for the reading"
    paused.release()
    r, c = await first, await cancel
    assert r.status_code == 201, r.text
    assert c.status_code == 200, c.text
    codes = {o["code"] for o in (await client.get(f"/v1/sessions/{sid}/vitals")).json()["items"]}
    assert {"systolic_bp", "diastolic_bp", "heart_rate"} <= codes


async def test_the_second_of_two_concurrent_retractions_is_409(
    client: httpx.AsyncClient,
    nurse_client: httpx.AsyncClient,
    staff: Any,
    backend: Backend,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    needs_postgres(backend)
    session = await create_session(client)
    sid = session["id"]
    r = await post_vitals(client, sid, [vital("heart_rate", 70, "/min", ago(1))])
    oid = r.json()["items"][0]["id"]
    url = f"/v1/sessions/{sid}/vitals/{oid}/retract"
    # The first retraction has updated the reading and is paused before its commit.
    paused = pause(monkeypatch, vitals_service, "resolve_alerts_for_observation")
    first = asyncio.create_task(client.post(url, json={"reason": "first"}))
    await paused.wait_entered()
    second = asyncio.create_task(nurse_client.post(url, json={"reason": "second"}))
    assert await blocks_on_lock(backend, second)
    paused.release()
    r1, r2 = await first, await second
    assert r1.status_code == 200, r1.text
    assert r2.status_code == 409, r2.text
    assert r2.headers["content-type"].startswith("application/problem+json")
    listed = await client.get(f"/v1/sessions/{sid}/vitals", params={"include_retracted": "true"})
    (stored,) = listed.json()["items"]
    assert stored["status"] == "entered-in-error"
    assert r1.json()["retraction_reason"] == "first"
    assert (stored["retraction_reason"], stored["retracted_by"]) == (
        "first",
        staff.ids["clinician"],
    )


async def post_session(client: httpx.AsyncClient, plan: dict[str, Any]) -> httpx.Response:
    return await client.post(
        "/v1/sessions",
        json={
            "patient_id": plan["patient_id"],
            "dosing_plan_id": plan["id"],
            "scheduled_at": iso(now()),
        },
    )


async def test_a_discontinue_waits_for_a_session_being_created_on_the_plan(
    client: httpx.AsyncClient, backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The creation saw the plan active; the discontinue must not commit before it does (or
    the session would be created on a plan already discontinued)."""
    needs_postgres(backend)
    plan = await create_plan(client, (await create_patient(client))["id"])
    paused = pause(monkeypatch, sessions_service, "publish_status")  # session flushed
    creation = asyncio.create_task(post_session(client, plan))
    await paused.wait_entered()
    discontinue = asyncio.create_task(
        client.post(f"/v1/dosing-plans/{plan['id']}/discontinue", json={"reason": "stop"})
    )
    assert await blocks_on_lock(backend, discontinue), "discontinued under a session creation"
    paused.release()
    c, d = await creation, await discontinue
    assert c.status_code == 201, c.text  # created while the plan was active
    assert d.status_code == 200, d.text  # then discontinued


async def test_a_session_on_a_plan_being_discontinued_is_409(
    client: httpx.AsyncClient, backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    needs_postgres(backend)
    plan = await create_plan(client, (await create_patient(client))["id"])
    # The discontinue has written the plan and is paused before its commit.
    paused = pause(monkeypatch, plans_service, "_bump", after=True)
    discontinue = asyncio.create_task(
        client.post(f"/v1/dosing-plans/{plan['id']}/discontinue", json={"reason": "stop"})
    )
    await paused.wait_entered()
    creation = asyncio.create_task(post_session(client, plan))
    assert await blocks_on_lock(backend, creation), "the creation did not wait for the plan"
    paused.release()
    d, c = await discontinue, await creation
    assert d.status_code == 200, d.text
    assert c.status_code == 409, c.text
    assert "discontinued" in c.json()["detail"]
    listed = await client.get("/v1/sessions", params={"patient_id": plan["patient_id"]})
    assert listed.json()["items"] == []
