"""Dose limits over HTTP (SPEC §3, §5): usual ranges and ``above_usual_reason``, the least
monitoring time, the thresholds in force against the clinic's own settings, the basis weight
never above the actual weight; patients' address (SPEC §9)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from api.main import create_app
from tests.api.safety_helpers import ESKETAMINE_PLAN, ok
from tests.conftest import Backend, Staff, _client, make_settings
from tests.factories import IV_PLAN, create_patient, create_plan, create_session, post_plan
from tests.factories import transition as move

REASON = "partial response at 0.5 mg/kg after 4 infusions"


def problem_fields(r: httpx.Response) -> list[str]:
    assert r.status_code == 422, r.text
    return [e["loc"][-1] for e in r.json()["errors"]]


async def revise(client: httpx.AsyncClient, plan: dict[str, Any], **content: Any) -> httpx.Response:
    return await client.post(
        f"/v1/dosing-plans/{plan['id']}/revisions",
        json={**IV_PLAN, **content},
        headers={"If-Match": f'"{plan["version"]}"'},
    )


async def test_iv_ketamine_in_the_anaesthetic_range_is_refused(client: httpx.AsyncClient) -> None:
    patient = await create_patient(client)
    r = await post_plan(
        client,
        patient["id"],
        dose_mg_per_kg=5,
        infusion_minutes=5,
        max_dose_mg=400,
        min_monitoring_minutes=0,
    )
    assert {"dose_mg_per_kg", "min_monitoring_minutes"} <= set(problem_fields(r))
    assert "anaesthetic" in r.text
    # a reason does not pass a refused dose
    r = await post_plan(client, patient["id"], dose_mg_per_kg=1.2, above_usual_reason=REASON)
    assert problem_fields(r) == ["dose_mg_per_kg"]


async def test_above_the_usual_range_needs_a_reason(client: httpx.AsyncClient) -> None:
    patient = await create_patient(client)
    for above in ({"dose_mg_per_kg": 0.9}, {"infusion_minutes": 30}):
        r = await post_plan(client, patient["id"], **above)
        assert problem_fields(r) == ["above_usual_reason"], above
        assert "usual" in r.json()["errors"][0]["msg"]
        r = await post_plan(client, patient["id"], **above, above_usual_reason="too short")
        assert problem_fields(r) == ["above_usual_reason"]  # fewer than 10 characters
        plan = await create_plan(client, patient["id"], **above, above_usual_reason=REASON)
        assert plan["above_usual_reason"] == REASON
    # and a usual dose carries none
    r = await post_plan(client, patient["id"], above_usual_reason=REASON)
    assert problem_fields(r) == ["above_usual_reason"]
    plan = await create_plan(client, patient["id"])
    assert plan["above_usual_reason"] is None


async def test_esketamine_doses(client: httpx.AsyncClient) -> None:
    patient = await create_patient(client)
    esk = {**ESKETAMINE_PLAN}
    for dose in (56, 84):
        await create_plan(client, patient["id"], **{**esk, "dose_mg": dose})
    r = await post_plan(client, patient["id"], **{**esk, "dose_mg": 28})
    assert problem_fields(r) == ["above_usual_reason"]
    await create_plan(
        client, patient["id"], **{**esk, "dose_mg": 28, "above_usual_reason": "age 78, label dose"}
    )
    r = await post_plan(client, patient["id"], **{**esk, "dose_mg": 112, "max_dose_mg": 112})
    assert set(problem_fields(r)) == {"dose_mg", "max_dose_mg"}
    r = await post_plan(client, patient["id"], **{**esk, "max_dose_mg": 2100})
    assert problem_fields(r) == ["max_dose_mg"]


async def test_least_monitoring_time(client: httpx.AsyncClient) -> None:
    patient = await create_patient(client)
    r = await post_plan(client, patient["id"], min_monitoring_minutes=29)
    assert problem_fields(r) == ["min_monitoring_minutes"]
    await create_plan(client, patient["id"], min_monitoring_minutes=30)
    r = await post_plan(client, patient["id"], **{**ESKETAMINE_PLAN, "min_monitoring_minutes": 119})
    assert problem_fields(r) == ["min_monitoring_minutes"]


async def test_old_plans_keep_working_a_new_revision_must_satisfy_the_rules(
    client: httpx.AsyncClient,
) -> None:
    patient = await create_patient(client)
    plan = await create_plan(client, patient["id"], dose_mg_per_kg=0.9, above_usual_reason=REASON)
    r = await revise(client, plan, dose_mg_per_kg=1.1, above_usual_reason=REASON)
    assert problem_fields(r) == ["dose_mg_per_kg"]
    r = await revise(client, plan, dose_mg_per_kg=0.9)
    assert problem_fields(r) == ["above_usual_reason"]
    revised = await ok(await revise(client, plan, dose_mg_per_kg=0.6), 201)
    assert revised["revision"] == 2
    assert revised["above_usual_reason"] is None
    first = await ok(await client.get(f"/v1/dosing-plans/{plan['id']}/revisions/1"))
    assert first["above_usual_reason"] == REASON


async def test_thresholds_tighten_freely_and_loosen_with_a_reason(
    client: httpx.AsyncClient,
) -> None:
    patient = await create_patient(client)
    tight = await create_plan(
        client, patient["id"], thresholds={"pre_systolic_max": 130, "spo2_min": 94}
    )
    assert tight["thresholds_reason"] is None
    for loose in ({"pre_systolic_max": 160}, {"spo2_min": 88}, {"heart_rate_min": 40}):
        r = await post_plan(client, patient["id"], thresholds=loose)
        assert problem_fields(r) == ["thresholds_reason"], loose
        assert "clinic" in r.json()["errors"][0]["msg"]
        r = await post_plan(client, patient["id"], thresholds=loose, thresholds_reason="COPD")
        assert problem_fields(r) == ["thresholds_reason"]  # fewer than 10 characters
    plan = await create_plan(
        client,
        patient["id"],
        thresholds={"spo2_min": 88},
        thresholds_reason="COPD, baseline SpO2 89% on room air",
    )
    assert plan["thresholds_reason"] == "COPD, baseline SpO2 89% on room air"
    # a minimum at or above the clinic's maximum (SPEC default 120) is refused
    r = await post_plan(client, patient["id"], thresholds={"heart_rate_min": 125})
    assert "heart_rate_min" in problem_fields(r)


@pytest.fixture(scope="module")
async def clinic_app(backend: Backend) -> AsyncIterator[FastAPI]:
    """The same database, served by a clinic with its own limits."""
    application = create_app(
        make_settings(
            backend.url,
            thresholds={"heart_rate_max": 100, "pre_systolic_max": 150},
            dose_limits={"ketamine": {"iv_infusion": {"usual_max_mg_per_kg": 0.5}}},
            min_monitoring_minutes=45,
        )
    )
    async with LifespanManager(application):
        yield application


async def test_plans_are_checked_against_the_clinics_own_settings(
    clinic_app: FastAPI, staff: Staff, client: httpx.AsyncClient
) -> None:
    patient = await create_patient(client)
    async with _client(clinic_app, staff.tokens["clinician"]) as clinic:
        # heart_rate_min 105 under the clinic's heart_rate_max 100: contradictory
        r = await post_plan(clinic, patient["id"], thresholds={"heart_rate_min": 105})
        assert "heart_rate_min" in problem_fields(r)
        assert "heart_rate_max (100)" in r.text
        # 150 is the clinic's own pre-dose limit: not a loosening there
        await create_plan(clinic, patient["id"], thresholds={"pre_systolic_max": 150})
        r = await post_plan(clinic, patient["id"], thresholds={"pre_systolic_max": 151})
        assert problem_fields(r) == ["thresholds_reason"]
        # VIGIL_DOSE_LIMITS and VIGIL_MIN_MONITORING_MINUTES
        r = await post_plan(clinic, patient["id"], dose_mg_per_kg=0.6)
        assert problem_fields(r) == ["above_usual_reason"]
        r = await post_plan(clinic, patient["id"], min_monitoring_minutes=40)
        assert problem_fields(r) == ["min_monitoring_minutes"]
    # the default clinic accepts all three
    await create_plan(client, patient["id"], thresholds={"heart_rate_min": 105})
    await create_plan(client, patient["id"], dose_mg_per_kg=0.6, min_monitoring_minutes=40)


@pytest.mark.parametrize("basis", ["ideal", "adjusted"])
async def test_basis_weight_never_above_actual(client: httpx.AsyncClient, basis: str) -> None:
    patient = await create_patient(client, sex="male", height_cm=180)  # IBW 74.99 kg
    plan = await create_plan(client, patient["id"], weight_basis=basis)
    session = await create_session(client, plan=plan)
    body = await ok(await move(client, session["id"], "checked_in", weight_kg=60))
    assert body["basis_limited_to_actual"] is True
    assert body["basis_weight_kg"] == 60
    assert body["planned_dose_mg"] == 30  # 0.5 mg/kg × 60 kg, not × 74.99 kg
    record = await ok(await client.get(f"/v1/sessions/{session['id']}"))
    assert record["basis_limited_to_actual"] is True
    # one open session per patient: this one ends before the next is checked in
    await ok(await move(client, session["id"], "cancelled", reason="weighed again another day"))

    heavier = await create_session(client, plan=plan)
    body = await ok(await move(client, heavier["id"], "checked_in", weight_kg=100))
    assert body["basis_limited_to_actual"] is False
    assert body["basis_weight_kg"] < 100


async def test_patient_address(client: httpx.AsyncClient) -> None:
    patient = await create_patient(client, address="12 Elm St, Springfield, IL 62701")
    assert patient["address"] == "12 Elm St, Springfield, IL 62701"
    r = await client.patch(
        f"/v1/patients/{patient['id']}",
        json={"address": "4 Oak Ave, Springfield, IL 62702"},
        headers={"If-Match": f'"{patient["version"]}"'},
    )
    assert (await ok(r))["address"] == "4 Oak Ave, Springfield, IL 62702"
    read = await ok(await client.get(f"/v1/patients/{patient['id']}"))
    assert read["address"] == "4 Oak Ave, Springfield, IL 62702"
    assert (await create_patient(client))["address"] is None
    bad = await client.post(
        "/v1/patients",
        json={
            "mrn": "ADDR-BAD",
            "given_name": "A",
            "family_name": "B",
            "birth_date": "1980-01-01",
            "sex": "male",
            "address": "x" * 501,
        },
    )
    assert bad.status_code == 422
