"""Alerts raised on ingest, the nursing-station board, acknowledgement, and discharge blocking."""

from __future__ import annotations

import asyncio

import httpx

from tests.api.safety_helpers import (
    checked_in_session,
    dosing_session,
    monitoring_session,
    ok,
    ready_to_discharge,
    unmet_codes,
)
from tests.conftest import Staff
from tests.factories import (
    ago,
    good_predose,
    now,
    post_vitals,
    prepare_discharge,
    prepare_dosing,
    transition,
    vital,
)


async def session_alerts(client: httpx.AsyncClient, sid: str, **params: str) -> list[dict]:
    return list((await ok(await client.get(f"/v1/sessions/{sid}/alerts", params=params)))["items"])


async def test_low_spo2_during_dosing_is_critical_and_blocks_discharge_until_acknowledged(
    client: httpx.AsyncClient, nurse_client: httpx.AsyncClient, staff: Staff
) -> None:
    session = await dosing_session(client)
    sid = session["id"]
    stored = await ok(await post_vitals(client, sid, [vital("spo2", 88, "%", ago(120))]), 201)
    reading = stored["items"][0]
    assert reading["phase"] == "intra"

    [alert] = await session_alerts(client, sid)
    assert alert["severity"] == "critical"
    assert alert["status"] == "open"
    assert alert["kind"] == "spo2_low"
    assert alert["observation_id"] == reading["id"]
    assert alert["session_id"] == sid
    assert alert["value"] == 88
    assert alert["limit"] == 92
    assert "SpO2 88%" in alert["message"]
    assert "during dosing" in alert["message"]
    assert alert["acknowledged_at"] is None
    assert alert["acknowledged_by"] is None

    board = await ok(await nurse_client.get("/v1/alerts", params={"status": "open", "limit": 500}))
    assert alert["id"] in [a["id"] for a in board["items"]]

    await ok(await transition(client, sid, "monitoring", at=ago(100)))
    await ready_to_discharge(client, sid)
    await prepare_discharge(client, sid, now())
    r = await transition(client, sid, "discharged")
    assert r.status_code == 409
    assert unmet_codes(r.json()) == ["open_alert"]
    assert r.json()["unmet"][0]["alert_id"] == alert["id"]

    acked = await ok(
        await nurse_client.post(
            f"/v1/alerts/{alert['id']}/acknowledge", json={"note": "O2 given, SpO2 97%"}
        )
    )
    assert acked["status"] == "acknowledged"
    assert acked["acknowledged_by"] == staff.ids["nurse"]
    assert acked["acknowledged_at"] is not None
    assert acked["acknowledge_note"] == "O2 given, SpO2 97%"

    board = await ok(await nurse_client.get("/v1/alerts", params={"status": "open", "limit": 500}))
    assert alert["id"] not in [a["id"] for a in board["items"]]
    assert (await transition(client, sid, "discharged")).status_code == 200


async def test_acknowledge_with_empty_body_and_twice(client: httpx.AsyncClient) -> None:
    session = await dosing_session(client)
    sid = session["id"]
    await ok(await post_vitals(client, sid, [vital("heart_rate", 130, "/min", ago(120))]), 201)
    [alert] = await session_alerts(client, sid)
    assert alert["severity"] == "warning"
    assert alert["kind"] == "heart_rate_high"
    await ok(await client.post(f"/v1/alerts/{alert['id']}/acknowledge", json={}))
    r = await client.post(f"/v1/alerts/{alert['id']}/acknowledge", json={})
    assert r.status_code == 409
    assert "already acknowledged" in r.json()["detail"]
    # problem+json's own "status" member is the HTTP status; the alert's is named apart.
    assert r.json()["status"] == 409
    assert r.json()["alert_status"] == "acknowledged"


async def test_acknowledge_unknown_alert_is_404_and_admin_is_403(
    client: httpx.AsyncClient, admin_client: httpx.AsyncClient
) -> None:
    r = await client.post("/v1/alerts/6a1c3a38-4c55-4e7d-9c8c-0d4f1e2b3a4c/acknowledge", json={})
    assert r.status_code == 404
    assert (await client.post("/v1/alerts/not-an-id/acknowledge", json={})).status_code == 404
    assert (await admin_client.get("/v1/alerts")).status_code == 403
    r = await client.post("/v1/alerts/x/acknowledge", json={"note": "x", "extra": 1})
    assert r.status_code == 422


async def test_severity_rule_and_inside_limits(client: httpx.AsyncClient) -> None:
    session = await dosing_session(client)
    sid = session["id"]
    at = ago(120)
    await ok(
        await post_vitals(
            client,
            sid,
            [
                vital("systolic_bp", 185, "mm[Hg]", at),  # warning (< 200)
                vital("diastolic_bp", 100, "mm[Hg]", at),  # inside
                vital("respiratory_rate", 8, "/min", ago(119)),  # critical (≤ 8)
                vital("temperature", 38.6, "Cel", ago(118)),  # warning only
                vital("spo2", 92, "%", ago(117)),  # equal to the limit: inside
                vital("mean_bp", 200, "mm[Hg]", ago(116)),  # no limits
            ],
        ),
        201,
    )
    alerts = {a["kind"]: a["severity"] for a in await session_alerts(client, sid)}
    assert alerts == {
        "systolic_bp_high": "warning",
        "respiratory_rate_low": "critical",
        "temperature_high": "warning",
    }
    warnings = await session_alerts(client, sid, severity="warning")
    assert {a["kind"] for a in warnings} == {"systolic_bp_high", "temperature_high"}


async def test_pre_dose_readings_alert_as_post_dose_ones_do(client: httpx.AsyncClient) -> None:
    session = await checked_in_session(client, at=30)
    sid = session["id"]
    at = ago(10)
    await ok(
        await post_vitals(
            client,
            sid,
            [
                vital("systolic_bp", 212, "mm[Hg]", at),
                vital("diastolic_bp", 124, "mm[Hg]", at),
                vital("spo2", 85, "%", at),
            ],
        ),
        201,
    )
    alerts = {a["kind"]: a for a in await session_alerts(client, sid)}
    assert {k: a["severity"] for k, a in alerts.items()} == {
        "systolic_bp_high": "critical",
        "diastolic_bp_high": "critical",
        "spo2_low": "critical",
    }
    assert "before dosing" in alerts["systolic_bp_high"]["message"]
    assert all(a["patient_id"] == session["patient_id"] for a in alerts.values())
    # A pre-dose reading above the pre-dose limit but inside the alert limits is a gate
    # matter, not an alert.
    other = await checked_in_session(client, at=30)
    await ok(await post_vitals(client, other["id"], good_predose(ago(10))), 201)
    await ok(
        await post_vitals(client, other["id"], [vital("systolic_bp", 150, "mm[Hg]", ago(9))]),
        201,
    )
    assert await session_alerts(client, other["id"]) == []


async def test_plan_alert_limits_apply(client: httpx.AsyncClient) -> None:
    session = await dosing_session(
        client,
        thresholds={"spo2_min": 85},
        thresholds_reason="COPD: baseline SpO2 88-90% on room air",
    )
    sid = session["id"]
    await ok(await post_vitals(client, sid, [vital("spo2", 88, "%", ago(120))]), 201)
    assert await session_alerts(client, sid) == []


async def test_a_reading_never_raises_two_alerts(client: httpx.AsyncClient) -> None:
    session = await dosing_session(client)
    sid = session["id"]
    reading = vital("spo2", 85, "%", ago(120), external_id="oximeter-1:alert-once")
    await ok(await post_vitals(client, sid, [reading]), 201)
    await ok(await post_vitals(client, sid, [reading]), 201)  # a retry
    # moving to monitoring re-evaluates readings after its `at`: still one alert
    await ok(await transition(client, sid, "monitoring", at=ago(121), reason="stopped"))
    alerts = await session_alerts(client, sid)
    assert len(alerts) == 1


async def test_back_dated_dosing_start_evaluates_readings_already_stored(
    client: httpx.AsyncClient,
) -> None:
    session = await checked_in_session(client, at=100)
    sid = session["id"]
    await ok(await post_vitals(client, sid, good_predose(ago(95))), 201)
    # Stored while the session still looked pre-dose: it alerts at once (every phase does).
    await ok(await post_vitals(client, sid, [vital("spo2", 86, "%", ago(60))]), 201)
    [before] = await session_alerts(client, sid)
    # Documented after the fact: dosing started 90 minutes ago, so that reading was intra;
    # it still raised one alert.
    await prepare_dosing(client, sid, ago(90))
    await ok(await transition(client, sid, "dosing", at=ago(90)))
    [alert] = await session_alerts(client, sid)
    assert alert["id"] == before["id"]
    assert alert["kind"] == "spo2_low"
    assert alert["severity"] == "critical"


async def test_back_dated_monitoring_makes_readings_post(client: httpx.AsyncClient) -> None:
    session = await dosing_session(client, dosing_at=100)
    sid = session["id"]
    await ok(await post_vitals(client, sid, [vital("heart_rate", 45, "/min", ago(20))]), 201)
    await ok(await transition(client, sid, "monitoring", at=ago(50)))
    [alert] = await session_alerts(client, sid)
    assert alert["kind"] == "heart_rate_low"


async def test_retracting_a_reading_resolves_its_alert(client: httpx.AsyncClient) -> None:
    session = await monitoring_session(client, min_monitoring_minutes=60)
    sid = session["id"]
    stored = await ok(await post_vitals(client, sid, [vital("spo2", 80, "%", ago(50))]), 201)
    obs_id = stored["items"][0]["id"]
    [alert] = await session_alerts(client, sid)
    assert "after dosing" in alert["message"]
    await ok(
        await client.post(
            f"/v1/sessions/{sid}/vitals/{obs_id}/retract", json={"reason": "probe fell off"}
        )
    )
    [alert] = await session_alerts(client, sid)
    assert alert["status"] == "resolved"
    assert alert["resolved_at"] is not None
    r = await client.post(f"/v1/alerts/{alert['id']}/acknowledge", json={})
    assert r.status_code == 409
    # A resolved alert no longer blocks discharge.
    await ready_to_discharge(client, sid)
    await prepare_discharge(client, sid, now())
    assert (await transition(client, sid, "discharged")).status_code == 200


async def test_board_is_newest_first_paginated_and_filtered(
    nurse_client: httpx.AsyncClient, client: httpx.AsyncClient
) -> None:
    session = await dosing_session(client)
    sid = session["id"]
    for minutes in (130, 125, 121):
        await ok(await post_vitals(client, sid, [vital("spo2", 85, "%", ago(minutes))]), 201)
    page1 = await ok(await nurse_client.get("/v1/alerts", params={"session_id": sid, "limit": 2}))
    assert len(page1["items"]) == 2
    assert page1["next_cursor"]
    page2 = await ok(
        await nurse_client.get(
            "/v1/alerts", params={"session_id": sid, "limit": 2, "cursor": page1["next_cursor"]}
        )
    )
    assert len(page2["items"]) == 1
    assert page2["next_cursor"] is None
    items = page1["items"] + page2["items"]
    assert len({a["id"] for a in items}) == 3
    created = [a["created_at"] for a in items]
    assert created == sorted(created, reverse=True)
    assert all(a["patient_id"] == session["patient_id"] for a in items)
    assert all(a["location"] == "chair-3" for a in items)

    r = await nurse_client.get("/v1/alerts", params={"status": "snoozed"})
    assert r.status_code == 422
    r = await nurse_client.get("/v1/alerts", params={"limit": 0})
    assert r.status_code == 422
    r = await nurse_client.get("/v1/alerts", params={"cursor": "garbage"})
    assert r.status_code == 422
    r = await nurse_client.get("/v1/alerts", params={"session_id": "nope"})
    assert r.json()["items"] == []


async def test_session_record_counts_alerts(client: httpx.AsyncClient) -> None:
    session = await dosing_session(client)
    sid = session["id"]
    await ok(
        await post_vitals(
            client,
            sid,
            [vital("spo2", 85, "%", ago(125)), vital("heart_rate", 125, "/min", ago(124))],
        ),
        201,
    )
    alerts = await session_alerts(client, sid, severity="warning")
    await ok(await client.post(f"/v1/alerts/{alerts[0]['id']}/acknowledge", json={}))
    record = await ok(await client.get(f"/v1/sessions/{sid}"))
    assert record["alert_counts"] == {
        "open": 1,
        "acknowledged": 1,
        "resolved": 0,
        "critical_open": 1,
    }
    assert (await client.get("/v1/sessions/nope/alerts")).status_code == 404


async def test_concurrent_acknowledgements_one_wins(
    client: httpx.AsyncClient, nurse_client: httpx.AsyncClient
) -> None:
    session = await dosing_session(client)
    sid = session["id"]
    await ok(await post_vitals(client, sid, [vital("spo2", 84, "%", ago(120))]), 201)
    [alert] = await session_alerts(client, sid)
    url = f"/v1/alerts/{alert['id']}/acknowledge"
    note = {"note": "O2 given, SpO2 back to 97%"}
    results = await asyncio.gather(
        *[(client if i % 2 else nurse_client).post(url, json=note) for i in range(6)]
    )
    codes = sorted(r.status_code for r in results)
    assert codes.count(200) == 1, codes
    assert set(codes) == {200, 409}


async def test_a_critical_alert_needs_a_note_of_ten_characters_a_warning_does_not(
    client: httpx.AsyncClient, nurse_client: httpx.AsyncClient, staff: Staff
) -> None:
    session = await dosing_session(client)
    sid = session["id"]
    await ok(
        await post_vitals(
            client,
            sid,
            [vital("spo2", 85, "%", ago(120)), vital("heart_rate", 125, "/min", ago(119))],
        ),
        201,
    )
    alerts = {a["kind"]: a for a in await session_alerts(client, sid)}
    critical, warning = alerts["spo2_low"], alerts["heart_rate_high"]
    for body in ({}, {"note": "ok"}, {"note": "   short   "}):
        r = await nurse_client.post(f"/v1/alerts/{critical['id']}/acknowledge", json=body)
        assert r.status_code == 422, body
        assert r.json()["errors"][0]["loc"] == ["body", "note"]
    assert (await session_alerts(client, sid, status="open"))[0]["status"] == "open"
    acked = await ok(
        await nurse_client.post(
            f"/v1/alerts/{critical['id']}/acknowledge", json={"note": "O2 at 2 L, SpO2 96%"}
        )
    )
    nurse = await display_name(nurse_client)
    assert acked["acknowledged_by"] == staff.ids["nurse"]
    assert acked["acknowledged_by_name"] == nurse
    await ok(await nurse_client.post(f"/v1/alerts/{warning['id']}/acknowledge", json={}))
    r = await client.post(f"/v1/alerts/{warning['id']}/acknowledge", json={})
    assert r.status_code == 409
    assert f"already acknowledged by {nurse} at " in r.json()["detail"]


async def display_name(c: httpx.AsyncClient) -> str:
    return str((await ok(await c.get("/v1/users/me")))["display_name"])


async def test_the_board_takes_several_statuses_and_session_or_patient(
    client: httpx.AsyncClient, nurse_client: httpx.AsyncClient
) -> None:
    session = await dosing_session(client)
    sid = session["id"]
    for minutes in (130, 125, 121):
        await ok(
            await post_vitals(client, sid, [vital("heart_rate", 130, "/min", ago(minutes))]), 201
        )
    other = await dosing_session(client)
    await ok(
        await post_vitals(client, other["id"], [vital("heart_rate", 130, "/min", ago(120))]), 201
    )
    a, b, c = await session_alerts(client, sid)
    await ok(await client.post(f"/v1/alerts/{a['id']}/acknowledge", json={}))
    obs = (await ok(await client.get(f"/v1/sessions/{sid}/vitals", params={"code": "heart_rate"})))[
        "items"
    ]
    retract = next(o for o in obs if o["id"] == b["observation_id"])
    await ok(
        await client.post(
            f"/v1/sessions/{sid}/vitals/{retract['id']}/retract", json={"reason": "wrong chair"}
        )
    )

    def ids(page: dict) -> set[str]:
        return {x["id"] for x in page["items"]}

    params = {"session_id": sid, "status": "open,acknowledged", "limit": 500}
    assert ids(await ok(await nurse_client.get("/v1/alerts", params=params))) == {a["id"], c["id"]}
    params = {"patient_id": session["patient_id"], "status": "resolved", "limit": 500}
    assert ids(await ok(await nurse_client.get("/v1/alerts", params=params))) == {b["id"]}
    params = {"patient_id": other["patient_id"], "limit": 500}
    page = await ok(await nurse_client.get("/v1/alerts", params=params))
    assert {x["session_id"] for x in page["items"]} == {other["id"]}
    r = await nurse_client.get("/v1/alerts", params={"status": "open,snoozed"})
    assert r.status_code == 422
    assert r.json()["errors"][0]["loc"] == ["query", "status"]
    r = await nurse_client.get(f"/v1/sessions/{sid}/alerts", params={"status": "open,resolved"})
    assert ids(await ok(r)) == {b["id"], c["id"]}
