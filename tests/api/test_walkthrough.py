"""One session from scheduled to discharged, as a nurse and clinician would walk it."""

from __future__ import annotations

import httpx

from tests.factories import (
    ago,
    create_patient,
    create_plan,
    create_session,
    good_predose,
    iso,
    post_vitals,
    prepare_discharge,
    prepare_dosing,
    transition,
    vital,
)


async def test_full_session_walkthrough(client: httpx.AsyncClient) -> None:
    patient = await create_patient(client, sex="male", height_cm=180)
    plan = await create_plan(client, patient["id"], min_monitoring_minutes=60)
    session = await create_session(client, plan=plan)
    sid = session["id"]
    assert session["status"] == "scheduled"
    assert session["plan_revision"] == 1

    r = await transition(client, sid, "checked_in", weight_kg=80, at=ago(100))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["weight_kg"] == 80
    assert body["basis_weight_kg"] == 80
    assert body["planned_dose_mg"] == 40.0
    assert body["dose_capped"] is False

    assert (await post_vitals(client, sid, good_predose(ago(95)))).status_code == 201
    await prepare_dosing(client, sid, ago(90))
    r = await transition(client, sid, "dosing", at=ago(90))
    assert r.status_code == 200, r.text

    intra = [
        vital("systolic_bp", 150, "mm[Hg]", ago(50)),
        vital("diastolic_bp", 95, "mm[Hg]", ago(50)),
        vital("spo2", 96, "%", ago(60)),
    ]
    assert (await post_vitals(client, sid, intra)).status_code == 201
    r = await transition(client, sid, "monitoring", at=ago(48))
    assert r.status_code == 200, r.text

    post = [
        vital("systolic_bp", 124, "mm[Hg]", ago(5)),
        vital("diastolic_bp", 80, "mm[Hg]", ago(5)),
        vital("heart_rate", 70, "/min", ago(5)),
        vital("spo2", 98, "%", ago(5)),
        vital("respiratory_rate", 16, "/min", ago(5)),
    ]
    r = await post_vitals(client, sid, post)
    assert r.status_code == 201
    assert [i["phase"] for i in r.json()["items"]] == ["post"] * 5

    r = await client.get(f"/v1/sessions/{sid}/vitals", params={"phase": "intra"})
    assert r.status_code == 200
    assert {i["code"] for i in r.json()["items"]} == {"systolic_bp", "diastolic_bp", "spo2"}

    r = await client.post(
        f"/v1/sessions/{sid}/assessments",
        json={"instrument": "moaas", "score": 5, "administered_at": iso(ago(4))},
    )
    assert r.status_code == 201, r.text
    await prepare_discharge(client, sid, ago(2))
    r = await transition(client, sid, "discharged", at=ago(2))
    assert r.status_code == 200, r.text

    r = await client.get(f"/v1/sessions/{sid}")
    record = r.json()
    assert record["status"] == "discharged"
    assert [t["to_status"] for t in record["transitions"]] == [
        "checked_in",
        "dosing",
        "monitoring",
        "discharged",
    ]
    summary = record["vitals_summary"]
    assert summary["last_pre_dose_bp"]["systolic"] == 122
    assert summary["peak_intra_systolic"]["value"] == 150
    assert summary["lowest_spo2"]["value"] == 96
    assert summary["last_bp_before_discharge"]["systolic"] == 124
    assert summary["monitoring_minutes"] == 88
