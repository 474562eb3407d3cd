"""Retracting a dose given by mistake (SPEC §1, §6): it stays on record and in the
controlled-substance log, and no longer counts toward the session total or the REMS form."""

from __future__ import annotations

import asyncio
import csv
import io
import uuid
from typing import Any

import httpx

from tests.api.safety_helpers import ESKETAMINE_PLAN, dosing_session, ok
from tests.conftest import Staff
from tests.factories import ago, iso

REASON = "typed 30 mg for 40 mg"


async def give(client: httpx.AsyncClient, sid: str, **overrides: Any) -> httpx.Response:
    body: dict[str, Any] = {
        "medication": "ketamine",
        "route": "iv_infusion",
        "dose_mg": 40,
        "started_at": iso(ago(140)),
        "lot_number": "KET-24-0917",
        **overrides,
    }
    return await client.post(f"/v1/sessions/{sid}/administrations", json=body)


def retract_url(sid: str, administration_id: str) -> str:
    return f"/v1/sessions/{sid}/administrations/{administration_id}/retract"


async def test_a_retracted_dose_leaves_the_total_and_the_correct_dose_needs_no_override(
    client: httpx.AsyncClient, nurse_client: httpx.AsyncClient, staff: Staff
) -> None:
    session = await dosing_session(client)  # planned 40 mg
    sid = session["id"]
    wrong = await ok(await give(nurse_client, sid, dose_mg=30), 201)
    assert wrong["status"] == "final"
    assert wrong["retracted_at"] is None
    # The mistyped 30 mg counts: the 40 mg actually given is refused without an override.
    assert (await give(nurse_client, sid, dose_mg=40)).status_code == 409

    body = await ok(await nurse_client.post(retract_url(sid, wrong["id"]), json={"reason": REASON}))
    assert body["id"] == wrong["id"]
    assert body["dose_mg"] == 30  # the record is kept as it was entered
    assert body["status"] == "entered-in-error"
    assert body["retraction_reason"] == REASON
    assert body["retracted_by"] == staff.ids["nurse"]
    assert body["retracted_at"].endswith("Z")

    right = await ok(await give(nurse_client, sid, dose_mg=40), 201)
    assert right["exceeds_planned_dose"] is False
    listing = await ok(await client.get(f"/v1/sessions/{sid}/administrations"))
    assert [a["id"] for a in listing["items"]] == [right["id"]]
    assert listing["total_given_mg"] == 40
    everything = await ok(
        await client.get(
            f"/v1/sessions/{sid}/administrations", params={"include_retracted": "true"}
        )
    )
    assert {a["id"]: a["status"] for a in everything["items"]} == {
        wrong["id"]: "entered-in-error",
        right["id"]: "final",
    }
    assert everything["total_given_mg"] == 40
    # The session record keeps the whole history, each dose with its status.
    record = await ok(await client.get(f"/v1/sessions/{sid}"))
    statuses = {a["id"]: (a["status"], a["retraction_reason"]) for a in record["administrations"]}
    assert statuses == {wrong["id"]: ("entered-in-error", REASON), right["id"]: ("final", None)}

    again = await nurse_client.post(retract_url(sid, wrong["id"]), json={"reason": "again"})
    assert again.status_code == 409
    assert again.headers["content-type"] == "application/problem+json"
    assert again.json()["status"] == 409
    assert "already retracted" in again.json()["detail"]


async def test_retracting_needs_a_reason_a_known_dose_of_this_session_and_a_clinical_role(
    client: httpx.AsyncClient,
    admin_client: httpx.AsyncClient,
    integration_client: httpx.AsyncClient,
) -> None:
    session = await dosing_session(client)
    other = await dosing_session(client)
    sid = session["id"]
    given = await ok(await give(client, sid, dose_mg=20), 201)
    url = retract_url(sid, given["id"])
    for bad in ({}, {"reason": ""}, {"reason": "x", "extra": 1}):
        r = await client.post(url, json=bad)
        assert r.status_code == 422, bad
        assert r.headers["content-type"] == "application/problem+json"
    for wrong_url in (
        retract_url(sid, str(uuid.uuid4())),
        retract_url(sid, "not-a-uuid"),
        retract_url(other["id"], given["id"]),  # a dose of another session
        retract_url(str(uuid.uuid4()), given["id"]),
    ):
        r = await client.post(wrong_url, json={"reason": REASON})
        assert r.status_code == 404, wrong_url
        assert r.headers["content-type"] == "application/problem+json"
    assert (await admin_client.post(url, json={"reason": REASON})).status_code == 403
    assert (await integration_client.post(url, json={"reason": REASON})).status_code == 403
    # Nothing above retracted it.
    listing = await ok(await client.get(f"/v1/sessions/{sid}/administrations"))
    assert listing["total_given_mg"] == 20


async def test_concurrent_retractions_exactly_one_wins_and_it_is_audited_once(
    client: httpx.AsyncClient, admin_client: httpx.AsyncClient
) -> None:
    session = await dosing_session(client)
    sid = session["id"]
    given = await ok(await give(client, sid, dose_mg=20), 201)
    results = await asyncio.gather(
        *[
            client.post(retract_url(sid, given["id"]), json={"reason": f"race {n}"})
            for n in range(6)
        ]
    )
    codes = sorted(r.status_code for r in results)
    assert codes == [200, 409, 409, 409, 409, 409], codes
    winner = next(r.json() for r in results if r.status_code == 200)
    listing = await ok(
        await client.get(
            f"/v1/sessions/{sid}/administrations", params={"include_retracted": "true"}
        )
    )
    assert listing["items"][0]["retraction_reason"] == winner["retraction_reason"]

    events = (
        await ok(
            await admin_client.get(
                "/v1/audit-events", params={"patient_id": session["patient_id"], "limit": 500}
            )
        )
    )["items"]
    retracts = [
        e
        for e in events
        if (e["action"], e["resource_id"], e["outcome"]) == ("retract", given["id"], "success")
    ]
    assert len(retracts) == 1
    assert retracts[0]["resource_type"] == "administration"


async def test_the_controlled_substance_log_still_lists_a_retracted_dose(
    client: httpx.AsyncClient, nurse_client: httpx.AsyncClient, staff: Staff
) -> None:
    lot = f"KET-{uuid.uuid4().hex[:8]}"
    session = await dosing_session(client)
    sid = session["id"]
    wrong = await ok(await give(nurse_client, sid, dose_mg=30, lot_number=lot), 201)
    await ok(await nurse_client.post(retract_url(sid, wrong["id"]), json={"reason": REASON}))
    right = await ok(
        await give(nurse_client, sid, dose_mg=40, lot_number=lot, started_at=iso(ago(130))),
        201,
    )

    url = "/v1/controlled-substances/log"
    log = await ok(await client.get(url, params={"lot": lot}))
    entries = {e["administration_id"]: e for e in log["items"]}
    assert list(entries) == [wrong["id"], right["id"]]
    assert entries[wrong["id"]]["status"] == "entered-in-error"
    assert entries[wrong["id"]]["dose_mg"] == 30
    assert entries[wrong["id"]]["retracted_by"] == staff.ids["nurse"]
    assert entries[wrong["id"]]["retraction_reason"] == REASON
    assert entries[wrong["id"]]["retracted_at"].endswith("Z")
    assert entries[right["id"]]["status"] == "final"
    assert entries[right["id"]]["retracted_at"] is None

    r = await client.get(url, params={"lot": lot}, headers={"Accept": "text/csv"})
    assert r.status_code == 200
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert [(row["administration_id"], row["status"]) for row in rows] == [
        (wrong["id"], "entered-in-error"),
        (right["id"], "final"),
    ]
    assert rows[0]["retraction_reason"] == REASON
    assert rows[0]["retracted_by"] == staff.ids["nurse"]
    assert rows[0]["retracted_at"]
    assert rows[1]["retraction_reason"] == ""


async def test_the_rems_form_leaves_out_a_retracted_dose(client: httpx.AsyncClient) -> None:
    session = await dosing_session(client, dosing_at=150, **ESKETAMINE_PLAN)  # planned 56 mg
    sid = session["id"]
    spray = {
        "medication": "esketamine",
        "route": "intranasal",
        "dose_mg": 56,
        "devices": 2,
        "ended_at": iso(ago(135)),  # 5 minutes after the first device
    }
    wrong = await ok(await give(client, sid, **spray, lot_number="SPR-WRONG"), 201)
    await ok(await client.post(retract_url(sid, wrong["id"]), json={"reason": "wrong lot"}))
    await ok(await give(client, sid, **spray, lot_number="SPR-RIGHT"), 201)

    form = await ok(await client.get(f"/v1/sessions/{sid}/rems-form"))
    assert form["dose_mg"] == 56
    assert form["devices"] == 2
    assert form["lot_number"] == "SPR-RIGHT"
