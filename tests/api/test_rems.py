"""The Spravato REMS Patient Monitoring Form assembled from an esketamine session (SPEC §6)."""

from __future__ import annotations

import httpx

from tests.api.safety_helpers import (
    ESKETAMINE_PLAN,
    assess,
    dosing_session,
    ok,
    ready_to_discharge,
)
from tests.factories import ago, iso, now, post_vitals, prepare_discharge, transition, vital


def bp(systolic: float, diastolic: float, minutes: float) -> list[dict[str, object]]:
    at = ago(minutes)
    return [
        vital("systolic_bp", systolic, "mm[Hg]", at),
        vital("diastolic_bp", diastolic, "mm[Hg]", at),
    ]


async def test_completed_esketamine_session_fills_the_form(client: httpx.AsyncClient) -> None:
    session = await dosing_session(client, dosing_at=150, **ESKETAMINE_PLAN)
    sid = session["id"]
    await ok(
        await client.post(
            f"/v1/sessions/{sid}/administrations",
            json={
                "medication": "esketamine",
                "route": "intranasal",
                "dose_mg": 56,
                "devices": 2,
                "started_at": iso(ago(150)),
                "ended_at": iso(ago(145)),
                "lot_number": "SPR-77812",
                "expiry_date": "2030-03-31",
            },
        ),
        201,
    )
    await ok(await post_vitals(client, sid, bp(138, 86, 110)), 201)  # ~40 min after dosing
    await ok(await post_vitals(client, sid, [vital("spo2", 97, "%", ago(110))]), 201)
    await ok(await post_vitals(client, sid, [vital("respiratory_rate", 14, "/min", ago(110))]), 201)
    await ok(await assess(client, sid, "moaas", ago(120), score=3), 201)
    await ok(await assess(client, sid, "cadss", ago(120), items=[1] * 10 + [0] * 13), 201)
    await ok(await transition(client, sid, "monitoring", at=ago(140)))
    await ready_to_discharge(client, sid)
    await prepare_discharge(client, sid, now())
    await ok(await transition(client, sid, "discharged"))

    form = await ok(await client.get(f"/v1/sessions/{sid}/rems-form"))
    assert form["session_id"] == sid
    assert form["form_version"]
    assert form["patient"]["first_name"] == "Ana"
    assert form["dose_mg"] == 56
    assert form["devices"] == 2
    assert form["lot_number"] == "SPR-77812"
    assert form["monitoring_minutes"] >= 150
    assert form["monitoring_at_least_120_minutes"] is True
    assert form["bp_before_dosing"]["systolic"] == 122
    assert form["bp_40_min"]["systolic"] == 138
    assert form["bp_before_completion"]["systolic"] == 124
    assert form["vitals_acceptable_before_dosing"] is True
    assert form["vitals_acceptable_before_completion"] is True
    assert form["sedation"]["observed"] is True
    assert form["sedation"]["lowest_moaas"] == 3
    assert form["dissociation"]["observed"] is True
    assert form["respiratory_depression"]["observed"] is False
    for present in ("dose_mg", "lot_number", "bp_40_min", "monitoring_minutes", "sedation"):
        assert present not in form["missing"]
    # Not recorded for this session: the form says so instead of guessing.
    assert "concomitant_medications" in form["missing"]
    assert "monitoring_provider" in form["missing"]


async def test_form_lists_what_is_missing_mid_session(
    client: httpx.AsyncClient, nurse_client: httpx.AsyncClient
) -> None:
    session = await dosing_session(client, dosing_at=20, **ESKETAMINE_PLAN)
    sid = session["id"]
    form = await ok(await client.get(f"/v1/sessions/{sid}/rems-form"))
    for missing in (
        "dose_mg",
        "lot_number",
        "bp_40_min",
        "bp_before_completion",
        "monitoring_minutes",
        "sedation",
        "dissociation",
    ):
        assert missing in form["missing"]
    assert form["vitals_acceptable_before_dosing"] is True
    assert form["vitals_acceptable_before_completion"] is None
    # nurses read the form too (SPEC §9)
    assert (await nurse_client.get(f"/v1/sessions/{sid}/rems-form")).status_code == 200


async def test_ketamine_session_has_no_rems_form(client: httpx.AsyncClient) -> None:
    session = await dosing_session(client)
    r = await client.get(f"/v1/sessions/{session['id']}/rems-form")
    assert r.status_code == 409
    assert "esketamine" in r.json()["detail"]
    assert (await client.get("/v1/sessions/nope/rems-form")).status_code == 404


async def test_respiratory_depression_is_no_only_with_spo2_and_respiratory_rate(
    client: httpx.AsyncClient,
) -> None:
    session = await dosing_session(client, dosing_at=30, **ESKETAMINE_PLAN)
    sid = session["id"]
    await ok(await post_vitals(client, sid, [vital("spo2", 97, "%", ago(20))]), 201)
    form = await ok(await client.get(f"/v1/sessions/{sid}/rems-form"))
    assert form["respiratory_depression"]["observed"] is None
    assert "respiratory_depression" in form["missing"]
    await ok(await post_vitals(client, sid, [vital("respiratory_rate", 14, "/min", ago(19))]), 201)
    form = await ok(await client.get(f"/v1/sessions/{sid}/rems-form"))
    assert form["respiratory_depression"]["observed"] is False
    await ok(
        await client.post(
            f"/v1/sessions/{sid}/adverse-events",
            json={"kind": "oxygen_desaturation", "severity": "moderate", "onset_at": iso(ago(10))},
        ),
        201,
    )
    form = await ok(await client.get(f"/v1/sessions/{sid}/rems-form"))
    assert form["respiratory_depression"] == {"observed": True, "basis": "adverse_events"}
    assert [e["kind"] for e in form["adverse_events"]] == ["oxygen_desaturation"]
