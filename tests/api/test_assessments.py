"""Rating scales scored by the server (SPEC §6, DOMAIN.md "Scales")."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.api.safety_helpers import (
    assess,
    checked_in_session,
    monitoring_session,
    ok,
    ready_to_discharge,
    unmet_codes,
)
from tests.factories import ago, create_session, now, prepare_discharge, transition

# A critical alert is acknowledged with a note of at least 10 characters (SPEC §6).
ACK_NOTE = {"note": "Checked the patient, all well"}


@pytest.mark.parametrize(
    ("instrument", "answers", "total", "band"),
    [
        ("phq9", {"items": [0, 0, 1, 1, 1, 0, 1, 0, 0]}, 4, "minimal"),
        ("phq9", {"items": [1, 1, 1, 1, 1, 0, 0, 0, 0]}, 5, "mild"),
        ("phq9", {"items": [2, 2, 2, 1, 1, 1, 1, 0, 0]}, 10, "moderate"),
        ("phq9", {"items": [2, 2, 2, 2, 2, 2, 2, 1, 0]}, 15, "moderately severe"),
        ("phq9", {"items": [3, 3, 3, 3, 3, 3, 2, 0, 0]}, 20, "severe"),
        ("gad7", {"items": [2, 2, 2, 2, 2, 2, 2]}, 14, "moderate"),
        ("gad7", {"items": [3, 3, 3, 2, 2, 1, 1]}, 15, "severe"),
        ("madrs", {"items": [0, 1, 1, 1, 1, 1, 1, 0, 0, 0]}, 6, "normal"),
        ("madrs", {"items": [2, 2, 2, 2, 2, 2, 2, 2, 2, 2]}, 20, "moderate"),
        ("madrs", {"items": [4, 4, 4, 4, 4, 4, 4, 4, 2, 1]}, 35, "severe"),
        ("ybocs", {"items": [1, 1, 1, 1, 1, 1, 1, 0, 0, 0]}, 7, "subclinical"),
        ("ybocs", {"items": [4, 4, 4, 4, 4, 4, 4, 4, 0, 0]}, 32, "extreme"),
        ("pcl5", {"items": [1] * 20}, 20, None),
        ("pcl5", {"items": [2] * 17 + [0, 0, 0]}, 34, "provisional ptsd"),
        ("cadss", {"items": [1] * 23}, 23, None),
        ("moaas", {"score": 3}, 3, None),
        ("rass", {"score": -2}, -2, None),
        ("rass", {"score": 4}, 4, None),
    ],
)
async def test_scoring_matches_domain_bands(
    client: httpx.AsyncClient,
    instrument: str,
    answers: dict[str, Any],
    total: int,
    band: str | None,
) -> None:
    session = await create_session(client)
    body = await ok(await assess(client, session["id"], instrument, ago(5), **answers), 201)
    assert body["instrument"] == instrument
    assert body["total"] == total
    assert body["band"] == band
    assert body["session_id"] == session["id"]
    assert body["items"] == answers.get("items")


@pytest.mark.parametrize(
    ("instrument", "answers", "loc"),
    [
        ("phq9", {"items": [0] * 8}, ["body", "items"]),
        ("phq9", {"items": [0, 0, 0, 4, 0, 0, 0, 0, 0]}, ["body", "items", 3]),
        ("phq9", {"items": [0, 0, 0, -1, 0, 0, 0, 0, 0]}, ["body", "items", 3]),
        ("phq9", {"items": [0, 0, 1.5, 0, 0, 0, 0, 0, 0]}, ["body", "items", 2]),
        ("phq9", {"items": [0, 0, "2", 0, 0, 0, 0, 0, 0]}, ["body", "items", 2]),
        ("cadss", {"items": [0] * 22}, ["body", "items"]),
        ("madrs", {"items": [7] + [0] * 9}, ["body", "items", 0]),
        ("phq9", {"score": 10}, ["body", "score"]),
        ("phq9", {}, ["body", "items"]),
        ("moaas", {"score": 6}, ["body", "score"]),
        ("rass", {"score": -6}, ["body", "score"]),
        ("rass", {"items": [0]}, ["body", "items"]),
        ("moaas", {}, ["body", "score"]),
        ("moaas", {"score": True}, ["body", "score"]),
        ("hamd", {"items": [0] * 17}, ["body", "instrument"]),
    ],
)
async def test_wrong_items_or_score_is_422_pointing_into_the_body(
    client: httpx.AsyncClient, instrument: str, answers: dict[str, Any], loc: list[Any]
) -> None:
    session = await create_session(client)
    r = await assess(client, session["id"], instrument, ago(5), **answers)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert loc in [e["loc"] for e in r.json()["errors"]]


async def test_administered_at_must_have_an_offset_and_not_be_in_the_future(
    client: httpx.AsyncClient,
) -> None:
    session = await create_session(client)
    url = f"/v1/sessions/{session['id']}/assessments"
    r = await client.post(
        url, json={"instrument": "moaas", "score": 5, "administered_at": "2026-01-01T10:00:00"}
    )
    assert r.status_code == 422
    r = await client.post(
        url, json={"instrument": "moaas", "score": 5, "administered_at": "2999-01-01T10:00:00Z"}
    )
    assert r.status_code == 422


async def test_phq9_item9_raises_a_critical_alert_that_blocks_discharge(
    client: httpx.AsyncClient, nurse_client: httpx.AsyncClient
) -> None:
    session = await monitoring_session(client, min_monitoring_minutes=60)
    sid = session["id"]
    body = await ok(
        await assess(nurse_client, sid, "phq9", ago(30), items=[1, 1, 1, 1, 1, 1, 1, 1, 1]),
        201,
    )
    assert body["details"]["item9_self_harm"] == 1
    assert body["alert_id"]

    alerts = (await ok(await client.get(f"/v1/sessions/{sid}/alerts")))["items"]
    [alert] = alerts
    assert alert["id"] == body["alert_id"]
    assert alert["kind"] == "phq9_self_harm"
    assert alert["severity"] == "critical"
    assert alert["observation_id"] is None
    assert alert["assessment_id"] == body["id"]
    assert "self-harm" in alert["message"]

    await ready_to_discharge(client, sid)
    await prepare_discharge(client, sid, now())
    r = await transition(client, sid, "discharged")
    assert unmet_codes(r.json()) == ["open_alert"]
    await ok(await nurse_client.post(f"/v1/alerts/{alert['id']}/acknowledge", json=ACK_NOTE))
    await ok(await transition(client, sid, "discharged"))


async def test_phq9_item9_zero_raises_nothing(client: httpx.AsyncClient) -> None:
    session = await create_session(client)
    body = await ok(
        await assess(client, session["id"], "phq9", ago(5), items=[3, 3, 3, 3, 3, 3, 3, 3, 0]),
        201,
    )
    assert body["alert_id"] is None
    assert (await client.get(f"/v1/sessions/{session['id']}/alerts")).json()["items"] == []


async def test_list_a_sessions_assessments_in_order(client: httpx.AsyncClient) -> None:
    session = await checked_in_session(client, at=60)
    sid = session["id"]
    await ok(await assess(client, sid, "moaas", ago(10), score=4), 201)
    await ok(await assess(client, sid, "phq9", ago(50), items=[0] * 8 + [2]), 201)
    await ok(await assess(client, sid, "rass", ago(5), score=0), 201)
    body = await ok(await client.get(f"/v1/sessions/{sid}/assessments"))
    assert [a["instrument"] for a in body["items"]] == ["phq9", "moaas", "rass"]
    assert body["items"][0]["alert_id"]
    page = await ok(await client.get(f"/v1/sessions/{sid}/assessments", params={"limit": 2}))
    assert len(page["items"]) == 2
    rest = await ok(
        await client.get(f"/v1/sessions/{sid}/assessments", params={"cursor": page["next_cursor"]})
    )
    assert [a["instrument"] for a in rest["items"]] == ["rass"]
    only = await ok(
        await client.get(f"/v1/sessions/{sid}/assessments", params={"instrument": "moaas"})
    )
    assert [a["total"] for a in only["items"]] == [4]


async def test_assessment_after_the_session_ended_is_refused(client: httpx.AsyncClient) -> None:
    session = await create_session(client)
    sid = session["id"]
    await ok(await transition(client, sid, "cancelled", reason="patient unwell", at=ago(10)))
    r = await assess(client, sid, "moaas", ago(5), score=5)
    assert r.status_code == 409
    await ok(await assess(client, sid, "phq9", ago(20), items=[0] * 9), 201)
    assert (await assess(client, "nope", "moaas", ago(5), score=5)).status_code == 404
