"""Screening before treatment (SPEC §11) and the plans it allows (SPEC §3)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx

from tests.api.safety_helpers import ESKETAMINE_PLAN
from tests.factories import (
    IV_PLAN,
    create_patient,
    eligible_screening,
    iso,
    now,
    record_screening,
)


async def _plan(client: httpx.AsyncClient, pid: str, **plan: Any) -> httpx.Response:
    return await client.post(f"/v1/patients/{pid}/dosing-plans", json={**IV_PLAN, **plan})


async def test_screening_derives_trd_and_becomes_current(client: httpx.AsyncClient) -> None:
    patient = await create_patient(client, screening=False)
    pid = patient["id"]
    assert (await client.get(f"/v1/patients/{pid}/screenings/current")).status_code == 404
    one_trial = [{"kind": "antidepressant", "name": "a", "adequate": True, "outcome": "partial"}]
    first = await record_screening(
        client,
        pid,
        prior_treatments=[
            *one_trial,
            {"kind": "antidepressant", "name": "b", "adequate": False, "outcome": "no_response"},
            {"kind": "antidepressant", "name": "c", "adequate": True, "outcome": "intolerant"},
            {"kind": "psychotherapy", "name": "CBT", "adequate": True, "outcome": "no_response"},
        ],
        screened_at=iso(now() - timedelta(days=2)),
    )
    assert first["failed_adequate_antidepressant_trials"] == 1
    assert first["meets_trd_criterion"] is False
    second = await record_screening(client, pid)
    assert second["failed_adequate_antidepressant_trials"] == 2
    assert second["meets_trd_criterion"] is True
    current = (await client.get(f"/v1/patients/{pid}/screenings/current")).json()
    assert current["id"] == second["id"]
    assert current["current"] is True
    listed = (await client.get(f"/v1/patients/{pid}/screenings")).json()["items"]
    assert [s["id"] for s in listed] == [second["id"], first["id"]]
    assert listed[1]["current"] is False


async def test_decision_rules_name_the_items(client: httpx.AsyncClient) -> None:
    pid = (await create_patient(client, screening=False))["id"]
    url = f"/v1/patients/{pid}/screenings"
    cases = [
        ("aneurysmal_vascular_disease", "present", "eligible_with_precautions"),
        ("pregnancy", "present", "eligible_with_precautions"),
        ("breastfeeding", "present", "eligible"),
        ("hypersensitivity", "unknown", "eligible"),
    ]
    for item, answer, decision in cases:
        body = eligible_screening(
            decision=decision, decision_reason="weighed with the patient today"
        )
        body["contraindications"][item] = answer
        r = await client.post(url, json=body)
        assert r.status_code == 422, (item, r.text)
        assert ["body", "contraindications", item] in [e["loc"] for e in r.json()["errors"]]
    # a precaution present, weighed: eligible_with_precautions is allowed; not_eligible too
    body = eligible_screening(
        decision="eligible_with_precautions", decision_reason="BP controlled on amlodipine"
    )
    body["contraindications"]["breastfeeding"] = "present"
    assert (await client.post(url, json=body)).status_code == 201
    body = eligible_screening(decision="not_eligible", decision_reason="aneurysm on CT")
    body["contraindications"]["aneurysmal_vascular_disease"] = "present"
    assert (await client.post(url, json=body)).status_code == 201


async def test_screening_shape_is_strict(client: httpx.AsyncClient) -> None:
    pid = (await create_patient(client, screening=False))["id"]
    url = f"/v1/patients/{pid}/screenings"
    body = eligible_screening()
    del body["contraindications"]["mania_history"]
    assert (await client.post(url, json=body)).status_code == 422
    body = eligible_screening()
    body["contraindications"]["something_else"] = "absent"
    assert (await client.post(url, json=body)).status_code == 422
    r = await client.post(url, json=eligible_screening(decision="eligible_with_precautions"))
    assert r.status_code == 422
    assert r.json()["errors"][0]["loc"] == ["body", "decision_reason"]
    assert (await client.post(url, json=eligible_screening(diagnoses=[]))).status_code == 422
    r = await client.post(
        url,
        json=eligible_screening(
            baseline=[{"instrument": "phq9", "items": [1, 2], "administered_at": iso(now())}]
        ),
    )
    assert r.status_code == 422


async def test_nurse_reads_but_does_not_record_screenings(
    client: httpx.AsyncClient, nurse_client: httpx.AsyncClient
) -> None:
    pid = (await create_patient(client))["id"]
    r = await nurse_client.post(f"/v1/patients/{pid}/screenings", json=eligible_screening())
    assert r.status_code == 403
    assert (await nurse_client.get(f"/v1/patients/{pid}/screenings/current")).status_code == 200


async def test_plan_needs_a_current_eligible_screening(client: httpx.AsyncClient) -> None:
    pid = (await create_patient(client, screening=False))["id"]
    r = await _plan(client, pid)
    assert r.status_code == 409
    assert r.json()["code"] == "screening_required"
    assert [u["code"] for u in r.json()["unmet"]] == ["screening_required"]
    assert r.json()["unmet"][0]["overridable"] is False

    await record_screening(
        client, pid, decision="not_eligible", decision_reason="intracerebral bleed 2019"
    )
    r = await _plan(client, pid)
    assert r.status_code == 409
    assert r.json()["code"] == "not_eligible"

    await record_screening(client, pid)
    assert (await _plan(client, pid)).status_code == 201


async def test_expired_screening_blocks_plans(client: httpx.AsyncClient) -> None:
    pid = (await create_patient(client, screening=False))["id"]
    old = now() - timedelta(days=400)
    await record_screening(
        client, pid, screened_at=iso(old), consent={"signed_at": iso(old), "document_version": "v1"}
    )
    r = await _plan(client, pid)
    assert r.status_code == 409
    assert r.json()["code"] == "screening_expired"
    assert (await client.get(f"/v1/patients/{pid}/screenings/current")).json()["expired"] is True
    # valid through its last day: valid_until today still holds
    await record_screening(client, pid, screened_at=iso(old), valid_until=now().date().isoformat())
    assert (await _plan(client, pid)).status_code == 201


async def test_default_validity_is_365_days(client: httpx.AsyncClient) -> None:
    pid = (await create_patient(client, screening=False))["id"]
    at = now() - timedelta(days=10)
    s = await record_screening(client, pid, screened_at=iso(at))
    assert s["valid_until"] == (at.date() + timedelta(days=365)).isoformat()
    assert s["expired"] is False


async def test_revision_needs_a_current_screening(client: httpx.AsyncClient) -> None:
    pid = (await create_patient(client))["id"]
    plan = (await _plan(client, pid)).json()
    await record_screening(
        client, pid, decision="not_eligible", decision_reason="psychosis since last screening"
    )
    r = await client.post(f"/v1/dosing-plans/{plan['id']}/revisions", json=IV_PLAN)
    assert r.status_code == 409
    assert r.json()["code"] == "not_eligible"


async def test_esketamine_plan_needs_rems_enrollment_which_stays(client: httpx.AsyncClient) -> None:
    pid = (await create_patient(client, screening=False))["id"]
    await record_screening(client, pid, rems_enrollment=None)
    r = await _plan(client, pid, **ESKETAMINE_PLAN)
    assert r.status_code == 409
    assert r.json()["code"] == "rems_enrollment_missing"
    assert (await _plan(client, pid)).status_code == 201  # ketamine needs none
    enrolled = now() - timedelta(days=1)
    await record_screening(
        client, pid, rems_enrollment={"enrolled_at": iso(enrolled), "reference": "R-1"}
    )
    # a later screening that records none keeps the enrollment
    latest = await record_screening(client, pid, rems_enrollment=None)
    assert latest["rems_enrollment"] is None
    assert latest["patient_rems_enrollment"]["reference"] == "R-1"
    assert (await _plan(client, pid, **ESKETAMINE_PLAN)).status_code == 201
