from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.factories import IV_PLAN, create_patient, create_plan, create_session


async def test_plan_revisions_are_immutable_and_sessions_pin_theirs(
    client: httpx.AsyncClient,
) -> None:
    patient = await create_patient(client)
    plan = await create_plan(client, patient["id"])
    assert plan["revision"] == 1
    assert plan["status"] == "active"
    session = await create_session(client, plan=plan)
    # checked in before the revision: it keeps revision 1 (pinned at check-in)
    r = await client.post(
        f"/v1/sessions/{session['id']}/transitions", json={"to": "checked_in", "weight_kg": 80}
    )
    assert r.status_code == 200, r.text
    r = await client.post(
        f"/v1/dosing-plans/{plan['id']}/revisions",
        json={
            **IV_PLAN,
            "dose_mg_per_kg": 0.75,
            "min_monitoring_minutes": IV_PLAN["min_monitoring_minutes"] + 30,
            "reason": "partial response",
        },
        headers={"If-Match": '"1"'},
    )
    assert r.status_code == 201, r.text
    assert r.json()["revision"] == 2
    assert r.json()["dose_mg_per_kg"] == 0.75
    first = (await client.get(f"/v1/dosing-plans/{plan['id']}/revisions/1")).json()
    assert first["dose_mg_per_kg"] == 0.5
    revisions = (await client.get(f"/v1/dosing-plans/{plan['id']}/revisions")).json()
    assert [x["revision"] for x in revisions["items"]] == [1, 2]
    assert revisions["next_cursor"] is None
    pinned = (await client.get(f"/v1/sessions/{session['id']}")).json()
    assert (pinned["plan_revision"], pinned["pinned_revision"]) == (1, 1)
    assert pinned["min_monitoring_minutes"] == IV_PLAN["min_monitoring_minutes"]
    later = await create_session(
        client, plan=(await client.get(f"/v1/dosing-plans/{plan['id']}")).json()
    )
    assert later["plan_revision"] == 2
    assert later["min_monitoring_minutes"] == IV_PLAN["min_monitoring_minutes"] + 30
    # read again (the revisions' content is now cached): each session still has its own
    again = (await client.get(f"/v1/sessions/{session['id']}")).json()
    assert again["min_monitoring_minutes"] == IV_PLAN["min_monitoring_minutes"]


async def test_stale_if_match_on_revision_is_412(client: httpx.AsyncClient) -> None:
    patient = await create_patient(client)
    plan = await create_plan(client, patient["id"])
    r = await client.post(
        f"/v1/dosing-plans/{plan['id']}/revisions", json=IV_PLAN, headers={"If-Match": '"7"'}
    )
    assert r.status_code == 412
    assert len((await client.get(f"/v1/dosing-plans/{plan['id']}/revisions")).json()["items"]) == 1


async def test_discontinued_plan_takes_no_sessions(client: httpx.AsyncClient) -> None:
    patient = await create_patient(client)
    plan = await create_plan(client, patient["id"])
    r = await client.post(
        f"/v1/dosing-plans/{plan['id']}/discontinue", json={"reason": "course complete"}
    )
    assert r.status_code == 200
    assert r.json()["status"] == "discontinued"
    r = await client.post(
        "/v1/sessions",
        json={
            "patient_id": patient["id"],
            "dosing_plan_id": plan["id"],
            "scheduled_at": "2026-12-01T09:00:00Z",
        },
    )
    assert r.status_code == 409
    again = await client.post(f"/v1/dosing-plans/{plan['id']}/discontinue", json={"reason": "x"})
    assert again.status_code == 409


async def test_plan_of_another_patient_is_409(client: httpx.AsyncClient) -> None:
    a = await create_patient(client)
    b = await create_patient(client)
    plan = await create_plan(client, a["id"])
    r = await client.post(
        "/v1/sessions",
        json={
            "patient_id": b["id"],
            "dosing_plan_id": plan["id"],
            "scheduled_at": "2026-12-01T09:00:00Z",
        },
    )
    assert r.status_code == 409


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"dose_mg": 40}, "dose_mg_per_kg"),  # both doses
        ({"dose_mg_per_kg": None}, "dose_mg_per_kg"),  # neither
        ({"infusion_minutes": None}, "infusion_minutes"),
        ({"route": "im"}, "infusion_minutes"),
        ({"thresholds": {"pre_systolic_max": 500}}, "thresholds"),
        ({"thresholds": {"heart_rate_min": 130}}, "thresholds"),
        ({"thresholds": {"made_up": 1}}, "thresholds"),
        (
            {
                "medication": "esketamine",
                "route": "intranasal",
                "dose_mg_per_kg": None,
                "dose_mg": 50,
                "infusion_minutes": None,
                "min_monitoring_minutes": 120,
            },
            "dose_mg",
        ),
        (
            {
                "medication": "esketamine",
                "route": "intranasal",
                "dose_mg_per_kg": None,
                "dose_mg": 56,
                "infusion_minutes": None,
                "min_monitoring_minutes": 60,
            },
            "min_monitoring_minutes",
        ),
        ({"medication": "aspirin"}, "medication"),
        ({"max_dose_mg": float("nan")}, "max_dose_mg"),
    ],
)
async def test_incoherent_plans_are_422(
    client: httpx.AsyncClient, change: dict[str, object], field: str
) -> None:
    patient = await create_patient(client)
    r = await client.post(
        f"/v1/patients/{patient['id']}/dosing-plans",
        content=_json({**IV_PLAN, **change}),
        headers={"Content-Type": "application/json"},
    )
    assert r.status_code in (422, 400), r.text
    if r.status_code == 422:
        assert any(e["loc"][1] == field for e in r.json()["errors"]), r.json()["errors"]
    listed = (await client.get(f"/v1/patients/{patient['id']}/dosing-plans")).json()
    assert listed == {"items": [], "next_cursor": None}


def _json(value: object) -> str:
    import json

    return json.dumps(value, allow_nan=True)


async def test_nurse_cannot_write_plans_but_can_read(
    client: httpx.AsyncClient, nurse_client: httpx.AsyncClient
) -> None:
    patient = await create_patient(client)
    r = await nurse_client.post(f"/v1/patients/{patient['id']}/dosing-plans", json=IV_PLAN)
    assert r.status_code == 403
    plan = await create_plan(client, patient["id"])
    assert (await nurse_client.get(f"/v1/dosing-plans/{plan['id']}")).status_code == 200


@pytest.mark.parametrize("n", ["0", "-1", "2", "2147483648", "99999999999999999999"])
async def test_revision_number_that_names_nothing_is_404(client: httpx.AsyncClient, n: str) -> None:
    """SPEC §1: an id that names nothing is 404 (the plan has revision 1 only)."""
    plan = await create_plan(client, (await create_patient(client))["id"])
    r = await client.get(f"/v1/dosing-plans/{plan['id']}/revisions/{n}")
    assert r.status_code == 404, r.text
    assert r.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize("n", ["abc", "1.5", "one"])
async def test_revision_number_that_is_not_an_integer_is_422(
    client: httpx.AsyncClient, n: str
) -> None:
    plan = await create_plan(client, (await create_patient(client))["id"])
    r = await client.get(f"/v1/dosing-plans/{plan['id']}/revisions/{n}")
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["errors"][0]["loc"] == ["path", "n"]


async def pages(client: httpx.AsyncClient, url: str, limit: int) -> list[dict[str, Any]]:
    """Every item of a paginated list, following next_cursor ``limit`` at a time."""
    items: list[dict[str, Any]] = []
    cursor = None
    for _ in range(50):
        r = await client.get(url, params={"limit": limit, **({"cursor": cursor} if cursor else {})})
        assert r.status_code == 200, r.text
        body = r.json()
        assert set(body) == {"items", "next_cursor"}
        assert len(body["items"]) <= limit
        items += body["items"]
        cursor = body["next_cursor"]
        if cursor is None:
            return items
    raise AssertionError("next_cursor never ran out")


async def test_patient_plans_are_a_paginated_list_newest_first(client: httpx.AsyncClient) -> None:
    """SPEC §1: lists are {"items", "next_cursor"} with ?limit= and ?cursor=."""
    patient = await create_patient(client)
    created = [(await create_plan(client, patient["id"]))["id"] for _ in range(5)]
    url = f"/v1/patients/{patient['id']}/dosing-plans"
    whole = (await client.get(url)).json()
    assert [p["id"] for p in whole["items"]] == created[::-1]
    assert whole["next_cursor"] is None
    for limit in (1, 2, 4):
        assert [p["id"] for p in await pages(client, url, limit)] == created[::-1]
    assert (await client.get(url, params={"limit": 0})).status_code == 422
    assert (await client.get(url, params={"limit": 501})).status_code == 422
    assert (await client.get(url, params={"cursor": "garbage"})).status_code == 422


async def test_plan_revisions_are_a_paginated_list_oldest_first(client: httpx.AsyncClient) -> None:
    patient = await create_patient(client)
    plan = await create_plan(client, patient["id"])
    for version in range(1, 5):
        r = await client.post(
            f"/v1/dosing-plans/{plan['id']}/revisions",
            json={**IV_PLAN, "reason": f"revision {version + 1}"},
            headers={"If-Match": f'"{version}"'},
        )
        assert r.status_code == 201, r.text
    url = f"/v1/dosing-plans/{plan['id']}/revisions"
    for limit in (1, 2, 3, 50):
        assert [x["revision"] for x in await pages(client, url, limit)] == [1, 2, 3, 4, 5]
    assert (await client.get(url, params={"limit": 0})).status_code == 422
    assert (await client.get(url, params={"cursor": "garbage"})).status_code == 422


def test_plan_lists_are_documented_as_pages(app: Any) -> None:
    paths = app.openapi()["paths"]
    for path in ("/v1/patients/{patient_id}/dosing-plans", "/v1/dosing-plans/{plan_id}/revisions"):
        schema = paths[path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
        assert schema["$ref"].startswith("#/components/schemas/Page_"), schema
        names = {p["name"] for p in paths[path]["get"]["parameters"]}
        assert {"limit", "cursor"} <= names
