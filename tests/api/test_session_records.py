"""The medication list (SPEC §11), adverse events and other medications of a session (§6)."""

from __future__ import annotations

import httpx

from tests.api.safety_helpers import checked_in_session, monitoring_session, ok
from tests.factories import ago, create_patient, create_session, iso


async def test_medication_list_is_versioned_with_if_match(
    client: httpx.AsyncClient, nurse_client: httpx.AsyncClient
) -> None:
    pid = (await create_patient(client))["id"]
    url = f"/v1/patients/{pid}/medications"
    empty = await nurse_client.get(url)
    assert empty.json()["version"] == 0
    assert empty.headers["ETag"] == '"0"'
    first = await nurse_client.put(
        url, json={"items": [{"name": "sertraline", "class": "antidepressant"}]}
    )
    assert first.status_code == 200
    assert first.json()["version"] == 1
    stale = await nurse_client.put(url, json={"items": []}, headers={"If-Match": '"0"'})
    assert stale.status_code == 412
    second = await nurse_client.put(
        url,
        json={"items": [{"name": "phenelzine", "class": "maoi", "dose": "15 mg"}]},
        headers={"If-Match": first.headers["ETag"]},
    )
    assert second.json()["version"] == 2
    history = await ok(await nurse_client.get(f"{url}/history"))
    assert [v["version"] for v in history["items"]] == [2, 1]
    assert history["items"][1]["items"][0]["name"] == "sertraline"
    bad = await nurse_client.put(url, json={"items": [{"name": "x", "class": "herbal"}]})
    assert bad.status_code == 422
    assert (await client.get("/v1/patients/nope/medications")).status_code == 404


async def test_adverse_events_alert_resolve_retract_and_after_discharge(
    client: httpx.AsyncClient, nurse_client: httpx.AsyncClient
) -> None:
    session = await monitoring_session(client)
    sid = session["id"]
    url = f"/v1/sessions/{sid}/adverse-events"
    mild = await ok(
        await nurse_client.post(
            url, json={"kind": "nausea", "severity": "mild", "onset_at": iso(ago(60))}
        ),
        201,
    )
    assert mild["alert_id"] is None
    severe = await ok(
        await nurse_client.post(
            url,
            json={"kind": "hypertension", "severity": "severe", "onset_at": iso(ago(50))},
        ),
        201,
    )
    assert severe["alert_id"]
    alerts = (await client.get(f"/v1/sessions/{sid}/alerts")).json()["items"]
    alert = next(a for a in alerts if a["id"] == severe["alert_id"])
    assert alert["kind"] == "adverse_event"
    assert alert["severity"] == "critical"
    assert alert["adverse_event_id"] == severe["id"]
    other = await nurse_client.post(
        url, json={"kind": "other", "severity": "mild", "onset_at": iso(ago(40))}
    )
    assert other.status_code == 422
    resolved = await ok(
        await nurse_client.post(f"{url}/{mild['id']}/resolve", json={"resolved_at": iso(ago(30))})
    )
    assert resolved["resolved_at"]
    assert (await nurse_client.post(f"{url}/{mild['id']}/resolve", json={})).status_code == 409
    retracted = await ok(
        await nurse_client.post(f"{url}/{severe['id']}/retract", json={"reason": "wrong patient"})
    )
    assert retracted["status"] == "entered-in-error"
    alerts = (await client.get(f"/v1/sessions/{sid}/alerts")).json()["items"]
    assert next(a for a in alerts if a["id"] == severe["alert_id"])["status"] == "resolved"
    record = await ok(await client.get(f"/v1/sessions/{sid}"))
    assert {e["id"]: e["status"] for e in record["adverse_events"]} == {
        mild["id"]: "final",
        severe["id"]: "entered-in-error",
    }
    # life-threatening is critical too
    lt = await ok(
        await nurse_client.post(
            url,
            json={
                "kind": "respiratory_depression",
                "severity": "life_threatening",
                "onset_at": iso(ago(20)),
            },
        ),
        201,
    )
    assert lt["alert_id"]


async def test_adverse_event_may_be_recorded_after_discharge(client: httpx.AsyncClient) -> None:
    session = await checked_in_session(client, at=30)
    sid = session["id"]
    r = await client.post(
        f"/v1/sessions/{sid}/transitions", json={"to": "cancelled", "reason": "unwell"}
    )
    assert r.status_code == 200
    r = await client.post(
        f"/v1/sessions/{sid}/adverse-events",
        json={"kind": "headache", "severity": "moderate", "onset_at": iso(ago(5))},
    )
    assert r.status_code == 201
    scheduled = await create_session(client)
    r = await client.post(
        f"/v1/sessions/{scheduled['id']}/adverse-events",
        json={"kind": "headache", "severity": "moderate", "onset_at": iso(ago(5))},
    )
    assert r.status_code == 409


async def test_other_medications_refuse_ketamine_and_are_retractable(
    client: httpx.AsyncClient, nurse_client: httpx.AsyncClient
) -> None:
    session = await monitoring_session(client)
    sid = session["id"]
    url = f"/v1/sessions/{sid}/medications"
    body = {
        "name": "midazolam",
        "dose": 1,
        "unit": "mg",
        "route": "iv",
        "given_at": iso(ago(30)),
        "reason": "emergence agitation",
        "controlled_schedule": "IV",
    }
    given = await ok(await nurse_client.post(url, json=body), 201)
    for name in ("Ketamine", "esketamine (Spravato)"):
        r = await nurse_client.post(url, json={**body, "name": name})
        assert r.status_code == 422
        assert r.json()["errors"][0]["loc"] == ["body", "name"]
    assert (await nurse_client.post(url, json={**body, "dose": "1"})).status_code == 422
    assert (
        await nurse_client.post(url, json={**body, "controlled_schedule": "I"})
    ).status_code == 422
    record = await ok(await client.get(f"/v1/sessions/{sid}"))
    assert [m["name"] for m in record["other_medications"]] == ["midazolam"]
    r = await nurse_client.post(f"{url}/{given['id']}/retract", json={"reason": "typo"})
    assert r.json()["status"] == "entered-in-error"
    assert (await nurse_client.get(url)).json() == []
    again = await nurse_client.post(f"{url}/{given['id']}/retract", json={"reason": "typo"})
    assert again.status_code == 409
