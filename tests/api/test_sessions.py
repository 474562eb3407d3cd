from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import httpx
import pytest

import api.types
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
    prepare_dosing,
    transition,
)


async def test_invalid_move_names_allowed_next(client: httpx.AsyncClient) -> None:
    session = await create_session(client)
    r = await transition(client, session["id"], "discharged")
    assert r.status_code == 409
    assert r.json()["allowed"] == ["checked_in", "cancelled"]


async def test_weight_required_for_weight_based_plans(client: httpx.AsyncClient) -> None:
    session = await create_session(client)
    r = await transition(client, session["id"], "checked_in")
    assert r.status_code == 409
    assert r.json()["unmet"][0]["code"] == "missing_weight"
    assert (await client.get(f"/v1/sessions/{session['id']}")).json()["status"] == "scheduled"


async def test_height_required_for_ideal_weight(client: httpx.AsyncClient) -> None:
    patient = await create_patient(client, height_cm=None)
    plan = await create_plan(client, patient["id"], weight_basis="ideal")
    session = await create_session(client, plan=plan)
    r = await transition(client, session["id"], "checked_in", weight_kg=90)
    assert r.status_code == 409
    assert r.json()["unmet"][0]["code"] == "missing_height"


async def test_dose_capped_and_adjusted_weight(client: httpx.AsyncClient) -> None:
    patient = await create_patient(client, sex="male", height_cm=180)
    plan = await create_plan(
        client,
        patient["id"],
        weight_basis="adjusted",
        dose_mg_per_kg=1.0,
        max_dose_mg=70,
        above_usual_reason="partial response at 0.75 mg/kg",
    )
    session = await create_session(client, plan=plan)
    body = (await transition(client, session["id"], "checked_in", weight_kg=120)).json()
    # IBW 75.0 kg; adjusted 75 + 0.4 × 45 = 93.0 kg; 93 mg capped to 70.
    assert body["basis_weight_kg"] == pytest.approx(93.0, abs=0.05)
    assert body["uncapped_dose_mg"] == pytest.approx(93.0, abs=0.05)
    assert body["planned_dose_mg"] == 70.0
    assert body["dose_capped"] is True


async def test_fixed_dose_plan(client: httpx.AsyncClient) -> None:
    patient = await create_patient(client)
    plan = await create_plan(
        client,
        patient["id"],
        medication="esketamine",
        route="intranasal",
        dose_mg_per_kg=None,
        dose_mg=56,
        max_dose_mg=84,
        infusion_minutes=None,
        min_monitoring_minutes=120,
    )
    session = await create_session(client, plan=plan)
    body = (await transition(client, session["id"], "checked_in")).json()
    assert body["planned_dose_mg"] == 56


async def test_transition_time_rules(client: httpx.AsyncClient) -> None:
    session = await create_session(client)
    sid = session["id"]
    assert (
        await transition(client, sid, "checked_in", weight_kg=70, at=ago(30))
    ).status_code == 200
    before = await transition(client, sid, "cancelled", reason="x", at=ago(40))
    assert before.status_code == 409
    future = await transition(client, sid, "cancelled", reason="x", at=now() + timedelta(hours=1))
    assert future.status_code == 422
    naive = await client.post(
        f"/v1/sessions/{sid}/transitions",
        json={"to": "cancelled", "reason": "x", "at": "2026-01-01T10:00:00"},
    )
    assert naive.status_code == 422
    assert (await transition(client, sid, "cancelled")).status_code == 422  # reason required
    assert (await transition(client, sid, "cancelled", reason="unwell")).status_code == 200


async def test_predose_gate_and_clinician_override(
    client: httpx.AsyncClient, nurse_client: httpx.AsyncClient
) -> None:
    session = await create_session(client)
    sid = session["id"]
    await transition(client, sid, "checked_in", weight_kg=70, at=ago(20))
    high = good_predose(ago(10))
    high[0]["value"], high[1]["value"] = 150, 95
    await post_vitals(client, sid, high)
    await prepare_dosing(nurse_client, sid, now())
    r = await transition(nurse_client, sid, "dosing")
    assert r.status_code == 409
    unmet = r.json()["unmet"]
    assert {(u["code"], u["vital"]) for u in unmet} == {
        ("above_limit", "systolic_bp"),
        ("above_limit", "diastolic_bp"),
    }
    assert all(u["message"] for u in unmet)
    r = await transition(nurse_client, sid, "dosing", override_reason="reviewed at the chair")
    assert r.status_code == 403
    r = await transition(client, sid, "dosing", override_reason="reviewed with patient")
    assert r.status_code == 200
    last = r.json()["transitions"][-1]
    assert last["override_reason"] == "reviewed with patient"
    assert {u["code"] for u in last["overridden"]} == {"above_limit"}


async def test_infusion_ended_early_needs_reason(client: httpx.AsyncClient) -> None:
    session = await create_session(client)
    sid = session["id"]
    await transition(client, sid, "checked_in", weight_kg=70, at=ago(30))
    await post_vitals(client, sid, good_predose(ago(25)))
    await prepare_dosing(client, sid, ago(20))
    assert (await transition(client, sid, "dosing", at=ago(20))).status_code == 200
    assert (await transition(client, sid, "monitoring")).status_code == 422
    r = await transition(client, sid, "monitoring", reason="patient asked to stop")
    assert r.status_code == 200


async def test_session_list_filters_pagination_and_csv(client: httpx.AsyncClient) -> None:
    patient = await create_patient(client)
    plan = await create_plan(client, patient["id"])
    location = f"chair-{uuid.uuid4().hex[:4]}"
    for day in range(3):
        r = await client.post(
            "/v1/sessions",
            json={
                "patient_id": patient["id"],
                "dosing_plan_id": plan["id"],
                "location": location,
                "scheduled_at": iso(now() + timedelta(days=day + 1)),
            },
        )
        assert r.status_code == 201
    page = (
        await client.get("/v1/sessions", params={"patient_id": patient["id"], "limit": 2})
    ).json()
    assert len(page["items"]) == 2
    assert page["next_cursor"]
    rest = (
        await client.get(
            "/v1/sessions",
            params={"patient_id": patient["id"], "limit": 2, "cursor": page["next_cursor"]},
        )
    ).json()
    times = [s["scheduled_at"] for s in page["items"] + rest["items"]]
    assert times == sorted(times, reverse=True)
    assert len(times) == 3
    by_location = (await client.get("/v1/sessions", params={"location": location})).json()
    assert len(by_location["items"]) == 3
    window = (
        await client.get(
            "/v1/sessions",
            params={"patient_id": patient["id"], "from": iso(now() + timedelta(days=1, hours=12))},
        )
    ).json()
    assert len(window["items"]) == 2
    csv = await client.get(
        "/v1/sessions", params={"patient_id": patient["id"]}, headers={"Accept": "text/csv"}
    )
    assert csv.headers["content-type"].startswith("text/csv")
    lines = csv.text.strip().splitlines()
    assert lines[0].startswith("id,patient_id,dosing_plan_id")
    assert len(lines) == 4


async def test_readiness_changes_nothing(client: httpx.AsyncClient) -> None:
    session = await create_session(client)
    await transition(client, session["id"], "checked_in", weight_kg=70)
    await prepare_dosing(client, session["id"], now())
    r = await client.get(f"/v1/sessions/{session['id']}/readiness")
    assert r.status_code == 200
    body = r.json()
    assert body["dosing"]["ready"] is False
    assert {u["code"] for u in body["dosing"]["unmet"]} == {"missing_reading"}
    assert (await client.get(f"/v1/sessions/{session['id']}")).json()["status"] == "checked_in"


async def test_stale_if_match_on_transition_is_412(client: httpx.AsyncClient) -> None:
    session = await create_session(client)
    r = await client.post(
        f"/v1/sessions/{session['id']}/transitions",
        json={"to": "cancelled", "reason": "x"},
        headers={"If-Match": '"9"'},
    )
    assert r.status_code == 412
    assert (await client.get(f"/v1/sessions/{session['id']}")).json()["status"] == "scheduled"


async def test_concurrent_conflicting_transitions_one_wins(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    """Ten nurses press "check in" at once: exactly one check-in happens."""
    session = await create_session(client)
    sid = session["id"]
    results = await asyncio.gather(
        *[transition(client, sid, "checked_in", weight_kg=70 + i) for i in range(10)]
    )
    codes = sorted(r.status_code for r in results)
    assert codes.count(200) == 1, codes
    assert set(codes) <= {200, 409, 412}
    final = (await client.get(f"/v1/sessions/{sid}")).json()
    assert len(final["transitions"]) == 1
    assert final["version"] == 2


async def test_concurrent_changes_with_the_same_etag_one_wins(client: httpx.AsyncClient) -> None:
    """Check-in and cancel decided on the same version: only one of them may happen."""
    session = await create_session(client)
    sid = session["id"]
    results = await asyncio.gather(
        *[
            client.post(f"/v1/sessions/{sid}/transitions", json=body, headers={"If-Match": '"1"'})
            for body in [{"to": "checked_in", "weight_kg": 70}, {"to": "cancelled", "reason": "x"}]
            * 4
        ]
    )
    codes = sorted(r.status_code for r in results)
    assert codes.count(200) == 1, codes
    assert set(codes) <= {200, 409, 412}
    assert len((await client.get(f"/v1/sessions/{sid}")).json()["transitions"]) == 1


@pytest.mark.parametrize("ahead_seconds", [100, 5])
async def test_transition_at_later_than_the_server_clock_is_422(
    client: httpx.AsyncClient, ahead_seconds: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SPEC §4: a transition's `at` is never in the future, not even within the 2-minute
    tolerance readings get (SPEC §1)."""
    sid = (await create_session(client))["id"]
    # the in-process server's clock fixed at the test's instant: the margin is exact
    monkeypatch.setattr(api.types, "server_now", now)
    ahead = now() + timedelta(seconds=ahead_seconds + 1)
    r = await transition(client, sid, "checked_in", weight_kg=70, at=ahead)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert [e["loc"] for e in r.json()["errors"]] == [["body", "at"]]
    assert (await client.get(f"/v1/sessions/{sid}")).json()["status"] == "scheduled"
    r = await transition(client, sid, "checked_in", weight_kg=70, at=now())
    assert r.status_code == 200, r.text
