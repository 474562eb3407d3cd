"""Clinical-safety reads and writes leave audit events tied to the patient (SPEC §9)."""

from __future__ import annotations

import httpx

from tests.api.safety_helpers import assess, dosing_session, ok
from tests.conftest import Staff
from tests.factories import ago, iso, post_vitals, vital

# A critical alert is acknowledged with a note of at least 10 characters (SPEC §6).
ACK_NOTE = {"note": "Checked the patient, all well"}


async def test_safety_actions_are_audited(
    client: httpx.AsyncClient,
    nurse_client: httpx.AsyncClient,
    admin_client: httpx.AsyncClient,
    staff: Staff,
) -> None:
    session = await dosing_session(client)
    sid, pid = session["id"], session["patient_id"]
    await ok(await post_vitals(client, sid, [vital("spo2", 85, "%", ago(120))]), 201)
    [alert] = (await ok(await nurse_client.get(f"/v1/sessions/{sid}/alerts")))["items"]
    await ok(await nurse_client.post(f"/v1/alerts/{alert['id']}/acknowledge", json=ACK_NOTE))
    await ok(await assess(nurse_client, sid, "rass", ago(100), score=-1), 201)
    given = await ok(
        await nurse_client.post(
            f"/v1/sessions/{sid}/administrations",
            json={
                "medication": "ketamine",
                "route": "iv_infusion",
                "dose_mg": 40,
                "started_at": iso(ago(140)),
                "lot_number": "AUD-1",
            },
        ),
        201,
    )
    r = await nurse_client.post(
        f"/v1/sessions/{sid}/administrations",
        json={
            "medication": "ketamine",
            "route": "iv_infusion",
            "dose_mg": 10,
            "started_at": iso(ago(130)),
            "lot_number": "AUD-1",
            "override_reason": "more, the patient asked for it",
        },
    )
    assert r.status_code == 403

    events = (
        await ok(
            await admin_client.get("/v1/audit-events", params={"patient_id": pid, "limit": 500})
        )
    )["items"]
    seen = {(e["action"], e["resource_type"], e["outcome"]) for e in events}
    assert ("acknowledge", "alert", "success") in seen
    assert ("create", "assessment", "success") in seen
    assert ("create", "administration", "success") in seen
    assert ("read", "alert", "success") in seen
    ack = next(e for e in events if e["action"] == "acknowledge")
    assert ack["actor_id"] == staff.ids["nurse"]
    assert ack["resource_id"] == alert["id"]
    created = next(e for e in events if e["resource_id"] == given["id"])
    assert created["role"] == "nurse"
    denied = [e for e in events if e["outcome"] == "denied"]
    assert [(e["action"], e["resource_type"]) for e in denied] == [("override", "administration")]
