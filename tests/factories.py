"""Small helpers that create records over HTTP, as a client would."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx


def iso(dt: datetime) -> str:
    return dt.astimezone(UTC).isoformat().replace("+00:00", "Z")


# The running test's instant (set by tests/conftest.py's autouse ``instant`` fixture): the
# clock is read once per test, so every time a test builds (``ago(27)``, ``now() + ...``) is
# relative to the same moment however slowly the machine runs the test.
_instant: list[datetime] = []


def now() -> datetime:
    """The test's instant, to the second (outside a test, e.g. the bench: the clock now)."""
    return _instant[-1] if _instant else datetime.now(UTC).replace(microsecond=0)


def ago(minutes: float) -> datetime:
    return now() - timedelta(minutes=minutes)


@contextmanager
def fixed_instant(at: datetime | None = None) -> Iterator[datetime]:
    """:func:`now` is ``at`` (default: one reading of the clock, to the second) inside."""
    _instant.append(at or datetime.now(UTC).replace(microsecond=0))
    try:
        yield _instant[-1]
    finally:
        _instant.pop()


ABSENT_CONTRAINDICATIONS = {
    item: "absent"
    for item in (
        "aneurysmal_vascular_disease",
        "arteriovenous_malformation",
        "intracerebral_hemorrhage_history",
        "hypersensitivity",
        "uncontrolled_hypertension",
        "pregnancy",
        "breastfeeding",
        "psychosis_history",
        "mania_history",
        "substance_use_disorder",
        "cardiovascular_disease",
        "severe_hepatic_impairment",
    )
}


def eligible_screening(**overrides: Any) -> dict[str, Any]:
    """An eligible screening body (TRD: two failed adequate antidepressant trials), with REMS
    enrollment, consent and a PHQ-9 baseline."""
    signed = iso(now() - timedelta(days=7))
    return {
        "indication": "trd",
        "diagnoses": [{"code": "F33.2", "text": "Major depressive disorder, recurrent, severe"}],
        "prior_treatments": [
            {
                "kind": "antidepressant",
                "name": "sertraline",
                "adequate": True,
                "outcome": "partial",
            },
            {
                "kind": "antidepressant",
                "name": "bupropion",
                "adequate": True,
                "outcome": "no_response",
            },
        ],
        "contraindications": dict(ABSENT_CONTRAINDICATIONS),
        "childbearing_potential": False,
        "consent": {"signed_at": signed, "document_version": "consent-v3"},
        "rems_enrollment": {"enrolled_at": signed, "reference": "REMS-TEST"},
        "decision": "eligible",
        **overrides,
    }


async def record_screening(
    client: httpx.AsyncClient, patient_id: str, **overrides: Any
) -> dict[str, Any]:
    r = await client.post(
        f"/v1/patients/{patient_id}/screenings", json=eligible_screening(**overrides)
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


async def create_patient(
    client: httpx.AsyncClient, *, screening: bool = True, **overrides: Any
) -> dict[str, Any]:
    """A patient; with an eligible screening (REMS enrollment included) unless
    ``screening=False``, so plans and doses of every test meet SPEC §11 in one place."""
    body = {
        "mrn": f"MRN-{uuid.uuid4().hex[:10]}",
        "given_name": "Ana",
        "family_name": "Ruiz",
        "birth_date": "1984-03-09",
        "sex": "female",
        "height_cm": 165,
        **overrides,
    }
    r = await client.post("/v1/patients", json=body)
    assert r.status_code == 201, r.text
    if screening:
        await record_screening(client, r.json()["id"])
    return dict(r.json())


IV_PLAN = {
    "medication": "ketamine",
    "route": "iv_infusion",
    "indication": "trd",
    "dose_mg_per_kg": 0.5,
    "max_dose_mg": 60,
    "infusion_minutes": 40,
    "min_monitoring_minutes": 60,
}


async def post_plan(client: httpx.AsyncClient, patient_id: str, **overrides: Any) -> httpx.Response:
    """POST a plan (IV_PLAN with ``overrides``) and return the response, refused or not: for
    tests of the plan rules. Whatever a plan needs first is met here."""
    return await client.post(
        f"/v1/patients/{patient_id}/dosing-plans", json={**IV_PLAN, **overrides}
    )


async def create_plan(
    client: httpx.AsyncClient, patient_id: str, **overrides: Any
) -> dict[str, Any]:
    r = await post_plan(client, patient_id, **overrides)
    assert r.status_code == 201, r.text
    return dict(r.json())


async def create_session(
    client: httpx.AsyncClient,
    *,
    plan: dict[str, Any] | None = None,
    scheduled_at: datetime | None = None,
    location: str = "chair-3",
    **plan_overrides: Any,
) -> dict[str, Any]:
    """A scheduled session (an hour from now unless ``scheduled_at``); for a new patient with
    a plan of ``plan_overrides`` unless ``plan`` is given."""
    if plan is None:
        patient = await create_patient(client)
        plan = await create_plan(client, patient["id"], **plan_overrides)
    r = await client.post(
        "/v1/sessions",
        json={
            "patient_id": plan["patient_id"],
            "dosing_plan_id": plan["id"],
            "scheduled_at": iso(scheduled_at or now() + timedelta(hours=1)),
            "location": location,
        },
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


async def transition(
    client: httpx.AsyncClient, session_id: str, to: str, **body: Any
) -> httpx.Response:
    payload = {"to": to, **{k: iso(v) if isinstance(v, datetime) else v for k, v in body.items()}}
    return await client.post(f"/v1/sessions/{session_id}/transitions", json=payload)


def vital(code: str, value: float, unit: str, at: datetime, **extra: Any) -> dict[str, Any]:
    return {"code": code, "value": value, "unit": unit, "measured_at": iso(at), **extra}


def good_predose(at: datetime) -> list[dict[str, Any]]:
    return [
        vital("systolic_bp", 122, "mm[Hg]", at),
        vital("diastolic_bp", 78, "mm[Hg]", at),
        vital("heart_rate", 72, "/min", at),
        vital("spo2", 98, "%", at),
    ]


async def post_vitals(
    client: httpx.AsyncClient, session_id: str, observations: list[dict[str, Any]]
) -> httpx.Response:
    return await client.post(
        f"/v1/sessions/{session_id}/vitals", json={"observations": observations}
    )


async def start_dosing(
    client: httpx.AsyncClient, session_id: str, at: datetime, *, weight_kg: float = 72
) -> dict[str, Any]:
    """Check in 10 minutes before ``at``, record good pre-dose vitals 5 minutes before it and
    what else the pre-dose gate needs (:func:`prepare_dosing`), start dosing at ``at``; the
    session as the dosing transition answers it."""
    r = await transition(
        client, session_id, "checked_in", weight_kg=weight_kg, at=at - timedelta(minutes=10)
    )
    assert r.status_code == 200, r.text
    r = await post_vitals(client, session_id, good_predose(at - timedelta(minutes=5)))
    assert r.status_code == 201, r.text
    await prepare_dosing(client, session_id, at)
    r = await transition(client, session_id, "dosing", at=at)
    assert r.status_code == 200, r.text
    return dict(r.json())


async def prepare_dosing(client: httpx.AsyncClient, session_id: str, at: datetime) -> None:
    """Record everything the pre-dose gate needs as of ``at`` other than the vitals.

    Every test that starts dosing calls this (after its own pre-dose vitals), so a new pre-dose
    requirement (a checklist, a screening item) is met in one place for the whole suite.
    Records a complete pre-session checklist that is a go as of ``at`` (the screening comes
    with :func:`create_patient`).
    """
    r = await client.put(f"/v1/sessions/{session_id}/checklist", json=good_checklist(at))
    assert r.status_code == 200, r.text


def good_checklist(at: datetime, **overrides: Any) -> dict[str, Any]:
    """A pre-session checklist that is a go for dosing at ``at``."""
    return {
        "last_food_at": iso(at - timedelta(hours=4)),
        "last_liquids_at": iso(at - timedelta(hours=2)),
        "escort": {"name": "Luis Ruiz", "phone": "+1 555 0100"},
        "no_driving_acknowledged": True,
        "medication_changes": False,
        "pregnancy_test": "negative",
        "consent_confirmed": True,
        **overrides,
    }


def good_discharge_checklist(at: datetime, **overrides: Any) -> dict[str, Any]:
    return {
        "dissociation_resolved": True,
        "escort_present": True,
        "instructions_given": True,
        "ready_at": iso(min(at, now())),
        **overrides,
    }


async def prepare_discharge(client: httpx.AsyncClient, session_id: str, at: datetime) -> None:
    """Record everything the discharge gate needs as of ``at`` other than vitals and scores.

    Every test that discharges calls this, so a new discharge requirement (the discharge
    checklist, an acknowledged alert) is met in one place for the whole suite. Records a
    complete discharge checklist (ready at ``at``).
    """
    r = await client.put(
        f"/v1/sessions/{session_id}/discharge-checklist", json=good_discharge_checklist(at)
    )
    assert r.status_code == 200, r.text
