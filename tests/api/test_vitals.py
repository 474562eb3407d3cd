from __future__ import annotations

import asyncio
import math
import uuid
from datetime import timedelta

import httpx
import pytest

from api.config import get_settings
from tests.factories import ago, create_session, iso, now, post_vitals, transition, vital


@pytest.fixture
async def session(client: httpx.AsyncClient) -> dict[str, object]:
    s = await create_session(client)
    assert (
        await transition(client, str(s["id"]), "checked_in", weight_kg=70, at=ago(60))
    ).status_code == 200
    return s


async def _count(client: httpx.AsyncClient, sid: str, **params: object) -> int:
    r = await client.get(f"/v1/sessions/{sid}/vitals", params={"limit": 500, **params})
    return len(r.json()["items"])


async def test_unit_conversion_keeps_original(client: httpx.AsyncClient, session: dict) -> None:
    sid = session["id"]
    r = await post_vitals(
        client,
        sid,
        [
            vital("temperature", 98.6, "[degF]", ago(5)),
            vital("systolic_bp", 16, "kPa", ago(5)),
            vital("diastolic_bp", 80, "mmHg", ago(5)),
        ],
    )
    assert r.status_code == 201, r.text
    temp, sys_bp, dia = r.json()["items"]
    assert temp["unit"] == "Cel"
    assert temp["value"] == pytest.approx(37.0, abs=0.01)
    assert temp["original_value"] == 98.6
    assert temp["original_unit"] == "[degF]"
    assert sys_bp["unit"] == "mm[Hg]"
    assert sys_bp["value"] == pytest.approx(120.01, abs=0.01)
    assert dia["unit"] == "mm[Hg]"
    assert dia["original_unit"] == "mmHg"
    assert temp["phase"] == "pre"
    assert temp["status"] == "final"
    assert temp["recorded_by"]
    assert temp["source"].startswith("user:")


async def test_what_is_stored_reads_back_exactly_as_it_was_answered(
    client: httpx.AsyncClient, session: dict
) -> None:
    """The POST answer is built from the rows as written; reading them back from the database
    (every column, through the bulk insert of each backend) must give the same readings."""
    sid = session["id"]
    r = await post_vitals(
        client,
        sid,
        [
            {**vital("temperature", 98.6, "[degF]", ago(5)), "external_id": "rb-1"},
            vital("systolic_bp", 16, "kPa", ago(5)),
            vital("diastolic_bp", 80, "mmHg", ago(5)),
            {**vital("heart_rate", 72, "/min", ago(4)), "external_id": "rb-2"},
        ],
    )
    assert r.status_code == 201, r.text
    stored = await client.get(f"/v1/sessions/{sid}/vitals", params={"limit": 500})
    assert stored.status_code == 200
    by_id = {item["id"]: item for item in stored.json()["items"]}
    assert [by_id[item["id"]] for item in r.json()["items"]] == r.json()["items"]


@pytest.mark.parametrize(
    ("item", "field"),
    [
        ({"code": "glucose"}, "code"),
        ({"unit": "furlongs"}, "unit"),
        ({"value": 400}, "value"),
        ({"value": -1}, "value"),
        ({"value": "high"}, "value"),
        ({"measured_at": "2026-01-01T10:00:00"}, "measured_at"),
        ({"measured_at": "yesterday"}, "measured_at"),
        ({"phase": "intra"}, "phase"),
        ({"phase": "during"}, "phase"),
        ({"extra": 1}, "extra"),
    ],
)
async def test_bad_items_are_422_and_nothing_stored(
    client: httpx.AsyncClient, session: dict, item: dict[str, object], field: str
) -> None:
    sid = session["id"]
    good = vital("heart_rate", 70, "/min", ago(3))
    bad = {**vital("heart_rate", 70, "/min", ago(2)), **item}
    r = await post_vitals(client, sid, [good, bad])
    assert r.status_code == 422, r.text
    errors = r.json()["errors"]
    assert any(e["loc"][:3] == ["body", "observations", 1] and field in e["loc"] for e in errors), (
        errors
    )
    assert await _count(client, sid) == 0


async def test_future_reading_is_422(client: httpx.AsyncClient, session: dict) -> None:
    r = await post_vitals(
        client, session["id"], [vital("spo2", 97, "%", now() + timedelta(minutes=10))]
    )
    assert r.status_code == 422


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity", "1e400"])
async def test_non_finite_values_are_rejected(
    client: httpx.AsyncClient, session: dict, value: str
) -> None:
    item = f'"code": "spo2", "unit": "%", "measured_at": "{iso(ago(1))}", "value": {value}'
    body = '{"observations": [{' + item + "}]}"
    r = await client.post(
        f"/v1/sessions/{session['id']}/vitals",
        content=body,
        headers={"Content-Type": "application/json"},
    )
    assert r.status_code in (400, 422)
    assert await _count(client, session["id"]) == 0
    assert not math.isnan(0.0)


async def test_systolic_must_exceed_diastolic(client: httpx.AsyncClient, session: dict) -> None:
    sid = session["id"]
    at = ago(4)
    r = await post_vitals(
        client,
        sid,
        [vital("systolic_bp", 80, "mm[Hg]", at), vital("diastolic_bp", 90, "mm[Hg]", at)],
    )
    assert r.status_code == 422
    # Across requests too: the stored partner counts.
    assert (
        await post_vitals(client, sid, [vital("systolic_bp", 85, "mm[Hg]", at)])
    ).status_code == 201
    assert (
        await post_vitals(client, sid, [vital("diastolic_bp", 95, "mm[Hg]", at)])
    ).status_code == 422
    assert await _count(client, sid) == 1


async def test_empty_and_oversized_batches(client: httpx.AsyncClient, session: dict) -> None:
    sid = session["id"]
    assert (await post_vitals(client, sid, [])).status_code == 422
    many = [vital("heart_rate", 70, "/min", ago(50) + timedelta(seconds=i)) for i in range(1001)]
    assert (await post_vitals(client, sid, many)).status_code in (413, 422)
    assert await _count(client, sid) == 0
    thousand = many[:1000]
    r = await post_vitals(client, sid, thousand)
    assert r.status_code == 201
    assert len(r.json()["items"]) == 1000


async def test_the_configured_batch_limit_is_enforced(
    client: httpx.AsyncClient,
    session: dict,
    integration_client: httpx.AsyncClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """VIGIL_MAX_BATCH_OBSERVATIONS lowers the 1,000-reading cap, for nurses and devices."""
    monkeypatch.setattr(get_settings(), "max_batch_observations", 2)
    sid = session["id"]
    three = [vital("heart_rate", 70 + i, "/min", ago(10 + i)) for i in range(3)]
    r = await post_vitals(client, sid, three)
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["loc"] == ["body", "observations"]
    assert "at most 2 readings" in r.json()["errors"][0]["msg"]
    assert await _count(client, sid) == 0
    assert (await post_vitals(client, sid, three[:2])).status_code == 201
    pushed = await integration_client.post(
        "/v1/integrations/observations", json={"device": "any-device", "observations": three}
    )
    assert pushed.status_code == 422, pushed.text
    assert pushed.json()["errors"][0]["loc"] == ["body", "observations"]


async def test_external_id_deduplicates(client: httpx.AsyncClient, session: dict) -> None:
    sid = session["id"]
    ext = f"tab-7:{uuid.uuid4().hex[:6]}"
    item = vital("heart_rate", 71, "/min", ago(3), external_id=ext)
    first = (await post_vitals(client, sid, [item])).json()["items"][0]
    again = (await post_vitals(client, sid, [item, item])).json()["items"]
    assert [x["id"] for x in again] == [first["id"], first["id"]]
    assert await _count(client, sid) == 1


async def test_an_external_id_used_for_another_session_is_409_and_stores_nothing(
    client: httpx.AsyncClient, session: dict
) -> None:
    """The readings pipeline's foreign_external_id, as REST answers it (FHIR: 409 too)."""
    other = (await create_session(client))["id"]
    ext = f"tab-7:{uuid.uuid4().hex[:6]}"
    taken = vital("heart_rate", 72, "/min", ago(3), external_id=ext)
    assert (await post_vitals(client, session["id"], [taken])).status_code == 201
    fresh = vital("spo2", 97, "%", ago(3))
    r = await post_vitals(client, other, [fresh, taken])
    assert r.status_code == 409, r.text
    assert "another session" in r.json()["detail"]
    assert await _count(client, other) == 0  # neither item


async def test_an_external_id_is_compared_exactly_and_whitespace_around_it_is_422(
    client: httpx.AsyncClient, session: dict
) -> None:
    sid = session["id"]
    ext = f"tab-7:{uuid.uuid4().hex[:6]}"
    items = [vital("heart_rate", 71, "/min", ago(3), external_id=f" {ext}")]
    items.append(vital("heart_rate", 72, "/min", ago(3), external_id=f"{ext}\t"))
    r = await post_vitals(client, sid, items)
    assert r.status_code == 422, r.text
    locs = [e["loc"] for e in r.json()["errors"]]
    assert locs == [["body", "observations", i, "external_id"] for i in (0, 1)]
    assert "whitespace" in r.json()["errors"][0]["msg"]
    assert await _count(client, sid) == 0
    inner = vital("heart_rate", 73, "/min", ago(2), external_id=f"{ext} b")  # inside: fine
    plain = vital("heart_rate", 74, "/min", ago(2), external_id=f"{ext}b")
    stored = (await post_vitals(client, sid, [inner, plain])).json()["items"]
    assert [o["external_id"] for o in stored] == [f"{ext} b", f"{ext}b"]  # two readings


async def test_concurrent_duplicate_posts_store_one(
    client: httpx.AsyncClient, session: dict
) -> None:
    sid = session["id"]
    item = vital("spo2", 97, "%", ago(2), external_id=f"race-{uuid.uuid4().hex[:6]}")
    results = await asyncio.gather(*[post_vitals(client, sid, [item]) for _ in range(12)])
    assert {r.status_code for r in results} == {201}
    assert len({r.json()["items"][0]["id"] for r in results}) == 1
    assert await _count(client, sid) == 1


async def test_phase_derivation_and_reading_after_end(client: httpx.AsyncClient) -> None:
    s = await create_session(client)
    sid = s["id"]
    await transition(client, sid, "checked_in", weight_kg=70, at=ago(60))
    await transition(client, sid, "cancelled", reason="fire alarm", at=ago(10))
    late = await post_vitals(client, sid, [vital("heart_rate", 70, "/min", ago(5))])
    assert late.status_code == 409
    before_end = await post_vitals(client, sid, [vital("heart_rate", 70, "/min", ago(15))])
    assert before_end.status_code == 201


async def test_retraction_keeps_the_reading(client: httpx.AsyncClient, session: dict) -> None:
    sid = session["id"]
    obs = (await post_vitals(client, sid, [vital("heart_rate", 180, "/min", ago(3))])).json()[
        "items"
    ][0]
    url = f"/v1/sessions/{sid}/vitals/{obs['id']}/retract"
    assert (await client.post(url, json={})).status_code == 422
    r = await client.post(url, json={"reason": "artefact"})
    assert r.status_code == 200
    assert r.json()["status"] == "entered-in-error"
    assert r.json()["retraction_reason"] == "artefact"
    assert r.json()["retracted_by"]
    assert (await client.post(url, json={"reason": "again"})).status_code == 409
    assert await _count(client, sid) == 0
    assert await _count(client, sid, include_retracted="true") == 1


async def test_vitals_filters_and_csv(client: httpx.AsyncClient, session: dict) -> None:
    sid = session["id"]
    t0 = ago(0)  # one clock reading: every time below is relative to it
    await post_vitals(
        client,
        sid,
        [vital("heart_rate", 70 + i, "/min", t0 - timedelta(minutes=30 - i)) for i in range(5)]
        + [vital("spo2", 98, "%", t0 - timedelta(minutes=20))],
    )
    assert await _count(client, sid, code="spo2") == 1
    assert await _count(client, sid, since=iso(t0 - timedelta(minutes=27))) == 3
    assert await _count(client, sid, phase="intra") == 0
    page = (await client.get(f"/v1/sessions/{sid}/vitals", params={"limit": 4})).json()
    rest = (
        await client.get(
            f"/v1/sessions/{sid}/vitals", params={"limit": 4, "cursor": page["next_cursor"]}
        )
    ).json()
    assert len(page["items"]) == 4
    assert len(rest["items"]) == 2
    assert rest["next_cursor"] is None
    csv = await client.get(f"/v1/sessions/{sid}/vitals", headers={"Accept": "text/csv"})
    rows = csv.text.strip().splitlines()
    assert rows[0].split(",")[:3] == ["id", "session_id", "code"]
    assert len(rows) == 7


async def test_unknown_session_is_404(client: httpx.AsyncClient) -> None:
    r = await post_vitals(client, str(uuid.uuid4()), [vital("spo2", 97, "%", ago(1))])
    assert r.status_code == 404
