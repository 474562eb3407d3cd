"""A complete Spravato session, from screening to a REMS form with nothing missing, filed
(SPEC §3, §4, §6, §11)."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI

from api.config import get_settings
from models import User
from tests.api.safety_helpers import ESKETAMINE_PLAN, assess, ok
from tests.conftest import Staff
from tests.factories import (
    create_patient,
    iso,
    now,
    post_vitals,
    record_screening,
    transition,
    vital,
)


async def test_spravato_session_from_screening_to_a_filed_rems_form(
    client: httpx.AsyncClient,
    nurse_client: httpx.AsyncClient,
    admin_client: httpx.AsyncClient,
    staff: Staff,
    app: FastAPI,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = get_settings()
    for target in (settings, app.state.settings):
        monkeypatch.setattr(target, "clinic_name", "Vigil Test Clinic")
        monkeypatch.setattr(target, "clinic_address", "1 Main St, Springfield, IL 62701")
    started = now()  # one clock read; every time below derives from it
    t0 = started - timedelta(minutes=200)
    # The whole session, and the medication list recorded now, fall on one clinic day whatever
    # the hour the test runs at: the clinic's zone is chosen so that it is mid-afternoon there.
    east = (15 - started.hour + 12) % 24 - 12  # hours east of UTC, -12..11
    zone = f"Etc/GMT{-east:+d}" if east else "UTC"  # POSIX sign: Etc/GMT-3 is UTC+3
    for target in (settings, app.state.settings):
        monkeypatch.setattr(target, "clinic_tz", zone)

    def at(minutes: float) -> str:
        return iso(t0 + timedelta(minutes=minutes))

    # screening (clinician) with REMS enrollment and a baseline
    patient = await create_patient(client, screening=False)
    pid = patient["id"]
    screening = await record_screening(
        client,
        pid,
        screened_at=at(-60 * 24 * 3),
        baseline=[
            {
                "instrument": "phq9",
                "items": [3, 2, 2, 2, 2, 2, 2, 1, 0],
                "administered_at": at(-4000),
            }
        ],
    )
    assert screening["meets_trd_criterion"] is True

    # medication list (nurse): lorazepam is a concomitant benzodiazepine
    meds = await nurse_client.put(
        f"/v1/patients/{pid}/medications",
        json={
            "items": [
                {"name": "sertraline", "class": "antidepressant", "dose": "100 mg daily"},
                {"name": "lorazepam", "class": "benzodiazepine", "dose": "0.5 mg prn"},
            ]
        },
        headers={"If-Match": '"0"'},
    )
    assert meds.status_code == 200, meds.text

    plan = await ok(
        await client.post(f"/v1/patients/{pid}/dosing-plans", json=ESKETAMINE_PLAN), 201
    )
    if hasattr(User, "phone"):  # staff contact details (another part of the issue)
        await ok(
            await admin_client.patch(
                f"/v1/users/{staff.ids['clinician']}",
                json={"phone": "+1 555 0199", "email": "dr.lee@clinic.example"},
            )
        )
    session = await ok(
        await nurse_client.post(
            "/v1/sessions",
            json={
                "patient_id": pid,
                "dosing_plan_id": plan["id"],
                "scheduled_at": at(0),
                "location": "chair-2",
                "responsible_clinician": staff.ids["clinician"],
            },
        ),
        201,
    )
    sid = session["id"]

    # check-in, pre-dose vitals and the checklist (nurse), dosing
    await ok(await transition(nurse_client, sid, "checked_in", at=t0))
    predose = [
        vital("systolic_bp", 128, "mm[Hg]", t0 + timedelta(minutes=5)),
        vital("diastolic_bp", 80, "mm[Hg]", t0 + timedelta(minutes=5)),
        vital("heart_rate", 72, "/min", t0 + timedelta(minutes=5)),
        vital("spo2", 98, "%", t0 + timedelta(minutes=5)),
    ]
    await ok(await post_vitals(nurse_client, sid, predose), 201)
    checklist = {
        "last_food_at": at(-180),
        "last_liquids_at": at(-60),
        "escort": {"name": "Luis Ruiz", "phone": "+1 555 0100"},
        "no_driving_acknowledged": True,
        "medication_changes": False,
        "pregnancy_test": "not_applicable",
        "consent_confirmed": True,
    }
    await ok(await nurse_client.put(f"/v1/sessions/{sid}/checklist", json=checklist))
    await ok(await transition(nurse_client, sid, "dosing", at=t0 + timedelta(minutes=10)))
    await ok(
        await nurse_client.post(
            f"/v1/sessions/{sid}/administrations",
            json={
                "medication": "esketamine",
                "route": "intranasal",
                "dose_mg": 56,
                "devices": 2,
                "started_at": at(10),
                "ended_at": at(15),
                "lot_number": "SPR-77812",
                "expiry_date": "2030-03-31",
            },
        ),
        201,
    )
    # monitoring: BP at ~40 minutes, SpO2 and respiratory rate, sedation and dissociation
    for minutes, sys, dia in ((30, 134, 84), (50, 138, 86), (80, 130, 82), (110, 126, 80)):
        ts = t0 + timedelta(minutes=minutes)
        await ok(
            await post_vitals(
                nurse_client,
                sid,
                [
                    vital("systolic_bp", sys, "mm[Hg]", ts),
                    vital("diastolic_bp", dia, "mm[Hg]", ts),
                    vital("heart_rate", 74, "/min", ts),
                    vital("spo2", 97, "%", ts),
                    vital("respiratory_rate", 14, "/min", ts),
                ],
            ),
            201,
        )
    await ok(await assess(nurse_client, sid, "moaas", t0 + timedelta(minutes=45), score=4), 201)
    await ok(
        await assess(
            nurse_client, sid, "cadss", t0 + timedelta(minutes=45), items=[1] * 6 + [0] * 17
        ),
        201,
    )
    await ok(
        await nurse_client.post(
            f"/v1/sessions/{sid}/adverse-events",
            json={
                "kind": "nausea",
                "severity": "mild",
                "onset_at": at(40),
                "resolved_at": at(70),
                "action_taken": "ondansetron 4 mg",
            },
        ),
        201,
    )
    await ok(
        await nurse_client.post(
            f"/v1/sessions/{sid}/medications",
            json={
                "name": "ondansetron",
                "dose": 4,
                "unit": "mg",
                "route": "oral",
                "given_at": at(42),
                "reason": "nausea",
                "controlled_schedule": None,
            },
        ),
        201,
    )
    await ok(await transition(nurse_client, sid, "monitoring", at=t0 + timedelta(minutes=15)))
    discharge_at = t0 + timedelta(minutes=135)
    await ok(
        await post_vitals(
            nurse_client,
            sid,
            [
                vital("systolic_bp", 124, "mm[Hg]", discharge_at - timedelta(minutes=3)),
                vital("diastolic_bp", 78, "mm[Hg]", discharge_at - timedelta(minutes=3)),
                vital("heart_rate", 70, "/min", discharge_at - timedelta(minutes=3)),
                vital("spo2", 98, "%", discharge_at - timedelta(minutes=3)),
                vital("respiratory_rate", 14, "/min", discharge_at - timedelta(minutes=3)),
            ],
        ),
        201,
    )
    await ok(
        await assess(nurse_client, sid, "moaas", discharge_at - timedelta(minutes=4), score=5), 201
    )
    await ok(
        await assess(
            nurse_client, sid, "cadss", discharge_at - timedelta(minutes=4), items=[0] * 23
        ),
        201,
    )
    await ok(
        await nurse_client.put(
            f"/v1/sessions/{sid}/discharge-checklist",
            json={
                "dissociation_resolved": True,
                "escort_present": True,
                "instructions_given": True,
                "ready_at": at(100),
            },
        )
    )
    await ok(await transition(nurse_client, sid, "discharged", at=discharge_at))

    form = await ok(await nurse_client.get(f"/v1/sessions/{sid}/rems-form"))
    contact_missing = (
        []
        if hasattr(User, "phone")
        else [
            "monitoring_provider.phone",
            "monitoring_provider.email",
        ]
    )
    assert form["missing"] == contact_missing
    assert form["first_treatment"] is True
    assert form["concomitant_medications"] == {
        "benzodiazepines": True,
        "sedative_hypnotics": False,
        "psychostimulants": False,
        "maois": False,
    }
    assert form["monitoring_provider"]["name"].startswith("clinician")
    assert form["healthcare_setting"] == {
        "name": "Vigil Test Clinic",
        "address": "1 Main St, Springfield, IL 62701",
    }
    assert form["minutes_until_ready"] == 90
    assert form["monitoring_minutes"] == 125
    assert form["bp_40_min"]["systolic"] == 138
    assert form["sedation"]["observed"] is True
    assert form["dissociation"]["observed"] is True
    assert form["respiratory_depression"]["observed"] is False
    assert [e["kind"] for e in form["adverse_events"]] == ["nausea"]
    record = await ok(await client.get(f"/v1/sessions/{sid}"))
    assert [m["name"] for m in record["other_medications"]] == ["ondansetron"]
    assert [e["kind"] for e in record["adverse_events"]] == ["nausea"]

    # filing: due, then submitted (once)
    due = await ok(await nurse_client.get("/v1/rems-forms", params={"status": "due", "limit": 500}))
    assert sid in [f["session_id"] for f in due["items"]]
    url = f"/v1/sessions/{sid}/rems-form/submissions"
    await ok(await nurse_client.post(url, json={"reference": "PMF-0001"}), 201)
    assert (await nurse_client.post(url, json={})).status_code == 409
    submitted = await ok(
        await nurse_client.get("/v1/rems-forms", params={"status": "submitted", "limit": 500})
    )
    assert sid in [f["session_id"] for f in submitted["items"]]
    due = await ok(await nurse_client.get("/v1/rems-forms", params={"status": "due", "limit": 500}))
    assert sid not in [f["session_id"] for f in due["items"]]
