"""A patient's course: a vital per session and scale scores with response/remission (SPEC §7)."""

from __future__ import annotations

import httpx

from tests.api.safety_helpers import assess, ok
from tests.factories import (
    ago,
    create_patient,
    create_plan,
    create_session,
    good_predose,
    iso,
    post_vitals,
    prepare_dosing,
    transition,
    vital,
)


async def scheduled(client: httpx.AsyncClient, plan: dict[str, object], minutes: float) -> str:
    body = {
        "patient_id": plan["patient_id"],
        "dosing_plan_id": plan["id"],
        "scheduled_at": iso(ago(minutes)),
    }
    return str((await ok(await client.post("/v1/sessions", json=body), 201))["id"])


async def run_session(
    client: httpx.AsyncClient,
    plan: dict[str, object],
    systolic: list[tuple[float, float]],
    scheduled_minutes_ago: float,
) -> str:
    """A session dosed 100 minutes ago, monitoring from 60; (value, minutes ago) systolics."""
    sid = await scheduled(client, plan, scheduled_minutes_ago)
    await ok(await transition(client, sid, "checked_in", weight_kg=80, at=ago(130)))
    await ok(await post_vitals(client, sid, good_predose(ago(110))), 201)
    await prepare_dosing(client, sid, ago(100))
    await ok(await transition(client, sid, "dosing", at=ago(100)))
    await ok(await transition(client, sid, "monitoring", at=ago(60)))
    readings = [vital("systolic_bp", v, "mm[Hg]", ago(m)) for v, m in systolic]
    if readings:
        await ok(await post_vitals(client, sid, readings), 201)
    return sid


async def test_vital_trend_one_row_per_session(client: httpx.AsyncClient) -> None:
    patient = await create_patient(client)
    plan = await create_plan(client, patient["id"])
    first = await run_session(
        client, plan, [(128, 105), (150, 80), (162, 70), (140, 30), (126, 5)], 300
    )
    second = await run_session(client, plan, [(131, 90), (124, 10)], 200)
    empty = {"id": await scheduled(client, plan, 100)}

    body = await ok(
        await client.get(f"/v1/patients/{patient['id']}/trends", params={"code": "systolic_bp"})
    )
    assert body["code"] == "systolic_bp"
    assert body["unit"] == "mm[Hg]"
    rows = {r["session_id"]: r for r in body["items"]}
    assert list(rows) == [first, second, empty["id"]]
    assert rows[first]["pre_dose_last"] == 128
    assert rows[first]["intra_max"] == 162
    assert rows[first]["post_last"] == 126
    assert rows[second]["pre_dose_last"] == 122  # from good_predose
    assert rows[second]["intra_max"] == 131
    assert rows[second]["post_last"] == 124
    assert rows[empty["id"]]["intra_max"] is None

    page = await ok(
        await client.get(
            f"/v1/patients/{patient['id']}/trends", params={"code": "systolic_bp", "limit": 1}
        )
    )
    assert [r["session_id"] for r in page["items"]] == [first]
    rest = await ok(
        await client.get(
            f"/v1/patients/{patient['id']}/trends",
            params={"code": "systolic_bp", "cursor": page["next_cursor"]},
        )
    )
    assert [r["session_id"] for r in rest["items"]] == [second, empty["id"]]


async def test_retracted_readings_are_left_out(client: httpx.AsyncClient) -> None:
    patient = await create_patient(client)
    plan = await create_plan(client, patient["id"])
    sid = await run_session(client, plan, [(170, 80), (150, 75)], 120)
    stored = await ok(await client.get(f"/v1/sessions/{sid}/vitals", params={"phase": "intra"}))
    wrong = next(o for o in stored["items"] if o["value"] == 170)
    await ok(
        await client.post(
            f"/v1/sessions/{sid}/vitals/{wrong['id']}/retract", json={"reason": "wrong patient"}
        )
    )
    body = await ok(
        await client.get(f"/v1/patients/{patient['id']}/trends", params={"code": "systolic_bp"})
    )
    assert body["items"][0]["intra_max"] == 150


async def test_score_trend_with_response_and_remission(client: httpx.AsyncClient) -> None:
    patient = await create_patient(client)
    plan = await create_plan(client, patient["id"])
    scores = [
        [3, 3, 2, 2, 2, 2, 2, 2, 0],  # 18 baseline
        [2, 2, 2, 1, 1, 1, 1, 0, 0],  # 10
        [1, 1, 1, 0, 0, 0, 0, 0, 0],  # 3
    ]
    for n, items in enumerate(scores):
        sid = await scheduled(client, plan, 300 - n * 100)
        await ok(await assess(client, sid, "phq9", ago(300 - n * 100), items=items), 201)

    body = await ok(
        await client.get(f"/v1/patients/{patient['id']}/trends", params={"instrument": "phq9"})
    )
    assert body["instrument"] == "phq9"
    rows = body["items"]
    assert [r["total"] for r in rows] == [18, 10, 3]
    assert [r["band"] for r in rows] == ["moderately severe", "moderate", "minimal"]
    assert [r["baseline_total"] for r in rows] == [18, 18, 18]
    assert [r["response"] for r in rows] == [False, False, True]
    assert [r["remission"] for r in rows] == [False, False, True]
    assert rows[2]["percent_change"] == -83.3


async def test_madrs_response_is_half_the_baseline(client: httpx.AsyncClient) -> None:
    patient = await create_patient(client)
    plan = await create_plan(client, patient["id"])
    session = await create_session(client, plan=plan)
    sid = session["id"]
    await ok(await assess(client, sid, "madrs", ago(60), items=[4] * 5 + [3] * 5), 201)  # 35
    await ok(await assess(client, sid, "madrs", ago(30), items=[2] * 5 + [1] * 5), 201)  # 15
    body = await ok(
        await client.get(f"/v1/patients/{patient['id']}/trends", params={"instrument": "madrs"})
    )
    last = body["items"][-1]
    assert last["response"] is True
    assert last["remission"] is False


async def test_exactly_one_of_code_or_instrument(client: httpx.AsyncClient) -> None:
    patient = await create_patient(client)
    url = f"/v1/patients/{patient['id']}/trends"
    for params in ({}, {"code": "systolic_bp", "instrument": "phq9"}):
        r = await client.get(url, params=params)
        assert r.status_code == 422
        assert r.json()["errors"][0]["loc"] == ["query", "code"]
    assert (await client.get(url, params={"code": "glucose"})).status_code == 422
    assert (await client.get(url, params={"instrument": "hamd"})).status_code == 422
    r = await client.get("/v1/patients/nope/trends", params={"code": "spo2"})
    assert r.status_code == 404
