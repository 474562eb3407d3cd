"""Retracting a score recorded by mistake (SPEC §1, §6): it stays on record, its alert is
resolved, and it no longer counts for the discharge gate, trends or the REMS form."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import orjson

from tests.api.safety_helpers import (
    ESKETAMINE_PLAN,
    assess,
    dosing_session,
    good_discharge_vitals,
    monitoring_session,
    ok,
    ready_to_discharge,
    unmet_codes,
)
from tests.conftest import Staff
from tests.factories import (
    ago,
    create_patient,
    create_plan,
    create_session,
    now,
    post_vitals,
    prepare_discharge,
)
from tests.factories import transition as move
from tests.integrations.helpers import sse_events

# A critical alert is acknowledged with a note of at least 10 characters (SPEC §6).
ACK_NOTE = {"note": "Checked the patient, all well"}

REASON = "item 9 typed as 2; the patient answered 0"


def retract_url(sid: str, assessment_id: str) -> str:
    return f"/v1/sessions/{sid}/assessments/{assessment_id}/retract"


async def discharge_unmet(client: httpx.AsyncClient, sid: str) -> list[str]:
    readiness = await ok(await client.get(f"/v1/sessions/{sid}/readiness"))
    return [u["code"] for u in readiness["discharge"]["unmet"]]


async def test_retracting_a_mistyped_phq9_item9_resolves_its_alert_and_unblocks_discharge(
    client: httpx.AsyncClient,
    nurse_client: httpx.AsyncClient,
    admin_client: httpx.AsyncClient,
    staff: Staff,
) -> None:
    session = await monitoring_session(client, min_monitoring_minutes=60)
    sid = session["id"]
    wrong = await ok(
        await assess(nurse_client, sid, "phq9", ago(30), items=[1, 1, 1, 1, 1, 1, 1, 1, 2]), 201
    )
    assert wrong["status"] == "final"
    assert wrong["alert_id"]
    await ready_to_discharge(client, sid)
    await prepare_discharge(client, sid, now())
    assert unmet_codes((await move(client, sid, "discharged")).json()) == ["open_alert"]

    body = await ok(await nurse_client.post(retract_url(sid, wrong["id"]), json={"reason": REASON}))
    assert body["id"] == wrong["id"]
    assert body["total"] == wrong["total"]  # kept as it was entered
    assert body["status"] == "entered-in-error"
    assert body["retraction_reason"] == REASON
    assert body["retracted_by"] == staff.ids["nurse"]
    assert body["retracted_at"].endswith("Z")
    assert body["alert_id"] == wrong["alert_id"]

    [alert] = (await ok(await client.get(f"/v1/sessions/{sid}/alerts")))["items"]
    assert alert["id"] == wrong["alert_id"]
    assert alert["status"] == "resolved"
    assert alert["resolution"] == "assessment retracted"
    assert alert["resolved_at"]
    ack = await nurse_client.post(f"/v1/alerts/{alert['id']}/acknowledge", json=ACK_NOTE)
    assert ack.status_code == 409
    assert "assessment retracted" in ack.json()["detail"]
    record = await ok(await client.get(f"/v1/sessions/{sid}"))
    assert record["alert_counts"]["critical_open"] == 0

    listed = await ok(await client.get(f"/v1/sessions/{sid}/assessments"))
    assert wrong["id"] not in [a["id"] for a in listed["items"]]
    everything = await ok(
        await client.get(f"/v1/sessions/{sid}/assessments", params={"include_retracted": "true"})
    )
    statuses = {a["id"]: a["status"] for a in everything["items"]}
    assert statuses[wrong["id"]] == "entered-in-error"
    assert set(statuses.values()) == {"final", "entered-in-error"}

    again = await nurse_client.post(retract_url(sid, wrong["id"]), json={"reason": "again"})
    assert again.status_code == 409
    assert again.headers["content-type"] == "application/problem+json"
    assert "already retracted" in again.json()["detail"]

    assert await discharge_unmet(client, sid) == []
    await ok(await move(client, sid, "discharged"))

    events = (
        await ok(
            await admin_client.get(
                "/v1/audit-events", params={"patient_id": session["patient_id"], "limit": 500}
            )
        )
    )["items"]
    retracts = [e for e in events if e["action"] == "retract" and e["outcome"] == "success"]
    assert [(e["resource_type"], e["resource_id"]) for e in retracts] == [
        ("assessment", wrong["id"])
    ]
    assert retracts[0]["actor_id"] == staff.ids["nurse"]


async def test_a_retracted_sedation_score_no_longer_counts_for_discharge(
    client: httpx.AsyncClient,
) -> None:
    session = await monitoring_session(client, min_monitoring_minutes=60)
    sid = session["id"]
    await prepare_discharge(client, sid, now())
    await ok(await post_vitals(client, sid, good_discharge_vitals(ago(3))), 201)
    resolved = await ok(await assess(client, sid, "moaas", ago(10), score=5), 201)
    mistyped = await ok(await assess(client, sid, "moaas", ago(4), score=2), 201)
    assert await discharge_unmet(client, sid) == ["sedation_not_resolved"]

    await ok(await client.post(retract_url(sid, mistyped["id"]), json={"reason": "wrong chair"}))
    assert await discharge_unmet(client, sid) == []
    await ok(await client.post(retract_url(sid, resolved["id"]), json={"reason": "wrong chair"}))
    assert await discharge_unmet(client, sid) == ["missing_sedation_score"]
    r = await move(client, sid, "discharged")
    assert unmet_codes(r.json()) == ["missing_sedation_score"]


async def test_trends_leave_out_a_retracted_score_and_do_not_take_it_as_baseline(
    client: httpx.AsyncClient,
) -> None:
    patient = await create_patient(client)
    plan = await create_plan(client, patient["id"])
    sid = (await create_session(client, plan=plan))["id"]
    mistyped = await ok(await assess(client, sid, "phq9", ago(90), items=[3] * 9), 201)  # 27
    await ok(await client.post(retract_url(sid, mistyped["id"]), json={"reason": "wrong form"}))
    await ok(await assess(client, sid, "phq9", ago(60), items=[2] * 9), 201)  # 18 baseline
    await ok(await assess(client, sid, "phq9", ago(30), items=[1] * 8 + [0]), 201)  # 8

    body = await ok(
        await client.get(f"/v1/patients/{patient['id']}/trends", params={"instrument": "phq9"})
    )
    rows = body["items"]
    assert [r["total"] for r in rows] == [18, 8]
    assert [r["baseline_total"] for r in rows] == [18, 18]
    assert rows[1]["response"] is True


async def test_the_rems_form_leaves_out_retracted_scores(client: httpx.AsyncClient) -> None:
    session = await dosing_session(client, dosing_at=150, **ESKETAMINE_PLAN)
    sid = session["id"]
    sedated = await ok(await assess(client, sid, "moaas", ago(120), score=2), 201)
    dissociated = await ok(await assess(client, sid, "cadss", ago(120), items=[2] * 23), 201)
    await ok(await assess(client, sid, "moaas", ago(110), score=5), 201)
    await ok(await assess(client, sid, "cadss", ago(110), items=[0] * 23), 201)
    form = await ok(await client.get(f"/v1/sessions/{sid}/rems-form"))
    assert form["sedation"]["observed"] is True
    assert form["dissociation"]["observed"] is True

    for wrong in (sedated, dissociated):
        await ok(await client.post(retract_url(sid, wrong["id"]), json={"reason": "other chair"}))
    form = await ok(await client.get(f"/v1/sessions/{sid}/rems-form"))
    assert form["sedation"]["observed"] is False
    assert form["dissociation"]["observed"] is False


async def test_retracting_needs_a_reason_a_known_score_of_this_session_and_a_clinical_role(
    client: httpx.AsyncClient,
    admin_client: httpx.AsyncClient,
    integration_client: httpx.AsyncClient,
) -> None:
    sid = (await create_session(client))["id"]
    other = (await create_session(client))["id"]
    scored = await ok(await assess(client, sid, "gad7", ago(5), items=[1] * 7), 201)
    url = retract_url(sid, scored["id"])
    for bad in ({}, {"reason": ""}, {"reason": "x", "extra": 1}):
        assert (await client.post(url, json=bad)).status_code == 422, bad
    for wrong_url in (
        retract_url(sid, str(uuid.uuid4())),
        retract_url(sid, "not-a-uuid"),
        retract_url(other, scored["id"]),
        retract_url(str(uuid.uuid4()), scored["id"]),
    ):
        r = await client.post(wrong_url, json={"reason": REASON})
        assert r.status_code == 404, wrong_url
        assert r.headers["content-type"] == "application/problem+json"
    assert (await admin_client.post(url, json={"reason": REASON})).status_code == 403
    assert (await integration_client.post(url, json={"reason": REASON})).status_code == 403
    [still] = (await ok(await client.get(f"/v1/sessions/{sid}/assessments")))["items"]
    assert still["status"] == "final"

    results = await asyncio.gather(
        *[client.post(url, json={"reason": f"race {n}"}) for n in range(6)]
    )
    assert sorted(r.status_code for r in results) == [200, 409, 409, 409, 409, 409]


async def test_the_live_streams_hear_that_the_alert_is_resolved(
    client: httpx.AsyncClient, nurse_client: httpx.AsyncClient
) -> None:
    session = await monitoring_session(client, min_monitoring_minutes=60)
    sid = session["id"]
    wrong = await ok(await assess(client, sid, "phq9", ago(30), items=[0] * 8 + [1]), 201)

    async def replay(last_id: str) -> list[dict[str, str]]:
        r = await nurse_client.get(
            f"/v1/sessions/{sid}/events",
            params={"max_seconds": 0},
            headers={"Last-Event-ID": last_id},
        )
        assert r.status_code == 200, r.text
        return [e async for e in sse_events(r) if e.get("event") != "heartbeat"]

    last = (await replay("0"))[-1]["id"]
    await ok(await client.post(retract_url(sid, wrong["id"]), json={"reason": REASON}))
    (event,) = await replay(last)
    assert event["event"] == "alert"
    data = orjson.loads(event["data"])
    assert data["status"] == "resolved"
    assert data["assessment_id"] == wrong["id"]
    [alert] = (await ok(await client.get(f"/v1/sessions/{sid}/alerts")))["items"]
    assert data == alert
