"""Sessions at a given point of their timeline, for the clinical-safety tests."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx

from tests.factories import (
    ago,
    create_session,
    good_predose,
    iso,
    post_vitals,
    prepare_discharge,
    prepare_dosing,
    transition,
    vital,
)

ESKETAMINE_PLAN: dict[str, Any] = {
    "medication": "esketamine",
    "route": "intranasal",
    "indication": "trd",
    "dose_mg": 56,
    "dose_mg_per_kg": None,
    "infusion_minutes": None,
    "max_dose_mg": 84,
    "min_monitoring_minutes": 120,
}


async def ok(response: httpx.Response, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.text
    return dict(response.json())


async def checked_in_session(
    client: httpx.AsyncClient, *, at: float = 200, **plan: Any
) -> dict[str, Any]:
    session = await create_session(client, **plan)
    body = {"weight_kg": 80} if plan.get("dose_mg") is None else {}
    await ok(await transition(client, session["id"], "checked_in", at=ago(at), **body))
    return session


async def dosing_session(
    client: httpx.AsyncClient, *, dosing_at: float = 150, **plan: Any
) -> dict[str, Any]:
    """Checked in, good pre-dose vitals, dosing started ``dosing_at`` minutes ago."""
    session = await checked_in_session(client, at=dosing_at + 20, **plan)
    await ok(await post_vitals(client, session["id"], good_predose(ago(dosing_at + 5))), 201)
    await prepare_dosing(client, session["id"], ago(dosing_at))
    await ok(await transition(client, session["id"], "dosing", at=ago(dosing_at)))
    return session


async def monitoring_session(
    client: httpx.AsyncClient, *, dosing_at: float = 150, monitoring_at: float = 100, **plan: Any
) -> dict[str, Any]:
    session = await dosing_session(client, dosing_at=dosing_at, **plan)
    reason = "infusion stopped early" if dosing_at - monitoring_at < 40 else None
    body = {"reason": reason} if reason else {}
    await ok(await transition(client, session["id"], "monitoring", at=ago(monitoring_at), **body))
    return session


def good_discharge_vitals(at: datetime) -> list[dict[str, Any]]:
    return [
        vital("systolic_bp", 124, "mm[Hg]", at),
        vital("diastolic_bp", 80, "mm[Hg]", at),
        vital("heart_rate", 70, "/min", at),
        vital("spo2", 98, "%", at),
        vital("respiratory_rate", 16, "/min", at),
    ]


async def assess(
    client: httpx.AsyncClient, session_id: str, instrument: str, at: datetime, **body: Any
) -> httpx.Response:
    return await client.post(
        f"/v1/sessions/{session_id}/assessments",
        json={"instrument": instrument, "administered_at": iso(at), **body},
    )


async def ready_to_discharge(
    client: httpx.AsyncClient, session_id: str, *, checklist: bool = True
) -> None:
    """Recent good vitals (respiratory rate included), a resolved sedation score in the last
    30 minutes, a CADSS of 0 (dissociation resolved), and whatever else discharge needs
    (prepare_discharge, unless ``checklist`` is false): a discharge now passes once the minimum
    monitoring time is over."""
    at = ago(3)
    await ok(await post_vitals(client, session_id, good_discharge_vitals(at)), 201)
    await ok(await assess(client, session_id, "moaas", at, score=5), 201)
    await ok(await assess(client, session_id, "cadss", at, items=[0] * 23), 201)
    if checklist:
        await prepare_discharge(client, session_id, at)


def unmet_codes(problem: dict[str, Any]) -> list[str]:
    return [u["code"] for u in problem.get("unmet", [])]
