"""Administrations over HTTP (SPEC §6): the session ceiling at ``max_dose_mg``, overrides,
esketamine device intervals, NDC and container; witnessed waste and its place in the
discharge gate and the controlled-substance log."""

from __future__ import annotations

import asyncio
import csv
import io
import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from api.administrations import service as administrations_service
from tests.api.safety_helpers import (
    ESKETAMINE_PLAN,
    dosing_session,
    monitoring_session,
    ok,
    ready_to_discharge,
    unmet_codes,
)
from tests.conftest import Backend, Staff, _client, create_staff
from tests.factories import (
    ago,
    create_patient,
    create_plan,
    iso,
    now,
    prepare_discharge,
    transition,
)
from tests.races import blocks_on_lock, needs_postgres, pause

LOG = "/v1/controlled-substances/log"
OVERRIDE = "Dr. Lee: top-up ordered, tolerating well"


def dose(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "medication": "ketamine",
        "route": "iv_infusion",
        "dose_mg": 40,
        "started_at": iso(ago(140)),
        "lot_number": "KET-24-0917",
        **overrides,
    }
    return {k: v for k, v in body.items() if v is not None}


async def give(client: httpx.AsyncClient, sid: str, **overrides: Any) -> httpx.Response:
    return await client.post(f"/v1/sessions/{sid}/administrations", json=dose(**overrides))


def url(sid: str, aid: str, what: str) -> str:
    return f"/v1/sessions/{sid}/administrations/{aid}/{what}"


async def new_staff(admin: httpx.AsyncClient, role: str) -> tuple[str, str, str]:
    """(id, username, token) of a new member of staff (display name = username)."""
    username = f"{role}-{uuid.uuid4().hex[:8]}"
    uid, token = await create_staff(admin, role, username)
    return uid, username, token


async def test_the_session_total_never_exceeds_max_dose(
    client: httpx.AsyncClient, nurse_client: httpx.AsyncClient
) -> None:
    session = await dosing_session(client)  # planned 40 mg, max_dose_mg 60
    sid = session["id"]
    await ok(await give(client, sid, dose_mg=40), 201)

    r = await give(nurse_client, sid, dose_mg=5, started_at=iso(ago(130)))
    assert r.status_code == 409
    assert r.json()["code"] == "above_planned_dose"
    [item] = r.json()["unmet"]
    assert (item["code"], item["overridable"]) == ("above_planned_dose", True)

    r = await give(client, sid, dose_mg=25, override_reason=OVERRIDE)
    assert r.status_code == 409, r.text
    problem = r.json()
    assert problem["code"] == "above_max_dose"
    assert unmet_codes(problem) == ["above_max_dose", "above_planned_dose"]
    assert [u["overridable"] for u in problem["unmet"]] == [False, True]
    assert "60 mg" in problem["unmet"][0]["message"]
    assert problem["max_dose_mg"] == 60

    body = await ok(await give(client, sid, dose_mg=20, override_reason=OVERRIDE), 201)
    assert body["exceeds_planned_dose"] is True
    r = await give(client, sid, dose_mg=0.1, override_reason=OVERRIDE)
    assert r.json()["code"] == "above_max_dose"
    listing = await ok(await client.get(f"/v1/sessions/{sid}/administrations"))
    assert listing["total_given_mg"] == 60


async def test_override_reasons(client: httpx.AsyncClient, nurse_client: httpx.AsyncClient) -> None:
    session = await dosing_session(client)
    sid = session["id"]
    # a nurse's override_reason is 403 even where no override is needed
    r = await give(nurse_client, sid, dose_mg=10, override_reason=OVERRIDE)
    assert r.status_code == 403
    r = await give(client, sid, dose_mg=50, override_reason="x")
    assert r.status_code == 422
    assert r.json()["errors"][0]["loc"] == ["body", "override_reason"]
    listing = await ok(await client.get(f"/v1/sessions/{sid}/administrations"))
    assert listing["items"] == []


async def test_esketamine_devices_five_minutes_apart(client: httpx.AsyncClient) -> None:
    session = await dosing_session(client, **ESKETAMINE_PLAN)  # planned 56, max 84
    sid = session["id"]
    esk = {"medication": "esketamine", "route": "intranasal", "lot_number": "SPR-1"}

    r = await give(client, sid, dose_mg=56, **esk)
    assert r.status_code == 422
    assert r.json()["code"] == "device_interval"
    assert r.json()["errors"][0] == {
        "loc": ["body", "ended_at"],
        "msg": r.json()["errors"][0]["msg"],
        "code": "device_interval",
    }
    r = await give(client, sid, dose_mg=56, ended_at=iso(ago(139)), **esk)
    assert r.json()["code"] == "device_interval"
    first = await ok(await give(client, sid, dose_mg=56, ended_at=iso(ago(135)), **esk), 201)
    assert first["devices"] == 2

    r = await give(
        client, sid, dose_mg=28, started_at=iso(ago(134)), override_reason=OVERRIDE, **esk
    )
    assert r.status_code == 422
    assert r.json()["code"] == "device_interval"
    assert r.json()["errors"][0]["loc"] == ["body", "started_at"]
    await ok(
        await give(
            client, sid, dose_mg=28, started_at=iso(ago(130)), override_reason=OVERRIDE, **esk
        ),
        201,
    )
    r = await give(
        client, sid, dose_mg=28, started_at=iso(ago(120)), override_reason=OVERRIDE, **esk
    )
    assert r.status_code == 409
    assert r.json()["code"] == "above_max_dose"  # 112 mg > 84 mg, override or not


async def test_ndc_and_container(client: httpx.AsyncClient) -> None:
    session = await dosing_session(client)
    lot = f"KET-{uuid.uuid4().hex[:6]}"
    body = await ok(
        await give(
            client,
            session["id"],
            lot_number=lot,
            ndc="0409-2051-05",
            container="10 mL vial, 50 mg/mL",
        ),
        201,
    )
    assert (body["ndc"], body["container"]) == ("0409-2051-05", "10 mL vial, 50 mg/mL")
    [entry] = (await ok(await client.get(LOG, params={"lot": lot})))["items"]
    assert (entry["ndc"], entry["container"]) == ("0409-2051-05", "10 mL vial, 50 mg/mL")
    r = await give(client, session["id"], ndc="not an ndc")
    assert r.status_code == 422


async def test_waste_is_witnessed_by_the_witness(
    app: FastAPI,
    client: httpx.AsyncClient,
    nurse_client: httpx.AsyncClient,
    admin_client: httpx.AsyncClient,
    staff: Staff,
) -> None:
    witness_id, witness_name, witness_token = await new_staff(admin_client, "nurse")
    other_id, other_name, other_token = await new_staff(admin_client, "clinician")
    patient = await create_patient(client, address="12 Elm St, Springfield, IL 62701")
    plan = await create_plan(client, patient["id"])
    session = await monitoring_session(client, plan=plan)
    sid = session["id"]
    lot = f"KET-{uuid.uuid4().hex[:6]}"

    # the witness named by username
    given = await ok(
        await give(
            nurse_client,
            sid,
            dose_mg=36,
            lot_number=lot,
            concentration_mg_per_ml=10,
            volume_drawn_ml=5,
            volume_administered_ml=3.6,
            wasted_mg=14,
            waste_witness_id=witness_name,
        ),
        201,
    )
    aid = given["id"]
    assert given["waste_witness_id"] == witness_id
    assert given["waste_witness_name"] == witness_name
    assert given["witness_status"] == "pending"
    assert given["witnessed_at"] is None
    assert given["administered_by_name"]

    # pending waste blocks discharge, and no override passes it
    await ready_to_discharge(client, sid)
    await prepare_discharge(client, sid, now())
    r = await transition(client, sid, "discharged")
    assert r.status_code == 409
    [item] = [u for u in r.json()["unmet"] if u["code"] == "waste_unwitnessed"]
    assert item["administration_id"] == aid
    assert item["overridable"] is False
    assert witness_name in item["message"]
    r = await transition(client, sid, "discharged", override_reason=OVERRIDE)
    assert r.status_code == 409
    readiness = await ok(await client.get(f"/v1/sessions/{sid}/readiness"))
    assert "waste_unwitnessed" in unmet_codes(readiness["discharge"])

    # the log shows it pending, people by name, the patient's address
    pending = await ok(await client.get(LOG, params={"lot": lot, "witness_status": "pending"}))
    [entry] = pending["items"]
    assert entry["witness_status"] == "pending"
    assert entry["waste_witness_name"] == witness_name
    assert entry["administered_by_name"] == given["administered_by_name"]
    assert entry["patient_address"] == "12 Elm St, Springfield, IL 62701"
    assert "not yet confirmed" in entry["disposal"]
    none = await ok(await client.get(LOG, params={"lot": lot, "witness_status": "witnessed"}))
    assert none["items"] == []
    assert (await client.get(LOG, params={"witness_status": "maybe"})).status_code == 422

    # nobody else confirms it: not the giver, not another clinician
    async with _client(app, other_token) as other, _client(app, witness_token) as witness:
        for someone in (nurse_client, other):
            r = await someone.post(url(sid, aid, "witness"), json={"attest": True})
            assert r.status_code == 403
            assert witness_name in r.json()["detail"]
        # only the giver names another witness
        r = await other.put(url(sid, aid, "witness-request"), json={"witness": other_name})
        assert r.status_code == 403
        r = await nurse_client.put(url(sid, aid, "witness-request"), json={"witness": "nobody-x"})
        assert r.status_code == 422
        assert r.json()["errors"][0]["loc"] == ["body", "witness"]
        moved = await ok(
            await nurse_client.put(url(sid, aid, "witness-request"), json={"witness": other_name})
        )
        assert (moved["waste_witness_id"], moved["witness_status"]) == (other_id, "pending")
        r = await witness.post(url(sid, aid, "witness"), json={"attest": True})
        assert r.status_code == 403  # no longer the witness
        assert (
            await other.post(url(sid, aid, "witness"), json={"attest": False})
        ).status_code == 422

        done = await ok(await other.post(url(sid, aid, "witness"), json={"attest": True}))
        assert done["witness_status"] == "witnessed"
        assert done["witnessed_at"].endswith("Z")
        assert done["waste_witness_name"] == other_name
        again = await other.post(url(sid, aid, "witness"), json={"attest": True})
        assert again.status_code == 409
        r = await nurse_client.put(url(sid, aid, "witness-request"), json={"witness": witness_name})
        assert r.status_code == 409

    witnessed = await ok(await client.get(LOG, params={"lot": lot, "witness_status": "witnessed"}))
    assert [e["administration_id"] for e in witnessed["items"]] == [aid]
    csv_rows = list(
        csv.DictReader(
            io.StringIO(
                (await client.get(LOG, params={"lot": lot}, headers={"Accept": "text/csv"})).text
            )
        )
    )
    assert csv_rows[0]["witness_status"] == "witnessed"
    assert csv_rows[0]["waste_witness_name"] == other_name
    assert csv_rows[0]["patient_address"] == "12 Elm St, Springfield, IL 62701"
    await ok(await transition(client, sid, "discharged"))
    assert staff.ids["nurse"] == given["administered_by"]


async def test_who_may_witness(client: httpx.AsyncClient, admin_client: httpx.AsyncClient) -> None:
    leaver_id, leaver_name, _ = await new_staff(admin_client, "nurse")
    await ok(await admin_client.post(f"/v1/users/{leaver_id}/disable"))
    session = await dosing_session(client)
    sid = session["id"]
    waste = {"dose_mg": 36, "wasted_mg": 4}
    for witness, words in (
        (leaver_name, f"{leaver_name}'s account is disabled"),
        ("admin", "is an admin"),
        ("no-such-person", "Nobody on staff has the id or username 'no-such-person'"),
    ):
        r = await give(client, sid, **waste, waste_witness_id=witness)
        assert r.status_code == 422, witness
        assert words in r.json()["errors"][0]["msg"]
        assert "not a member of staff" not in r.text
    # a retracted dose's pending waste blocks nothing
    nurse_id, nurse_name, _ = await new_staff(admin_client, "nurse")
    given = await ok(await give(client, sid, **waste, waste_witness_id=nurse_id.upper()), 201)
    assert given["waste_witness_id"] == nurse_id
    await ok(await client.post(url(sid, given["id"], "retract"), json={"reason": "wrong session"}))
    readiness = await ok(await client.get(f"/v1/sessions/{sid}/readiness"))
    assert "waste_unwitnessed" not in unmet_codes(readiness["discharge"])
    r = await client.post(url(sid, given["id"], "witness"), json={"attest": True})
    assert r.status_code == 403  # still only the witness; and for them it is 409
    assert nurse_name


async def test_a_dose_without_waste_has_no_witness_status(client: httpx.AsyncClient) -> None:
    live = await dosing_session(client)
    body = await ok(await give(client, live["id"]), 201)
    assert body["witness_status"] is None
    r = await client.post(url(live["id"], body["id"], "witness"), json={"attest": True})
    assert r.status_code == 409


async def test_two_confirmations_at_once_store_one(
    app: FastAPI,
    client: httpx.AsyncClient,
    admin_client: httpx.AsyncClient,
    backend: Backend,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The witness's two devices confirm at the same moment: the first holds the session's lock
    until it commits, the second then sees the waste witnessed (409)."""
    needs_postgres(backend)
    witness_id, _, witness_token = await new_staff(admin_client, "nurse")
    session = await dosing_session(client)
    sid = session["id"]
    given = await ok(
        await give(client, sid, dose_mg=36, wasted_mg=4, waste_witness_id=witness_id), 201
    )
    paused = pause(monkeypatch, administrations_service, "staff_names")  # after the lock
    async with _client(app, witness_token) as witness:
        first = asyncio.create_task(
            witness.post(url(sid, given["id"], "witness"), json={"attest": True})
        )
        await paused.wait_entered()
        second = asyncio.create_task(
            witness.post(url(sid, given["id"], "witness"), json={"attest": True})
        )
        assert await blocks_on_lock(backend, second), "the second did not wait for the first"
        paused.release()
        a, b = await first, await second
    assert (a.status_code, b.status_code) == (200, 409), (a.text, b.text)
    assert a.json()["witness_status"] == "witnessed"
