"""The pre-session and discharge checklists and the screening as gate items (SPEC §4, §11)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.api.safety_helpers import (
    checked_in_session,
    monitoring_session,
    ok,
    ready_to_discharge,
    unmet_codes,
)
from tests.factories import (
    create_patient,
    create_plan,
    create_session,
    good_checklist,
    good_discharge_checklist,
    good_predose,
    iso,
    now,
    post_vitals,
    record_screening,
    transition,
)

REASON = "reviewed with the patient and the clinician on duty"


async def _ready_checked_in(client: httpx.AsyncClient, **plan: Any) -> str:
    session = await checked_in_session(client, at=30, **plan)
    await ok(await post_vitals(client, session["id"], good_predose(now())), 201)
    return str(session["id"])


async def _put(client: httpx.AsyncClient, sid: str, **body: Any) -> httpx.Response:
    return await client.put(f"/v1/sessions/{sid}/checklist", json=body)


def _items(problem: dict[str, Any]) -> list[tuple[str, str | None, bool | None]]:
    return [(u["code"], u.get("item"), u.get("overridable")) for u in problem["unmet"]]


async def test_dosing_needs_the_checklist_and_no_override_passes_its_absence(
    client: httpx.AsyncClient,
) -> None:
    sid = await _ready_checked_in(client)
    r = await transition(client, sid, "dosing")
    assert r.status_code == 409
    assert r.json()["code"] == "checklist_missing"
    assert _items(r.json()) == [("checklist_missing", None, False)]
    assert (await transition(client, sid, "dosing", override_reason=REASON)).status_code == 409
    at = now()
    await ok(await _put(client, sid, **good_checklist(at)))
    record = await ok(await client.get(f"/v1/sessions/{sid}"))
    assert record["checklist"]["content"]["escort"]["name"] == "Luis Ruiz"
    assert (await transition(client, sid, "dosing", at=at)).status_code == 200
    # replaceable only until dosing starts
    assert (await _put(client, sid, **good_checklist(at))).status_code == 409


async def test_fasting_minutes_exactly_the_minimum_is_a_go(client: httpx.AsyncClient) -> None:
    sid = await _ready_checked_in(client)
    at = now()
    body = good_checklist(
        at,
        last_food_at=iso(at - timedelta(minutes=119)),
        last_liquids_at=iso(at - timedelta(minutes=29)),
    )
    await ok(await _put(client, sid, **body))
    r = await transition(client, sid, "dosing", at=at)
    assert _items(r.json()) == [
        ("checklist_item", "last_food_at", False),
        ("checklist_item", "last_liquids_at", False),
    ]
    assert "wait until" in r.json()["unmet"][0]["message"]
    assert (
        await transition(client, sid, "dosing", at=at, override_reason=REASON)
    ).status_code == 409
    body = good_checklist(
        at,
        last_food_at=iso(at - timedelta(minutes=120)),
        last_liquids_at=iso(at - timedelta(minutes=30)),
    )
    await ok(await _put(client, sid, **body))
    assert (await transition(client, sid, "dosing", at=at)).status_code == 200


async def test_npo_minutes_are_a_clinic_setting_per_medication(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch, app: FastAPI
) -> None:
    npo = {**app.state.settings.npo, "ketamine": {"food": 60, "liquids": 10}}
    monkeypatch.setattr(app.state.settings, "npo", npo)  # the app's settings
    sid = await _ready_checked_in(client)
    at = now()
    body = good_checklist(
        at,
        last_food_at=iso(at - timedelta(minutes=60)),
        last_liquids_at=iso(at - timedelta(minutes=10)),
    )
    await ok(await _put(client, sid, **body))
    assert (await transition(client, sid, "dosing", at=at)).status_code == 200


@pytest.mark.parametrize(
    ("change", "item", "overridable"),
    [
        ({"escort": None}, "escort", True),
        ({"medication_changes": True}, "medication_changes", True),
        ({"no_driving_acknowledged": False}, "no_driving_acknowledged", False),
        ({"consent_confirmed": False}, "consent_confirmed", False),
        ({"pregnancy_test": "positive"}, "pregnancy_test", False),
    ],
)
async def test_each_item_is_a_go_or_names_itself(
    client: httpx.AsyncClient,
    nurse_client: httpx.AsyncClient,
    change: dict[str, Any],
    item: str,
    overridable: bool,
) -> None:
    sid = await _ready_checked_in(client)
    at = now()
    await ok(await _put(client, sid, **good_checklist(at, **change)))
    r = await transition(client, sid, "dosing", at=at)
    assert r.status_code == 409
    assert _items(r.json()) == [("checklist_item", item, overridable)]
    assert r.json()["code"] == "checklist_item"
    r = await transition(nurse_client, sid, "dosing", at=at, override_reason=REASON)
    assert r.status_code == 403
    r = await transition(client, sid, "dosing", at=at, override_reason=REASON)
    assert r.status_code == (200 if overridable else 409)


async def test_pregnancy_test_for_a_patient_of_childbearing_potential(
    client: httpx.AsyncClient,
) -> None:
    patient = await create_patient(client, screening=False)
    await record_screening(client, patient["id"], childbearing_potential=True)
    plan = await create_plan(client, patient["id"])
    session = await create_session(client, plan=plan)
    sid = session["id"]
    await ok(await transition(client, sid, "checked_in", weight_kg=70, at=now()))
    await ok(await post_vitals(client, sid, good_predose(now())), 201)
    at = now()
    r = await _put(client, sid, **good_checklist(at, pregnancy_test="not_applicable"))
    assert r.status_code == 422
    assert r.json()["errors"][0]["loc"] == ["body", "pregnancy_test"]
    await ok(await _put(client, sid, **good_checklist(at, pregnancy_test="declined")))
    r = await transition(client, sid, "dosing", at=at)
    assert _items(r.json()) == [("checklist_item", "pregnancy_test", True)]
    await ok(await transition(client, sid, "dosing", at=at, override_reason=REASON))


async def test_predose_gate_checks_the_screening_at_dosing(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    session = await checked_in_session(client, at=30)
    sid = session["id"]
    at = now()
    await ok(await post_vitals(client, sid, good_predose(at)), 201)
    await ok(await _put(client, sid, **good_checklist(at)))
    patient_id = session["patient_id"]
    # a year later the screening has expired
    import api.screenings.service as screenings

    monkeypatch.setattr(screenings, "clinic_today", lambda _=None: date.today() + timedelta(400))
    r = await transition(client, sid, "dosing", at=at, override_reason=REASON)
    assert r.status_code == 409
    assert _items(r.json()) == [("screening_expired", None, False)]
    monkeypatch.undo()
    await record_screening(
        client, patient_id, decision="not_eligible", decision_reason="psychosis since screening"
    )
    r = await transition(client, sid, "dosing", at=at, override_reason=REASON)
    assert unmet_codes(r.json()) == ["not_eligible"]


async def test_discharge_checklist_items(
    client: httpx.AsyncClient, nurse_client: httpx.AsyncClient
) -> None:
    session = await monitoring_session(client, min_monitoring_minutes=60)
    sid = session["id"]
    await ready_to_discharge(client, sid, checklist=False)
    url = f"/v1/sessions/{sid}/discharge-checklist"
    r = await transition(client, sid, "discharged")
    assert _items(r.json()) == [("discharge_checklist_missing", None, False)]
    at = now()
    bad = good_discharge_checklist(
        at, dissociation_resolved=False, escort_present=False, instructions_given=False
    )
    await ok(await nurse_client.put(url, json=bad))
    r = await transition(client, sid, "discharged", override_reason=REASON)
    assert _items(r.json()) == [
        ("checklist_item", "dissociation_resolved", False),
        ("checklist_item", "escort_present", True),
        ("checklist_item", "instructions_given", False),
    ]
    await ok(await nurse_client.put(url, json=good_discharge_checklist(at, escort_present=False)))
    assert (await transition(client, sid, "discharged")).status_code == 409
    await ok(await transition(client, sid, "discharged", override_reason=REASON))


async def test_checklists_only_in_their_phase(client: httpx.AsyncClient) -> None:
    session = await create_session(client)
    sid = session["id"]
    at = now()
    assert (await _put(client, sid, **good_checklist(at))).status_code == 409
    r = await client.put(
        f"/v1/sessions/{sid}/discharge-checklist", json=good_discharge_checklist(at)
    )
    assert r.status_code == 409
    sid2 = await _ready_checked_in(client)
    assert (await _put(client, sid2, **good_checklist(at), extra=1)).status_code == 422
