"""Issue 18's session gates over HTTP (SPEC §3 "Which revision a session uses", §4): the
discharge gate as the REMS end-point, prescriber changes reaching sessions, repin, one open
session per patient, the interval between sessions, refusals and overrides."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from sqlalchemy.exc import IntegrityError

from api.clinical.labels import clinic_time
from api.config import get_settings
from api.db import create_engine
from tests.api.safety_helpers import (
    ESKETAMINE_PLAN,
    assess,
    checked_in_session,
    dosing_session,
    monitoring_session,
    ok,
    ready_to_discharge,
    unmet_codes,
)
from tests.conftest import Backend, make_settings
from tests.factories import (
    IV_PLAN,
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

REASON = "Reviewed at the chair-side with the patient; benefit outweighs risk"


async def record(client: httpx.AsyncClient, sid: str) -> dict[str, Any]:
    return await ok(await client.get(f"/v1/sessions/{sid}"))


async def revise(client: httpx.AsyncClient, plan_id: str, **changes: Any) -> dict[str, Any]:
    return await ok(
        await client.post(f"/v1/dosing-plans/{plan_id}/revisions", json={**IV_PLAN, **changes}),
        201,
    )


async def discontinue(client: httpx.AsyncClient, plan_id: str) -> None:
    await ok(
        await client.post(
            f"/v1/dosing-plans/{plan_id}/discontinue", json={"reason": "positive pregnancy test"}
        )
    )


async def ready_to_dose(client: httpx.AsyncClient, sid: str, minutes_ago: float = 5) -> None:
    await ok(await post_vitals(client, sid, good_predose(ago(minutes_ago))), 201)
    await prepare_dosing(client, sid, ago(0))


def bp(systolic: float, diastolic: float, at: datetime) -> list[dict[str, Any]]:
    return [vital("systolic_bp", systolic, "mm[Hg]", at), vital("diastolic_bp", diastolic,
            "mm[Hg]", at)]  # fmt: skip


def db_id(session: dict[str, Any], backend: Backend) -> object:
    """A session id as the database stores it (PostgreSQL uuid, SQLite 32 hex digits)."""
    value = uuid.UUID(session["id"])
    return value if backend.is_postgres else value.hex


def plan_of(session: dict[str, Any]) -> dict[str, Any]:
    return {"id": session["dosing_plan_id"], "patient_id": session["patient_id"]}


def first_item(problem: dict[str, Any], code: str) -> dict[str, Any]:
    return next(u for u in problem["unmet"] if u["code"] == code)


@pytest.fixture
def new_york_clinic(monkeypatch: pytest.MonkeyPatch, app: FastAPI) -> Iterator[ZoneInfo]:
    """The clinic in New York: the app's settings, and the process's (which a few messages
    still read)."""
    monkeypatch.setenv("VIGIL_CLINIC_TZ", "America/New_York")
    get_settings.cache_clear()
    settings = app.state.settings
    app.state.settings = settings.model_copy(update={"clinic_tz": "America/New_York"})
    yield ZoneInfo("America/New_York")
    app.state.settings = settings


# ------------------------------------------------------------------------------ pre-dose


async def test_a_pre_dose_heart_rate_of_38_does_not_pass(client: httpx.AsyncClient) -> None:
    session = await checked_in_session(client, at=30)
    sid = session["id"]
    readings = good_predose(ago(5))
    readings[2]["value"] = 38
    await ok(await post_vitals(client, sid, readings), 201)
    await prepare_dosing(client, sid, ago(0))
    r = await transition(client, sid, "dosing")
    assert r.status_code == 409
    assert r.json()["code"] == "below_limit"
    [item] = r.json()["unmet"]
    assert (item["vital"], item["value"], item["limit"], item["overridable"]) == (
        "heart_rate",
        38,
        50,
        True,
    )


# ---------------------------------------------------------------------- prescriber changes


async def test_a_dose_change_while_booked_reaches_the_session_at_check_in(
    client: httpx.AsyncClient,
) -> None:
    session = await create_session(client)
    sid = session["id"]
    assert (session["plan_revision"], session["pinned_revision"]) == (1, None)
    await revise(client, session["dosing_plan_id"], dose_mg_per_kg=0.375)
    booked = await record(client, sid)
    assert (booked["plan_revision"], booked["pinned_revision"]) == (2, None)
    body = await ok(await transition(client, sid, "checked_in", weight_kg=80, at=ago(10)))
    assert (body["plan_revision"], body["pinned_revision"]) == (2, 2)
    assert body["planned_dose_mg"] == 30


async def test_a_change_after_check_in_is_plan_changed_until_repinned(
    client: httpx.AsyncClient, nurse_client: httpx.AsyncClient
) -> None:
    session = await checked_in_session(client, at=30)
    sid = session["id"]
    me = await ok(await client.get("/v1/users/me"))
    await revise(client, session["dosing_plan_id"], dose_mg_per_kg=0.375)
    await ready_to_dose(client, sid)

    r = await transition(nurse_client, sid, "dosing")
    assert r.status_code == 409
    problem = r.json()
    assert problem["code"] == "plan_changed"
    item = first_item(problem, "plan_changed")
    assert (item["pinned_revision"], item["current_revision"]) == (1, 2)
    assert item["current_planned_dose_mg"] == 30
    assert item["overridable"] is False
    assert me["display_name"] in item["message"]
    assert "repin" in item["message"]
    # no override passes it, and nothing is recorded
    before = await record(client, sid)
    r = await transition(client, sid, "dosing", override_reason=REASON)
    assert r.status_code == 409
    assert unmet_codes(r.json()) == ["plan_changed"]
    after = await record(client, sid)
    assert (after["status"], after["version"]) == ("checked_in", before["version"])

    repinned = await ok(await nurse_client.post(f"/v1/sessions/{sid}/repin", json={}))
    assert (repinned["plan_revision"], repinned["planned_dose_mg"]) == (2, 30)
    assert repinned["weight_kg"] == 80
    again = await ok(await nurse_client.post(f"/v1/sessions/{sid}/repin", json={}))
    assert again["version"] == repinned["version"]  # already current: a no-op
    body = await ok(await transition(nurse_client, sid, "dosing"))
    assert body["status"] == "dosing"
    r = await nurse_client.post(f"/v1/sessions/{sid}/repin", json={})
    assert r.status_code == 409  # dosing started


async def test_repin_takes_a_new_weight_and_refuses_what_check_in_refuses(
    client: httpx.AsyncClient,
) -> None:
    session = await checked_in_session(client, at=30)
    sid = session["id"]
    await revise(client, session["dosing_plan_id"], dose_mg_per_kg=0.5, max_dose_mg=70)
    body = await ok(await client.post(f"/v1/sessions/{sid}/repin", json={"weight_kg": 60}))
    assert (body["weight_kg"], body["planned_dose_mg"], body["plan_revision"]) == (60, 30, 2)

    patient = await create_patient(client, height_cm=None)
    plan = await create_plan(client, patient["id"])
    tall = await create_session(client, plan=plan)
    await ok(await transition(client, tall["id"], "checked_in", weight_kg=80, at=ago(10)))
    await revise(client, plan["id"], weight_basis="ideal")
    r = await client.post(f"/v1/sessions/{tall['id']}/repin", json={})
    assert r.status_code == 409
    assert (r.json()["code"], unmet_codes(r.json())) == ("missing_height", ["missing_height"])
    readiness = await ok(await client.get(f"/v1/sessions/{tall['id']}/readiness"))
    item = first_item(readiness["dosing"], "plan_changed")
    assert item["current_planned_dose_mg"] is None

    scheduled = await create_session(client)
    r = await client.post(f"/v1/sessions/{scheduled['id']}/repin", json={})
    assert r.status_code == 409


async def test_a_revision_may_not_change_medication_or_route(client: httpx.AsyncClient) -> None:
    patient = await create_patient(client)
    plan = await create_plan(client, patient["id"])
    r = await client.post(
        f"/v1/dosing-plans/{plan['id']}/revisions",
        json={**IV_PLAN, "route": "im", "infusion_minutes": None},
    )
    assert r.status_code == 422
    assert [e["loc"] for e in r.json()["errors"]] == [["body", "route"]]
    r = await client.post(
        f"/v1/dosing-plans/{plan['id']}/revisions",
        json={**IV_PLAN, **ESKETAMINE_PLAN, "route": "iv_infusion", "infusion_minutes": 40},
    )
    assert r.status_code == 422
    assert ["body", "medication"] in [e["loc"] for e in r.json()["errors"]]


async def test_a_discontinued_plan_stops_booking_check_in_dosing_and_repin(
    client: httpx.AsyncClient,
) -> None:
    checked_in = await checked_in_session(client, at=30)
    sid = checked_in["id"]
    plan = plan_of(checked_in)
    booked = await create_session(client, plan=plan)
    await discontinue(client, plan["id"])

    await ready_to_dose(client, sid)
    r = await transition(client, sid, "dosing", override_reason=REASON)
    assert r.status_code == 409
    assert (r.json()["code"], unmet_codes(r.json())) == ("plan_discontinued", ["plan_discontinued"])
    assert "positive pregnancy test" in r.json()["unmet"][0]["message"]
    r = await client.post(f"/v1/sessions/{sid}/repin", json={})
    assert (r.status_code, r.json()["code"]) == (409, "plan_discontinued")

    r = await transition(client, booked["id"], "checked_in", weight_kg=80)
    assert (r.status_code, r.json()["code"]) == (409, "plan_discontinued")
    r = await client.post(
        "/v1/sessions",
        json={
            "patient_id": plan["patient_id"],
            "dosing_plan_id": plan["id"],
            "scheduled_at": iso(ago(-60)),
        },
    )
    assert (r.status_code, r.json()["code"]) == (409, "plan_discontinued")
    assert unmet_codes(r.json()) == ["plan_discontinued"]
    await ok(await transition(client, sid, "cancelled", reason="plan stopped"))


async def test_a_session_already_dosing_finishes_after_the_plan_is_discontinued(
    client: httpx.AsyncClient,
) -> None:
    session = await monitoring_session(client)
    await discontinue(client, session["dosing_plan_id"])
    await ready_to_discharge(client, session["id"])
    await ok(await transition(client, session["id"], "discharged"))


# ---------------------------------------------------------------- one open session, interval


async def test_a_patient_has_one_open_session(client: httpx.AsyncClient) -> None:
    first = await checked_in_session(client, at=30)
    second = await create_session(client, plan=plan_of(first))
    r = await transition(client, second["id"], "checked_in", weight_kg=80)
    assert r.status_code == 409
    assert (r.json()["code"], unmet_codes(r.json())) == ("session_open", ["session_open"])
    assert "chair-3" in r.json()["unmet"][0]["message"]
    r = await transition(client, second["id"], "checked_in", weight_kg=80, override_reason=REASON)
    assert r.status_code == 409  # never overridable
    await ok(await transition(client, first["id"], "cancelled", reason="wrong day"))
    await ok(await transition(client, second["id"], "checked_in", weight_kg=80))


async def test_two_check_ins_at_once_let_one_through(client: httpx.AsyncClient) -> None:
    first = await create_session(client)
    second = await create_session(client, plan=plan_of(first))
    results = await asyncio.gather(
        transition(client, first["id"], "checked_in", weight_kg=80),
        transition(client, second["id"], "checked_in", weight_kg=80),
    )
    assert sorted(r.status_code for r in results) == [200, 409]
    refused = next(r for r in results if r.status_code == 409)
    assert refused.json()["code"] == "session_open"


async def test_the_database_holds_one_open_session_per_patient(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    first = await create_session(client)
    second = await create_session(client, plan=plan_of(first))
    engine = create_engine(make_settings(backend.url))
    try:
        async with engine.begin() as conn:
            await conn.execute(
                sa.text("UPDATE treatment_sessions SET status = 'checked_in' WHERE id = :id"),
                {
                    "id": uuid.UUID(first["id"])
                    if backend.is_postgres
                    else uuid.UUID(first["id"]).hex
                },
            )
        with pytest.raises(IntegrityError):
            async with engine.begin() as conn:
                await conn.execute(
                    sa.text("UPDATE treatment_sessions SET status = 'dosing' WHERE id = :id"),
                    {"id": db_id(second, backend)},
                )
    finally:
        await engine.dispose()


async def test_check_in_sooner_than_min_interval_hours_needs_a_clinician(
    client: httpx.AsyncClient, nurse_client: httpx.AsyncClient, new_york_clinic: ZoneInfo
) -> None:
    first = await dosing_session(client, dosing_at=60, min_interval_hours=72)
    await ok(await transition(client, first["id"], "transferred", reason="to the ED", at=ago(50)))
    dosed_at = datetime.fromisoformat((await record(client, first["id"]))["dosing_started_at"])
    second = await create_session(client, plan=plan_of(first))
    plan = await ok(await client.get(f"/v1/dosing-plans/{first['dosing_plan_id']}"))
    assert (plan["min_interval_hours"], plan["course_phase"]) == (72, "induction")

    r = await transition(nurse_client, second["id"], "checked_in", weight_kg=80)
    assert r.status_code == 409
    item = first_item(r.json(), "interval_too_short")
    assert r.json()["code"] == "interval_too_short"
    assert item["overridable"] is True
    earliest = dosed_at + timedelta(hours=72)
    assert datetime.fromisoformat(item["earliest_at"]) == earliest
    assert clinic_time(earliest, new_york_clinic) in item["message"]
    r = await transition(nurse_client, second["id"], "checked_in", weight_kg=80,
                         override_reason=REASON)  # fmt: skip
    assert r.status_code == 403
    body = await ok(
        await transition(client, second["id"], "checked_in", weight_kg=80, override_reason=REASON)
    )
    last = body["transitions"][-1]
    assert [u["code"] for u in last["overridden"]] == ["interval_too_short"]
    assert last["override_reason"] == REASON


# ------------------------------------------------------------------ refusals and overrides


async def test_override_reasons_are_a_clinicians_and_at_least_10_characters(
    client: httpx.AsyncClient, nurse_client: httpx.AsyncClient
) -> None:
    session = await checked_in_session(client, at=30)
    sid = session["id"]
    r = await transition(client, sid, "cancelled", reason="unwell", override_reason="too short")
    assert r.status_code == 422
    assert [e["loc"] for e in r.json()["errors"]] == [["body", "override_reason"]]
    # wherever it appears, even where nothing needs overriding
    r = await transition(nurse_client, sid, "cancelled", reason="unwell", override_reason=REASON)
    assert r.status_code == 403


async def test_an_override_passes_only_when_every_item_is_overridable(
    client: httpx.AsyncClient,
) -> None:
    session = await checked_in_session(client, at=90)
    sid = session["id"]
    readings = good_predose(ago(5))[:3]  # no SpO2 in the window
    readings[0]["value"] = 150
    await ok(await post_vitals(client, sid, [*readings, vital("spo2", 97, "%", ago(60))]), 201)
    await prepare_dosing(client, sid, ago(0))
    r = await transition(client, sid, "dosing", override_reason=REASON)
    assert r.status_code == 409
    problem = r.json()
    assert problem["code"] == "above_limit"
    assert [(u["code"], u["overridable"]) for u in problem["unmet"]] == [
        ("above_limit", True),
        ("stale_reading", False),
    ]
    after = await record(client, sid)
    assert after["status"] == "checked_in"
    assert [t["to_status"] for t in after["transitions"]] == ["checked_in"]


# ------------------------------------------------------------------------------- discharge


async def test_discharge_needs_a_respiratory_rate_inside_the_limits(
    client: httpx.AsyncClient,
) -> None:
    session = await monitoring_session(client)
    sid = session["id"]
    await ready_to_discharge(client, sid)
    await ok(await post_vitals(client, sid, [vital("respiratory_rate", 8, "/min", ago(1))]), 201)
    r = await transition(client, sid, "discharged")
    assert r.status_code == 409
    first = r.json()["unmet"][0]
    assert (first["code"], first["vital"]) == ("below_limit", "respiratory_rate")


async def test_the_baseline_is_frozen_when_dosing_starts(client: httpx.AsyncClient) -> None:
    session = await checked_in_session(client, at=200)
    sid = session["id"]
    pre = [
        vital("systolic_bp", 118, "mm[Hg]", ago(160)),
        vital("diastolic_bp", 74, "mm[Hg]", ago(160)),
        vital("heart_rate", 72, "/min", ago(160)),
        vital("spo2", 98, "%", ago(160)),
    ]
    await ok(await post_vitals(client, sid, pre), 201)
    await prepare_dosing(client, sid, ago(150))
    await ok(await transition(client, sid, "dosing", at=ago(150)))
    # a late entry measured just before dosing started does not move the baseline
    await ok(await post_vitals(client, sid, bp(170, 95, ago(151))), 201)
    body = await record(client, sid)
    assert body["baseline"] == {"systolic_bp": 118, "diastolic_bp": 74, "heart_rate": 72}
    await ok(await transition(client, sid, "monitoring", at=ago(100)))
    await ready_to_discharge(client, sid)
    await ok(await post_vitals(client, sid, bp(150, 80, ago(1))), 201)
    r = await transition(client, sid, "discharged")
    assert r.status_code == 409
    [item] = r.json()["unmet"]
    assert {k: item[k] for k in ("code", "vital", "value", "baseline", "limit", "overridable")} == {
        "code": "not_near_baseline",
        "vital": "systolic_bp",
        "value": 150,
        "baseline": 118,
        "limit": 141.6,
        "overridable": True,
    }
    body = await ok(await transition(client, sid, "discharged", override_reason=REASON))
    assert [u["code"] for u in body["transitions"][-1]["overridden"]] == ["not_near_baseline"]


async def test_a_fall_below_the_baseline_is_not_held_against_the_patient(
    client: httpx.AsyncClient,
) -> None:
    session = await monitoring_session(client)
    sid = session["id"]
    await ready_to_discharge(client, sid)
    await ok(await post_vitals(client, sid, bp(100, 60, ago(1))), 201)
    await ok(await transition(client, sid, "discharged"))


async def test_the_sedation_score_must_be_from_the_last_30_minutes(
    client: httpx.AsyncClient,
) -> None:
    other = await monitoring_session(client)
    osid = other["id"]
    await ready_to_discharge(client, osid)
    await ok(await assess(client, osid, "rass", ago(1), score=2), 201)
    r = await transition(client, osid, "discharged")
    assert unmet_codes(r.json()) == ["agitation_not_resolved"]

    # a MOAA/S 5 taken 45 minutes ago (after dosing) no longer counts
    third = await monitoring_session(client)
    tsid = third["id"]
    await ok(await assess(client, tsid, "moaas", ago(45), score=5), 201)
    await ready_to_discharge_without_sedation(client, tsid)
    r = await transition(client, tsid, "discharged")
    assert unmet_codes(r.json()) == ["missing_sedation_score"]


async def ready_to_discharge_without_sedation(client: httpx.AsyncClient, sid: str) -> None:
    from tests.api.safety_helpers import good_discharge_vitals
    from tests.factories import prepare_discharge

    await ok(await post_vitals(client, sid, good_discharge_vitals(ago(3))), 201)
    await prepare_discharge(client, sid, ago(3))


async def test_dissociation_must_have_resolved(client: httpx.AsyncClient) -> None:
    session = await monitoring_session(client)
    sid = session["id"]
    await ready_to_discharge(client, sid)
    await ok(await assess(client, sid, "cadss", ago(1), items=[1] * 10 + [0] * 13), 201)
    r = await transition(client, sid, "discharged", override_reason=REASON)
    assert r.status_code == 409
    [item] = r.json()["unmet"]
    assert (item["code"], item["value"], item["limit"], item["overridable"]) == (
        "dissociation_not_resolved",
        10,
        4,
        False,
    )


async def test_any_open_alert_blocks_discharge_until_acknowledged(
    client: httpx.AsyncClient, nurse_client: httpx.AsyncClient
) -> None:
    session = await monitoring_session(client)
    sid = session["id"]
    await ok(await post_vitals(client, sid, [vital("heart_rate", 125, "/min", ago(20))]), 201)
    await ready_to_discharge(client, sid)
    r = await transition(nurse_client, sid, "discharged")
    assert r.status_code == 409
    [item] = r.json()["unmet"]
    assert (item["code"], item["severity"], item["overridable"]) == ("open_alert", "warning", False)
    assert "125" in item["alert_message"]
    await ok(await nurse_client.post(f"/v1/alerts/{item['alert_id']}/acknowledge", json={}))
    body = await ok(await transition(nurse_client, sid, "discharged"))
    assert body["discharge_type"] == "regular"


async def test_esketamine_two_hours_count_from_the_first_device(
    client: httpx.AsyncClient, new_york_clinic: ZoneInfo
) -> None:
    session = await dosing_session(client, dosing_at=150, **ESKETAMINE_PLAN)
    sid = session["id"]
    given = await ok(
        await client.post(
            f"/v1/sessions/{sid}/administrations",
            json={
                "medication": "esketamine",
                "route": "intranasal",
                "dose_mg": 56,
                "devices": 2,
                "started_at": iso(ago(110)),
                "ended_at": iso(ago(105)),
                "lot_number": "SPR-77812",
                "expiry_date": "2030-03-31",
            },
        ),
        201,
    )
    await ok(await transition(client, sid, "monitoring", at=ago(100)))
    await ready_to_discharge(client, sid)
    readiness = await ok(await client.get(f"/v1/sessions/{sid}/readiness"))
    earliest = datetime.fromisoformat(readiness["discharge"]["earliest_at"])
    assert earliest == datetime.fromisoformat(given["started_at"]) + timedelta(minutes=120)
    assert "vitals_due_at" in readiness
    r = await transition(client, sid, "discharged", override_reason=REASON)
    assert r.status_code == 409
    item = first_item(r.json(), "min_monitoring")
    assert item["overridable"] is False
    assert datetime.fromisoformat(item["earliest_at"]) == earliest
    assert clinic_time(earliest, new_york_clinic) in item["message"]
    # a retracted dose was never given: the clock falls back to dosing start
    await ok(
        await client.post(
            f"/v1/sessions/{sid}/administrations/{given['id']}/retract",
            json={"reason": "recorded on the wrong patient"},
        )
    )
    await ok(await transition(client, sid, "discharged"))


async def test_against_advice_records_every_unmet_item_and_blocks_nothing(
    client: httpx.AsyncClient, nurse_client: httpx.AsyncClient
) -> None:
    session = await monitoring_session(client, dosing_at=30, monitoring_at=10)
    sid = session["id"]
    r = await transition(nurse_client, sid, "discharged", discharge_type="against_advice")
    assert r.status_code == 422  # a reason is required
    r = await transition(
        nurse_client, sid, "monitoring", discharge_type="against_advice", reason="left"
    )
    assert r.status_code in (409, 422)
    body = await ok(
        await transition(
            nurse_client,
            sid,
            "discharged",
            discharge_type="against_advice",
            reason="Patient insisted on leaving; risks explained, escort present",
        )
    )
    assert body["status"] == "discharged"
    assert body["discharge_type"] == "against_advice"
    last = body["transitions"][-1]
    codes = [u["code"] for u in last["unmet"]]
    assert codes[0] == "min_monitoring"
    assert "missing_sedation_score" in codes
    assert last["overridden"] is None


# ------------------------------------------------------------------- responsible clinician


async def test_responsible_clinician_is_an_active_clinician_by_id_or_username(
    client: httpx.AsyncClient, nurse_client: httpx.AsyncClient
) -> None:
    me = await ok(await client.get("/v1/users/me"))
    nurse = await ok(await nurse_client.get("/v1/users/me"))
    patient = await create_patient(client)
    plan = await create_plan(client, patient["id"])
    base = {"patient_id": patient["id"], "dosing_plan_id": plan["id"],
            "scheduled_at": iso(ago(-60))}  # fmt: skip
    for ref in (me["username"], me["id"]):
        body = await ok(
            await nurse_client.post("/v1/sessions", json={**base, "responsible_clinician": ref}),
            201,
        )
        assert body["responsible_clinician"] == me["id"]
        assert body["responsible_clinician_name"] == me["display_name"]
    for ref in (nurse["username"], "nobody-here"):
        r = await nurse_client.post("/v1/sessions", json={**base, "responsible_clinician": ref})
        assert r.status_code == 422
        assert [e["loc"] for e in r.json()["errors"]] == [["body", "responsible_clinician"]]
    plain = await ok(await nurse_client.post("/v1/sessions", json=base), 201)
    assert plain["responsible_clinician"] is None


async def test_the_rems_form_says_no_to_vitals_after_a_discharge_against_advice(
    client: httpx.AsyncClient,
) -> None:
    session = await dosing_session(client, dosing_at=40, **ESKETAMINE_PLAN)
    sid = session["id"]
    await ok(await transition(client, sid, "monitoring", at=ago(30)))
    await ok(
        await transition(
            client,
            sid,
            "discharged",
            discharge_type="against_advice",
            reason="Left at 40 minutes with her partner; risks explained",
        )
    )
    form = await ok(await client.get(f"/v1/sessions/{sid}/rems-form"))
    assert form["vitals_acceptable_before_completion"] is False
