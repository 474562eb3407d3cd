"""The controlled-substance log: every administration and its waste (21 CFR 1304.22(c))."""

from __future__ import annotations

import csv
import io
import uuid

import httpx

from tests.api.safety_helpers import ESKETAMINE_PLAN, dosing_session, ok
from tests.conftest import Staff
from tests.factories import ago, iso


async def test_log_lists_administrations_and_waste_with_people_and_lot(
    client: httpx.AsyncClient,
    nurse_client: httpx.AsyncClient,
    admin_client: httpx.AsyncClient,
    staff: Staff,
) -> None:
    lot = f"KET-{uuid.uuid4().hex[:8]}"
    session = await dosing_session(client)
    given = await ok(
        await nurse_client.post(
            f"/v1/sessions/{session['id']}/administrations",
            json={
                "medication": "ketamine",
                "route": "iv_infusion",
                "dose_mg": 36,
                "started_at": iso(ago(140)),
                "ended_at": iso(ago(100)),
                "lot_number": lot,
                "expiry_date": "2030-06-30",
                "concentration_mg_per_ml": 10,
                "volume_drawn_ml": 5,
                "volume_administered_ml": 3.6,
                "wasted_mg": 14,
                "waste_witness_id": staff.ids["clinician"],
            },
        ),
        201,
    )
    for reader in (client, admin_client):
        body = await ok(await reader.get("/v1/controlled-substances/log", params={"lot": lot}))
        [entry] = body["items"]
        assert entry["administration_id"] == given["id"]
        assert entry["substance"] == "ketamine hydrochloride"
        assert entry["dea_schedule"] == "III"
        assert entry["strength"] == "10 mg/mL"
        assert entry["dosage_form"].startswith("injection")
        assert entry["dose_mg"] == 36
        assert entry["dose_ml"] == 3.6
        assert entry["wasted_mg"] == 14
        assert entry["wasted_ml"] == 1.4
        assert entry["disposal"]
        assert entry["lot_number"] == lot
        assert entry["expiry_date"] == "2030-06-30"
        assert entry["patient_id"] == session["patient_id"]
        assert entry["patient_name"] == "Ruiz, Ana"
        assert entry["session_id"] == session["id"]
        assert entry["administered_by"] == staff.ids["nurse"]
        assert entry["waste_witness_id"] == staff.ids["clinician"]
        assert entry["administered_at"].endswith("Z")
    assert (await nurse_client.get("/v1/controlled-substances/log")).status_code == 403


async def test_log_filters_pages_and_exports_csv(client: httpx.AsyncClient) -> None:
    lot = f"SPR-{uuid.uuid4().hex[:8]}"
    ids = []
    for started in (150, 148):
        session = await dosing_session(client, dosing_at=155, **ESKETAMINE_PLAN)
        r = await client.post(
            f"/v1/sessions/{session['id']}/administrations",
            json={
                "medication": "esketamine",
                "route": "intranasal",
                "dose_mg": 56,
                "started_at": iso(ago(started)),
                "ended_at": iso(ago(started - 5)),  # 2 devices, 5 minutes apart
                "lot_number": lot,
            },
        )
        ids.append((await ok(r, 201))["id"])
    url = "/v1/controlled-substances/log"
    page = await ok(await client.get(url, params={"lot": lot, "limit": 1}))
    assert [e["administration_id"] for e in page["items"]] == ids[:1]
    rest = await ok(await client.get(url, params={"lot": lot, "cursor": page["next_cursor"]}))
    assert [e["administration_id"] for e in rest["items"]] == ids[1:]
    assert rest["next_cursor"] is None
    assert rest["items"][0]["strength"] == "28 mg/device"
    assert rest["items"][0]["devices"] == 2

    window = {"lot": lot, "from": iso(ago(149)), "to": iso(ago(100))}
    body = await ok(await client.get(url, params=window))
    assert [e["administration_id"] for e in body["items"]] == ids[1:]

    r = await client.get(url, params={"lot": lot}, headers={"Accept": "text/csv"})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert [row["administration_id"] for row in rows] == ids
    assert rows[0]["substance"] == "esketamine hydrochloride"
    assert rows[0]["lot_number"] == lot
    assert "waste_witness_id" in rows[0]

    assert (await client.get(url, params={"from": "2026-01-01T00:00:00"})).status_code == 422
    assert (await client.get(url, params={"limit": 501})).status_code == 422
