"""People by name (SPEC §1): responses that name a person by id carry ``<field>_name``; alert
messages name who recorded the reading and give the clinic time with its offset."""

from __future__ import annotations

import re

import httpx

from tests.api.safety_helpers import dosing_session, ok
from tests.factories import ago, post_vitals, vital
from tests.integrations.helpers import bound_session


async def me(c: httpx.AsyncClient) -> dict:
    return dict(await ok(await c.get("/v1/users/me")))


async def test_readings_carry_who_recorded_and_retracted_them_by_name(
    client: httpx.AsyncClient, nurse_client: httpx.AsyncClient
) -> None:
    session = await dosing_session(client)
    sid = session["id"]
    nurse, clinician = await me(nurse_client), await me(client)
    stored = await ok(
        await post_vitals(nurse_client, sid, [vital("heart_rate", 131, "/min", ago(20))]), 201
    )
    [reading] = stored["items"]
    assert reading["recorded_by"] == nurse["id"]
    assert reading["recorded_by_name"] == nurse["display_name"]
    assert reading["retracted_by_name"] is None
    [alert] = (await ok(await client.get(f"/v1/sessions/{sid}/alerts")))["items"]
    assert f"recorded by {nurse['display_name']}" in alert["message"]
    # the clinic's time, to the minute, with its offset (VIGIL_CLINIC_TZ, UTC in tests)
    assert re.search(r"measured \d{4}-\d{2}-\d{2} \d{2}:\d{2} \+00:00", alert["message"])

    retracted = await ok(
        await client.post(
            f"/v1/sessions/{sid}/vitals/{reading['id']}/retract", json={"reason": "wrong chair"}
        )
    )
    assert retracted["retracted_by_name"] == clinician["display_name"]
    listed = await ok(
        await client.get(f"/v1/sessions/{sid}/vitals", params={"include_retracted": "true"})
    )
    row = next(r for r in listed["items"] if r["id"] == reading["id"])
    assert (row["recorded_by_name"], row["retracted_by_name"]) == (
        nurse["display_name"],
        clinician["display_name"],
    )


async def test_an_integration_writer_is_named_by_its_client_name(
    client: httpx.AsyncClient,
    nurse_client: httpx.AsyncClient,
    admin_client: httpx.AsyncClient,
    integration_client: httpx.AsyncClient,
) -> None:
    session, device = await bound_session(client, nurse_client, admin_client)
    r = await integration_client.post(
        "/v1/integrations/observations",
        json={
            "device": device["identifier"],
            "observations": [
                {"code": "spo2", "value": 97, "unit": "%", "measured_at": ago(1).isoformat()}
            ],
        },
    )
    assert r.status_code == 200, r.text
    listed = await ok(await client.get(f"/v1/sessions/{session['id']}/vitals"))
    [row] = listed["items"]
    assert row["recorded_by_name"] == "test gateway"


async def test_sessions_plans_and_assessments_name_people(
    client: httpx.AsyncClient, nurse_client: httpx.AsyncClient
) -> None:
    from tests.api.safety_helpers import assess

    nurse, clinician = await me(nurse_client), await me(client)
    session = await dosing_session(client)
    sid = session["id"]
    record = await ok(await client.get(f"/v1/sessions/{sid}"))
    assert {t["recorded_by_name"] for t in record["transitions"]} == {clinician["display_name"]}
    plan = await ok(await client.get(f"/v1/dosing-plans/{record['dosing_plan_id']}"))
    assert plan["created_by_name"] == clinician["display_name"]
    score = await ok(await assess(nurse_client, sid, "moaas", ago(1), score=5), 201)
    assert score["recorded_by_name"] == nurse["display_name"]
    listed = await ok(await client.get(f"/v1/sessions/{sid}/assessments"))
    assert {a["recorded_by_name"] for a in listed["items"]} == {nurse["display_name"]}


async def test_a_person_is_named_by_id_or_username(
    app: object, client: httpx.AsyncClient, nurse_client: httpx.AsyncClient
) -> None:
    """api.people.resolve_person: the one resolver for request fields that name a person."""
    import pytest

    from api.errors import ValidationFailed
    from api.people import resolve_person

    nurse = await me(nurse_client)
    async with app.state.session_factory() as db:  # type: ignore[attr-defined]
        by_id = await resolve_person(db, nurse["id"], loc=["body", "witness"])
        by_name = await resolve_person(db, nurse["username"].upper(), loc=["body", "witness"])
        assert str(by_id.id) == str(by_name.id) == nurse["id"]
        with pytest.raises(ValidationFailed) as refused:
            await resolve_person(db, "nobody-here", loc=["body", "witness"])
        assert refused.value.extra["errors"][0]["loc"] == ["body", "witness"]
        assert "username or user id" in refused.value.extra["errors"][0]["msg"]
        with pytest.raises(ValidationFailed):
            await resolve_person(db, nurse["username"], loc=["body", "x"], roles={"clinician"})
        await db.rollback()
