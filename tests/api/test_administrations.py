"""Doses given (SPEC §6): planned-dose ceiling, esketamine devices, witnessed waste."""

from __future__ import annotations

import asyncio
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from fastapi import FastAPI

from tests.api.safety_helpers import (
    ESKETAMINE_PLAN,
    checked_in_session,
    dosing_session,
    monitoring_session,
    ok,
    ready_to_discharge,
)
from tests.conftest import Staff, create_staff
from tests.factories import IV_PLAN, ago, create_session, iso, now, prepare_discharge, transition


def dose(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "medication": "ketamine",
        "route": "iv_infusion",
        "dose_mg": 40,
        "started_at": iso(ago(140)),
        "lot_number": "KET-24-0917",
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}


async def give(client: httpx.AsyncClient, sid: str, **overrides: Any) -> httpx.Response:
    return await client.post(f"/v1/sessions/{sid}/administrations", json=dose(**overrides))


async def test_record_a_dose_with_every_field(
    nurse_client: httpx.AsyncClient, client: httpx.AsyncClient, staff: Staff
) -> None:
    session = await dosing_session(client)
    sid = session["id"]
    body = await ok(
        await give(
            nurse_client,
            sid,
            dose_mg=40,
            ended_at=iso(ago(100)),
            expiry_date="2030-06-30",
            concentration_mg_per_ml=10,
            volume_drawn_ml=5,
            volume_administered_ml=4,
            wasted_mg=10,
            waste_witness_id=staff.ids["nurse2"],
        ),
        201,
    )
    assert body["administered_by"] == staff.ids["nurse"]
    assert body["dose_mg"] == 40
    assert body["lot_number"] == "KET-24-0917"
    assert body["expiry_date"] == "2030-06-30"
    assert body["wasted_mg"] == 10
    assert body["waste_witness_id"] == staff.ids["nurse2"]
    assert body["exceeds_planned_dose"] is False
    assert body["started_at"].endswith("Z")

    listing = await ok(await nurse_client.get(f"/v1/sessions/{sid}/administrations"))
    assert [a["id"] for a in listing["items"]] == [body["id"]]
    assert listing["total_given_mg"] == 40
    assert listing["planned_dose_mg"] == 40

    record = await ok(await client.get(f"/v1/sessions/{sid}"))
    assert [a["id"] for a in record["administrations"]] == [body["id"]]
    assert record["administrations"][0]["dose_mg"] == 40
    assert record["administrations"][0]["started_at"].endswith("Z")
    assert record["administrations"][0]["id"] == body["id"]


async def test_total_above_planned_dose_needs_a_clinician_override(
    client: httpx.AsyncClient, nurse_client: httpx.AsyncClient
) -> None:
    session = await dosing_session(client)  # planned 40 mg (0.5 mg/kg × 80 kg)
    sid = session["id"]
    await ok(await give(client, sid, dose_mg=30), 201)
    r = await give(nurse_client, sid, dose_mg=15, started_at=iso(ago(130)))
    assert r.status_code == 409
    problem = r.json()
    assert problem["planned_dose_mg"] == 40
    assert problem["already_given_mg"] == 30
    assert problem["remaining_mg"] == 10
    assert "above the planned dose of 40 mg" in problem["detail"]

    r = await give(nurse_client, sid, dose_mg=15, override_reason="top-up ordered")
    assert r.status_code == 403
    # Within the plan, no override needed.
    await ok(await give(nurse_client, sid, dose_mg=10), 201)
    body = await ok(
        await give(client, sid, dose_mg=5, override_reason="Dr. Lee: 5 mg top-up, tolerated"),
        201,
    )
    assert body["exceeds_planned_dose"] is True
    assert body["override_reason"] == "Dr. Lee: 5 mg top-up, tolerated"
    listing = await ok(await client.get(f"/v1/sessions/{sid}/administrations"))
    assert listing["total_given_mg"] == 45


async def test_esketamine_is_given_in_whole_devices(client: httpx.AsyncClient) -> None:
    session = await dosing_session(client, **ESKETAMINE_PLAN)
    sid = session["id"]
    esk = {"medication": "esketamine", "route": "intranasal"}
    r = await give(client, sid, dose_mg=50, **esk)
    assert r.status_code == 422
    assert r.json()["errors"][0]["loc"] == ["body", "dose_mg"]
    assert "28 mg" in r.json()["errors"][0]["msg"]

    r = await give(client, sid, dose_mg=56, devices=3, **esk)
    assert r.status_code == 422
    assert r.json()["errors"][0]["loc"] == ["body", "devices"]

    body = await ok(await give(client, sid, dose_mg=56, ended_at=iso(ago(135)), **esk), 201)
    assert body["devices"] == 2
    r = await give(client, sid, dose_mg=28, devices=1, started_at=iso(ago(130)), **esk)
    assert r.status_code == 409  # 84 mg > planned 56 mg


async def test_devices_only_for_esketamine(client: httpx.AsyncClient) -> None:
    session = await dosing_session(client)
    r = await give(client, session["id"], devices=1)
    assert r.status_code == 422
    assert r.json()["errors"][0]["loc"] == ["body", "devices"]


@pytest.mark.parametrize(
    ("witness", "status", "words"),
    [
        (None, 422, "witness"),
        ("self", 422, "different person"),
        ("admin", 422, "nurse or clinician"),
        ("unknown", 422, "Nobody on staff has the id or username"),
        ("not-a-uuid", 422, "Nobody on staff has the id or username"),
        ("nurse2", 201, None),
        ("clinician2", 201, None),
    ],
)
async def test_waste_needs_another_nurse_or_clinician_as_witness(
    client: httpx.AsyncClient,
    staff: Staff,
    witness: str | None,
    status: int,
    words: str | None,
) -> None:
    session = await dosing_session(client)
    witness_id = {
        None: None,
        "self": staff.ids["clinician"],
        "unknown": "0b1f4a84-9a2c-4f7e-8f55-2c3d4e5f6a7b",
        "not-a-uuid": "not-a-uuid",
    }.get(witness, staff.ids.get(witness or "", ""))
    r = await give(client, session["id"], dose_mg=36, wasted_mg=14, waste_witness_id=witness_id)
    assert r.status_code == status, r.text
    if words:
        error = r.json()["errors"][0]
        assert error["loc"] == ["body", "waste_witness_id"]
        assert words in error["msg"]


async def test_amounts_must_add_up(client: httpx.AsyncClient, staff: Staff) -> None:
    session = await dosing_session(client)
    sid = session["id"]
    r = await give(client, sid, dose_mg=40, concentration_mg_per_ml=10, volume_administered_ml=3)
    assert r.status_code == 422
    assert r.json()["errors"][0]["loc"] == ["body", "volume_administered_ml"]
    r = await give(client, sid, volume_drawn_ml=3, volume_administered_ml=4)
    assert r.status_code == 422
    r = await give(
        client,
        sid,
        dose_mg=30,
        concentration_mg_per_ml=10,
        volume_drawn_ml=5,
        volume_administered_ml=3,
        wasted_mg=5,
        waste_witness_id=staff.ids["nurse"],
    )
    assert r.status_code == 422
    assert r.json()["errors"][0]["loc"] == ["body", "wasted_mg"]
    r = await give(client, sid, wasted_mg=-1)
    assert r.status_code == 422


async def test_expired_lot_and_times_are_checked(client: httpx.AsyncClient) -> None:
    session = await dosing_session(client)
    sid = session["id"]
    r = await give(client, sid, expiry_date="2020-01-31")
    assert r.status_code == 422
    assert r.json()["errors"][0]["loc"] == ["body", "expiry_date"]
    r = await give(client, sid, ended_at=iso(ago(150)))
    assert r.status_code == 422
    r = await give(client, sid, started_at=iso(ago(500)))  # before check-in
    assert r.status_code == 422
    r = await give(client, sid, started_at="2026-12-01T09:00:00")  # no offset
    assert r.status_code == 422
    r = await give(client, sid, unknown_field=1)
    assert r.status_code == 422


async def test_medication_and_route_must_match_the_plan(client: httpx.AsyncClient) -> None:
    session = await dosing_session(client)
    sid = session["id"]
    r = await give(client, sid, medication="esketamine", route="intranasal", dose_mg=28)
    assert r.status_code == 409
    assert r.json()["field"] == "medication"
    r = await give(client, sid, route="im")
    assert r.status_code == 409
    assert r.json()["field"] == "route"


async def test_only_dosing_or_monitoring_sessions_take_doses(
    client: httpx.AsyncClient,
) -> None:
    scheduled = await create_session(client)
    r = await give(client, scheduled["id"])
    assert r.status_code == 409
    assert "scheduled" in r.json()["detail"]
    assert r.json()["status"] == 409
    assert r.json()["session_status"] == "scheduled"

    # Checked in but not dosing: the dose would bypass the pre-dose gate (and the readings
    # after it would count as pre-dose, raising no alert).
    checked_in = await checked_in_session(client, at=160)
    r = await give(client, checked_in["id"])
    assert r.status_code == 409
    assert "pre-dose" in r.json()["detail"]
    assert r.json()["session_status"] == "checked_in"

    session = await monitoring_session(client, min_monitoring_minutes=60)
    sid = session["id"]
    await ok(await give(client, sid, dose_mg=40), 201)
    await ready_to_discharge(client, sid)
    await prepare_discharge(client, sid, now())
    await ok(await transition(client, sid, "discharged"))
    r = await give(client, sid, dose_mg=1)
    assert r.status_code == 409
    assert (await client.get("/v1/sessions/nope/administrations")).status_code == 404
    r = await client.post("/v1/sessions/nope/administrations", json=dose())
    assert r.status_code == 404


async def test_witness_id_is_stored_canonically_and_a_disabled_witness_is_refused(
    client: httpx.AsyncClient, admin_client: httpx.AsyncClient, staff: Staff
) -> None:
    session = await dosing_session(client)
    sid = session["id"]
    body = await ok(
        await give(
            client, sid, dose_mg=20, wasted_mg=5, waste_witness_id=staff.ids["nurse"].upper()
        ),
        201,
    )
    assert body["waste_witness_id"] == staff.ids["nurse"]

    leaver_id, _ = await create_staff(admin_client, "nurse")
    await ok(await admin_client.post(f"/v1/users/{leaver_id}/disable"))
    r = await give(client, sid, dose_mg=10, wasted_mg=5, waste_witness_id=leaver_id)
    assert r.status_code == 422
    assert "disabled" in r.json()["errors"][0]["msg"]


async def test_concurrent_doses_cannot_both_slip_under_the_plan(client: httpx.AsyncClient) -> None:
    """Two nurses record 30 mg at once against a 40 mg plan: exactly one is accepted."""
    session = await dosing_session(client)
    sid = session["id"]
    results = await asyncio.gather(*[give(client, sid, dose_mg=30) for _ in range(6)])
    codes = sorted(r.status_code for r in results)
    assert codes.count(201) == 1, codes
    assert set(codes) == {201, 409}
    listing = await ok(await client.get(f"/v1/sessions/{sid}/administrations"))
    assert listing["total_given_mg"] == 30


async def test_a_dose_starts_within_the_sessions_dosing_window(client: httpx.AsyncClient) -> None:
    session = await monitoring_session(client, dosing_at=150, monitoring_at=100)
    sid = session["id"]
    r = await give(client, sid, started_at=iso(ago(155)))  # before dosing started
    assert r.status_code == 422
    assert r.json()["errors"][0]["loc"] == ["body", "started_at"]
    assert "before dosing started" in r.json()["errors"][0]["msg"]
    r = await give(client, sid, started_at=iso(ago(95)))  # after dosing ended
    assert r.status_code == 422
    assert "dosing ended" in r.json()["errors"][0]["msg"]
    await ok(await give(client, sid, started_at=iso(ago(150))), 201)  # at dosing start
    listing = await ok(await client.get(f"/v1/sessions/{sid}/administrations"))
    assert listing["total_given_mg"] == 40


async def test_what_was_drawn_and_not_given_is_accounted_for(
    client: httpx.AsyncClient, staff: Staff
) -> None:
    session = await dosing_session(client)
    sid = session["id"]
    # Volumes without a concentration: the 1.4 mL left over cannot go unrecorded.
    r = await give(client, sid, dose_mg=36, volume_drawn_ml=5, volume_administered_ml=3.6)
    assert r.status_code == 422
    assert r.json()["errors"][0]["loc"] == ["body", "wasted_mg"]
    assert "1.40 mL" in r.json()["errors"][0]["msg"]
    # A concentration and the volume drawn, no volume given: 50 mg drawn, 36 given, 14 left.
    r = await give(client, sid, dose_mg=36, concentration_mg_per_ml=10, volume_drawn_ml=5)
    assert r.status_code == 422
    assert r.json()["errors"][0]["loc"] == ["body", "wasted_mg"]
    assert "leaves 14.0 mg" in r.json()["errors"][0]["msg"]
    # More given than drawn.
    r = await give(client, sid, dose_mg=36, concentration_mg_per_ml=10, volume_drawn_ml=3)
    assert r.status_code == 422
    assert r.json()["errors"][0]["loc"] == ["body", "dose_mg"]
    # Accounted for: the leftover wasted, witnessed.
    await ok(
        await give(
            client,
            sid,
            dose_mg=36,
            concentration_mg_per_ml=10,
            volume_drawn_ml=5,
            wasted_mg=14,
            waste_witness_id=staff.ids["nurse"],
        ),
        201,
    )
    await ok(
        await give(
            client,
            sid,
            dose_mg=4,
            volume_drawn_ml=1,
            volume_administered_ml=0.4,
            wasted_mg=6,
            waste_witness_id=staff.ids["nurse"],
            override_reason=None,
        ),
        201,
    )


async def test_a_lot_expires_at_the_end_of_its_date_where_the_clinic_is(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    """VIGIL_CLINIC_TZ decides the dose's date, not UTC (one branch or the other runs, whatever
    the hour: east of UTC the clinic's date is ahead of UTC's, west of it behind)."""
    session = await dosing_session(client)
    sid = session["id"]
    started = ago(140)
    settings = app.state.settings
    east, west = "Pacific/Kiritimati", "Pacific/Pago_Pago"  # UTC+14, UTC-11
    try:
        if started.astimezone(ZoneInfo(east)).date() > started.date():
            app.state.settings = settings.model_copy(update={"clinic_tz": east})
            # It is still the expiry date in UTC, but the next day in the clinic: expired.
            r = await give(client, sid, started_at=iso(started), expiry_date=str(started.date()))
            assert r.status_code == 422, r.text
            assert r.json()["errors"][0]["loc"] == ["body", "expiry_date"]
        else:
            app.state.settings = settings.model_copy(update={"clinic_tz": west})
            local = started.astimezone(ZoneInfo(west)).date()
            assert local < started.date()
            # Already the next day in UTC, but still the expiry date in the clinic: usable.
            await ok(await give(client, sid, started_at=iso(started), expiry_date=str(local)), 201)
    finally:
        app.state.settings = settings


async def test_iv_esketamine_is_dosed_like_ketamine_not_in_nasal_devices(
    client: httpx.AsyncClient,
) -> None:
    """SPEC §3 constrains intranasal esketamine only: an IV esketamine plan is weight-based,
    its doses are not whole 28 mg devices, and it still needs 120 minutes of monitoring."""
    session = await dosing_session(
        client, medication="esketamine", dose_mg_per_kg=0.25, min_monitoring_minutes=120
    )
    sid = session["id"]
    record = await ok(await client.get(f"/v1/sessions/{sid}"))
    assert record["planned_dose_mg"] == 20  # 0.25 mg/kg x 80 kg
    body = await ok(
        await give(client, sid, medication="esketamine", dose_mg=20, concentration_mg_per_ml=5),
        201,
    )
    assert body["devices"] is None
    r = await give(client, sid, medication="esketamine", dose_mg=0.5, devices=1)
    assert r.status_code == 422
    assert r.json()["errors"][0]["loc"] == ["body", "devices"]
    log = await ok(await client.get("/v1/controlled-substances/log"))
    [entry] = [e for e in log["items"] if e["administration_id"] == body["id"]]
    assert entry["strength"] == "5 mg/mL"

    patient = record["patient_id"]
    r = await client.post(
        f"/v1/patients/{patient}/dosing-plans",
        json={**IV_PLAN, "medication": "esketamine", "min_monitoring_minutes": 60},
    )
    assert r.status_code == 422
    assert r.json()["errors"][0]["loc"][-1] == "min_monitoring_minutes"
