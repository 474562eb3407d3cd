"""The limits in force (SPEC §3, §5): a plan's ``thresholds`` are checked against the clinic's
settings the app runs with, and that same combination, of the revision the session uses (pinned
at check-in, before that the plan's current one), is what gates and alerts apply."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from api.main import create_app
from api.plans.limits import limits_in_force
from models import TreatmentSession
from tests.api.safety_helpers import ok
from tests.conftest import Backend, Staff, _client, make_settings
from tests.factories import (
    IV_PLAN,
    ago,
    create_patient,
    create_plan,
    create_session,
    post_vitals,
    vital,
)
from tests.factories import transition as move


@pytest.fixture(scope="module")
async def clinic_app(backend: Backend) -> AsyncIterator[FastAPI]:
    """The same database, served by a clinic whose heart-rate maximum is 140, not 120."""
    application = create_app(make_settings(backend.url, thresholds={"heart_rate_max": 140}))
    async with LifespanManager(application):
        yield application


async def alerts_of(client: httpx.AsyncClient, sid: str) -> list[dict[str, Any]]:
    body = await ok(await client.get(f"/v1/sessions/{sid}/alerts"))
    return list(body["items"])


async def booked_then_revised(client: httpx.AsyncClient, thresholds: dict[str, float]) -> str:
    """A session booked on revision 1 (the clinic's limits), then the plan revised to 2 with
    ``thresholds``; the session is not checked in."""
    patient = await create_patient(client)
    plan = await create_plan(client, patient["id"])
    sid = str((await create_session(client, plan=plan))["id"])
    revised = {**IV_PLAN, "thresholds": thresholds}
    await ok(await client.post(f"/v1/dosing-plans/{plan['id']}/revisions", json=revised), 201)
    record = await ok(await client.get(f"/v1/sessions/{sid}"))
    assert (record["plan_revision"], record["pinned_revision"]) == (2, None)
    return sid


async def test_readiness_before_check_in_uses_the_plans_current_revision(
    client: httpx.AsyncClient,
) -> None:
    sid = await booked_then_revised(client, {"pre_spo2_min": 96})
    await ok(await post_vitals(client, sid, [vital("spo2", 95, "%", ago(5))]), 201)
    readiness = await ok(await client.get(f"/v1/sessions/{sid}/readiness"))
    spo2 = [u for u in readiness["dosing"]["unmet"] if u.get("vital") == "spo2"]
    # revision 2's pre-dose SpO2 minimum (96), which the record names, not revision 1's (94)
    assert [(u["code"], u["limit"]) for u in spo2] == [("below_limit", 96)]


async def test_limits_in_force_follow_the_revision_and_the_clinic(
    app: FastAPI, clinic_app: FastAPI, client: httpx.AsyncClient
) -> None:
    sid = await booked_then_revised(client, {"heart_rate_min": 100})
    clinic = clinic_app.state.settings.thresholds
    async with app.state.session_factory() as db:
        session = await db.get(TreatmentSession, uuid.UUID(sid))
        assert session is not None
        limits = await limits_in_force(db, session, clinic_thresholds=clinic)
    assert (limits["heart_rate_min"], limits["heart_rate_max"]) == (100, 140)
    await ok(await move(client, sid, "checked_in", weight_kg=80, at=ago(30)))
    async with app.state.session_factory() as db:
        session = await db.get(TreatmentSession, uuid.UUID(sid))
        assert session is not None
        assert session.plan_revision == 2
        assert (await limits_in_force(db, session))["heart_rate_min"] == 100


async def test_alerts_before_check_in_use_the_plans_current_revision(
    client: httpx.AsyncClient,
) -> None:
    sid = await booked_then_revised(client, {"spo2_min": 94})
    await ok(await post_vitals(client, sid, [vital("spo2", 93, "%", ago(5))]), 201)
    [alert] = await alerts_of(client, sid)
    assert (alert["kind"], alert["limit"]) == ("spo2_low", 94)


async def test_a_plan_runs_under_the_limits_it_was_checked_against(
    clinic_app: FastAPI, staff: Staff, client: httpx.AsyncClient
) -> None:
    patient = await create_patient(client)
    async with _client(clinic_app, staff.tokens["clinician"]) as clinic:
        # 130 is below the clinic's maximum of 140: a coherent, tighter minimum there
        plan = await create_plan(clinic, patient["id"], thresholds={"heart_rate_min": 130})
        sid = (await create_session(clinic, plan=plan))["id"]
        await ok(await move(clinic, sid, "checked_in", weight_kg=80, at=ago(30)))
        await ok(await post_vitals(clinic, sid, [vital("heart_rate", 135, "/min", ago(20))]), 201)
        # inside 130–140; the process's SPEC limits would make it 130–120: always alerting
        assert await alerts_of(clinic, sid) == []
        await ok(await post_vitals(clinic, sid, [vital("heart_rate", 145, "/min", ago(19))]), 201)
        [alert] = await alerts_of(clinic, sid)
        assert (alert["kind"], alert["limit"]) == ("heart_rate_high", 140)
