"""The treatment course, assessments between sessions and follow-ups (SPEC §12)."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI

from tests.api.safety_helpers import assess, monitoring_session, ok, ready_to_discharge
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
    record_screening,
    transition,
)

PHQ9_BASELINE = [3, 3, 2, 2, 2, 2, 2, 2, 0]  # 18


async def test_course_baseline_from_screening_response_and_remission(
    client: httpx.AsyncClient, nurse_client: httpx.AsyncClient
) -> None:
    patient = await create_patient(client, screening=False)
    pid = patient["id"]
    await record_screening(
        client,
        pid,
        baseline=[{"instrument": "phq9", "items": PHQ9_BASELINE, "administered_at": iso(ago(600))}],
    )
    plan = await create_plan(client, pid, sessions_planned=6)
    # one dosed session of the plan, with a PHQ-9 in the session
    sid = (await create_session(client, plan=plan))["id"]
    await ok(await transition(client, sid, "checked_in", weight_kg=80, at=ago(200)))
    await ok(await post_vitals(client, sid, good_predose(ago(185))), 201)
    await prepare_dosing(client, sid, ago(180))
    await ok(await transition(client, sid, "dosing", at=ago(180)))
    await ok(
        await client.post(
            f"/v1/sessions/{sid}/administrations",
            json={
                "medication": "ketamine",
                "route": "iv_infusion",
                "dose_mg": 40,
                "started_at": iso(ago(180)),
                "lot_number": "K-1",
            },
        ),
        201,
    )
    await ok(await transition(client, sid, "monitoring", at=ago(130)))
    await ok(await assess(client, sid, "phq9", ago(120), items=[2, 1, 1, 1, 1, 1, 1, 1, 0]), 201)
    await ready_to_discharge(client, sid)
    await prepare_discharge(client, sid, now())
    await ok(await transition(client, sid, "discharged"))
    # a cancelled one and a future one
    cancelled = (await create_session(client, plan=plan))["id"]
    await ok(await transition(client, cancelled, "cancelled", reason="patient ill"))
    future = await create_session(client, plan=plan)

    # phone PHQ-9 between sessions: 4, remission (< 5) and response (18 -> 4)
    phone = await nurse_client.post(
        f"/v1/patients/{pid}/assessments",
        json={
            "instrument": "phq9",
            "items": [1, 1, 1, 1, 0, 0, 0, 0, 0],
            "administered_at": iso(ago(10)),
            "source": "phone",
        },
    )
    assert phone.status_code == 201, phone.text
    assert phone.json()["session_id"] is None

    course = await ok(await nurse_client.get(f"/v1/patients/{pid}/course"))
    (entry,) = course["plans"]
    assert entry["sessions_planned"] == 6
    assert entry["sessions_dosed"] == 1
    assert entry["sessions_cancelled"] == 1
    assert entry["total_mg_given"] == 40
    assert entry["next_scheduled_at"] == future["scheduled_at"]
    assert entry["behind"] is False
    assert entry["days_since_last_dose"] == 0
    (phq9,) = entry["instruments"]
    assert phq9["baseline_total"] == 18
    assert phq9["baseline_source"] == "screening"
    assert phq9["latest_total"] == 4
    assert phq9["percent_change"] == -77.8
    assert phq9["response"] is True
    assert phq9["remission"] is True


async def test_course_baseline_without_screening_is_the_first_score_before_the_first_dose(
    client: httpx.AsyncClient,
) -> None:
    session = await monitoring_session(client)
    sid = session["id"]
    pid = session["patient_id"]
    await ok(await assess(client, sid, "madrs", ago(160), items=[3] * 10), 201)  # 30, pre-dose
    await ok(await assess(client, sid, "madrs", ago(90), items=[2] * 10), 201)  # 20
    course = await ok(await client.get(f"/v1/patients/{pid}/course"))
    (madrs,) = course["plans"][0]["instruments"]
    assert (madrs["baseline_total"], madrs["latest_total"]) == (30, 20)
    assert madrs["response"] is False
    assert madrs["remission"] is False
    # no sessions planned beyond: not behind; no next session
    assert course["plans"][0]["next_scheduled_at"] is None


async def test_phq9_item9_between_sessions_alerts_the_patient(
    client: httpx.AsyncClient, nurse_client: httpx.AsyncClient
) -> None:
    pid = (await create_patient(client))["id"]
    r = await nurse_client.post(
        f"/v1/patients/{pid}/assessments",
        json={
            "instrument": "phq9",
            "items": [1, 1, 1, 1, 1, 1, 1, 1, 1],
            "administered_at": iso(ago(5)),
            "source": "patient_reported",
        },
    )
    assert r.status_code == 201
    alert_id = r.json()["alert_id"]
    board = await ok(
        await nurse_client.get("/v1/alerts", params={"patient_id": pid, "status": "open"})
    )
    (alert,) = board["items"]
    assert alert["id"] == alert_id
    assert alert["session_id"] is None
    assert alert["severity"] == "critical"
    acked = await nurse_client.post(
        f"/v1/alerts/{alert_id}/acknowledge", json={"note": "called back, safety plan made"}
    )
    assert acked.status_code == 200
    bad = await nurse_client.post(
        f"/v1/patients/{pid}/assessments",
        json={
            "instrument": "moaas",
            "score": 5,
            "administered_at": iso(ago(5)),
            "source": "clinic",
        },
    )
    assert bad.status_code == 422
    missing_source = await nurse_client.post(
        f"/v1/patients/{pid}/assessments",
        json={"instrument": "gad7", "items": [0] * 7, "administered_at": iso(ago(5))},
    )
    assert missing_source.status_code == 422


async def test_follow_ups_due_after_discharge(
    client: httpx.AsyncClient, nurse_client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    session = await monitoring_session(client, min_monitoring_minutes=60)
    sid = session["id"]
    body = {"contacted_at": iso(ago(1)), "method": "phone", "outcome": "well"}
    assert (await nurse_client.post(f"/v1/sessions/{sid}/follow-ups", json=body)).status_code == 409
    await ready_to_discharge(client, sid)
    discharged_at = now() - timedelta(minutes=2)
    await prepare_discharge(client, sid, discharged_at)
    await ok(await transition(client, sid, "discharged", at=discharged_at))

    async def due_ids() -> list[str]:
        page = await ok(
            await nurse_client.get("/v1/follow-ups", params={"status": "due", "limit": 500})
        )
        return [d["session_id"] for d in page["items"]]

    assert sid in await due_ids()
    early = {**body, "contacted_at": iso(discharged_at - timedelta(minutes=1))}
    assert (
        await nurse_client.post(f"/v1/sessions/{sid}/follow-ups", json=early)
    ).status_code == 422
    r = await nurse_client.post(f"/v1/sessions/{sid}/follow-ups", json=body)
    assert r.status_code == 201
    assert sid not in await due_ids()


async def test_follow_up_overdue_after_the_window(
    client: httpx.AsyncClient,
    nurse_client: httpx.AsyncClient,
    monkeypatch: pytest.MonkeyPatch,
    app: FastAPI,
) -> None:
    session = await monitoring_session(client, min_monitoring_minutes=60)
    sid = session["id"]
    await ready_to_discharge(client, sid)
    discharged_at = now() - timedelta(minutes=2)
    await prepare_discharge(client, sid, discharged_at)
    await ok(await transition(client, sid, "discharged", at=discharged_at))
    page = await ok(
        await nurse_client.get("/v1/follow-ups", params={"status": "due", "limit": 500})
    )
    entry = next(d for d in page["items"] if d["session_id"] == sid)
    assert entry["overdue"] is False
    assert entry["due_by"] == iso(discharged_at + timedelta(hours=48))
    monkeypatch.setattr(app.state.settings, "follow_up_hours", 1)  # the app's settings
    page = await ok(
        await nurse_client.get("/v1/follow-ups", params={"status": "due", "limit": 500})
    )
    entry = next(d for d in page["items"] if d["session_id"] == sid)
    assert entry["due_by"] == iso(discharged_at + timedelta(hours=1))


async def test_between_session_scores_are_part_of_trends(client: httpx.AsyncClient) -> None:
    session = await monitoring_session(client)
    sid, pid = session["id"], session["patient_id"]
    await ok(await assess(client, sid, "gad7", ago(160), items=[2] * 7), 201)
    r = await client.post(
        f"/v1/patients/{pid}/assessments",
        json={
            "instrument": "gad7",
            "items": [1] * 7,
            "administered_at": iso(ago(5)),
            "source": "phone",
        },
    )
    assert r.status_code == 201
    trend = await ok(await client.get(f"/v1/patients/{pid}/trends", params={"instrument": "gad7"}))
    assert [(i["total"], i["source"]) for i in trend["items"]] == [(14, "session"), (7, "phone")]
    assert trend["items"][1]["session_id"] is None
