"""The bench's world, set up through the API with the tests' own factories: 64 sessions in
``dosing`` for the ingest phases, one 2-hour session of 704 readings (the timeline) whose
patient has 24 more sessions of history, and the readings the phases send."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from bench.config import HISTORY_SESSIONS, INGEST_SESSIONS
from bench.seed import VITALS
from tests import factories
from tests.factories import create_patient, create_plan, iso, post_vitals, transition


async def create_patient_and_plan(client: httpx.AsyncClient) -> dict[str, Any]:
    """A patient with an eligible screening (SPEC §11) and the tests' IV plan."""
    patient = await create_patient(
        client, mrn=f"BENCH-{uuid.uuid4().hex[:10]}", given_name="Bench", family_name="Patient"
    )
    return await create_plan(client, patient["id"])


async def create_session(
    client: httpx.AsyncClient, plan: dict[str, Any], scheduled_at: datetime
) -> str:
    """A session of ``plan`` scheduled at ``scheduled_at``; its id."""
    session = await factories.create_session(
        client, plan=plan, scheduled_at=scheduled_at, location="chair-1"
    )
    return str(session["id"])


async def to_dosing(client: httpx.AsyncClient, sid: str, dosing_at: datetime) -> None:
    """Check in, record pre-dose vitals that pass the gate, start dosing at ``dosing_at``."""
    await factories.start_dosing(client, sid, dosing_at)


def reading(index: int, dosing_at: datetime, now: datetime, ext: str) -> dict[str, Any]:
    """The ``index``-th reading the phases send: the eight vitals in turn, spread over the
    session's dosing so far, each with its own ``external_id``."""
    code, unit, low, high = VITALS[index % len(VITALS)]
    span = max(1, int((now - dosing_at).total_seconds()) - 10)
    measured = dosing_at + timedelta(seconds=1 + (index // len(VITALS) * 7) % span)
    value = round(low + (high - low) * ((index * 37) % 100) / 100, 1)
    if code == "diastolic_bp":
        value = min(value, 90.0)  # stays below any systolic at the same time
    return {
        "code": code,
        "value": value,
        "unit": unit,
        "measured_at": iso(measured),
        "external_id": ext,
    }


def _ok(response: httpx.Response, status: int) -> None:
    if response.status_code != status:
        raise RuntimeError(f"{response.request.url}: {response.status_code} {response.text}")


async def setup(client: httpx.AsyncClient) -> dict[str, Any]:
    now = datetime.now(UTC).replace(microsecond=0)  # one reading of the clock for the world
    dosing_at = now - timedelta(minutes=100)
    # one patient a session: a patient has one open session at a time (SPEC §4)
    plans = await asyncio.gather(*(create_patient_and_plan(client) for _ in range(INGEST_SESSIONS)))
    sessions: list[str] = []
    for i in range(0, INGEST_SESSIONS, 8):
        batch = await asyncio.gather(
            *(create_session(client, plans[j], now) for j in range(i, i + 8))
        )
        await asyncio.gather(*(to_dosing(client, sid, dosing_at) for sid in batch))
        sessions.extend(batch)

    # The timeline session: 2 hours, ~700 readings; its patient has a history of sessions.
    plan = await create_patient_and_plan(client)
    timeline = await create_session(client, plan, now - timedelta(minutes=140))
    started = now - timedelta(minutes=125)
    await to_dosing(client, timeline, started)
    points = [started + timedelta(seconds=80 * t) for t in range(88)]
    tag = uuid.uuid4().hex[:6]
    for chunk in range(0, len(points), 12):
        observations = []
        for t, at in enumerate(points[chunk : chunk + 12], start=chunk):
            for k, (code, unit, low, high) in enumerate(VITALS):
                value = round(low + (high - low) * ((t * 13 + k) % 50) / 50, 1)
                if code == "diastolic_bp":
                    value = min(value, 90.0)
                observations.append(
                    {
                        "code": code,
                        "value": value,
                        "unit": unit,
                        "measured_at": iso(at),
                        "external_id": f"timeline-{tag}-{t}-{k}",
                    }
                )
        _ok(await post_vitals(client, timeline, observations), 201)
    ended = started + timedelta(minutes=45)
    _ok(await transition(client, timeline, "monitoring", at=ended), 200)
    await asyncio.gather(
        *(
            create_session(client, plan, now - timedelta(days=3 * (i + 1)))
            for i in range(HISTORY_SESSIONS)
        )
    )
    return {
        "ingest_sessions": sessions,
        "dosing_at": dosing_at,
        "now": now,
        "timeline_session": timeline,
        "history_patient": plan["patient_id"],
    }
