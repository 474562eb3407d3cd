"""Two API processes on one PostgreSQL behave as one service (docs/scale-out.md).

Two separately started servers (as on two hosts: own process, own pool, same database and
VIGIL_SECRET_KEY): a token issued by one is accepted by the other; what one creates the other
reads, with the same ETag; a stale If-Match is refused by either; conflicting transitions sent
to both have one winner; identical pushes to both store one reading.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

from tests.factories import create_patient, create_session
from tests.faults.conftest import NEEDS_POSTGRES, pg_url  # noqa: F401  (fixture)
from tests.faults.races import (
    RACERS,
    count_rows,
    race_duplicate_push,
    race_transitions,
    transitions_to,
)
from tests.live import LiveServer, dosing_session, staff_headers

pytestmark = [pytest.mark.slow, NEEDS_POSTGRES]

Pair = tuple[str, httpx.AsyncClient, httpx.AsyncClient]


@pytest.fixture
async def two_servers(pg_url: str) -> AsyncIterator[Pair]:  # noqa: F811
    servers = [LiveServer(pg_url, workers=1), LiveServer(pg_url, workers=1)]
    await asyncio.gather(*(asyncio.to_thread(s.start) for s in servers))
    try:
        limits = httpx.Limits(max_connections=RACERS)
        async with (
            httpx.AsyncClient(base_url=servers[0].base_url, timeout=20, limits=limits) as a,
            httpx.AsyncClient(base_url=servers[1].base_url, timeout=20, limits=limits) as b,
        ):
            headers = await staff_headers(a, "clinician")  # token issued by server A
            a.headers.update(headers)
            b.headers.update(headers)
            yield pg_url, a, b
    finally:
        await asyncio.gather(*(asyncio.to_thread(s.stop) for s in servers))


async def test_create_on_one_read_on_the_other_with_one_etag(two_servers: Pair) -> None:
    _, a, b = two_servers
    patient = await create_patient(a)
    on_a = await a.get(f"/v1/patients/{patient['id']}")
    on_b = await b.get(f"/v1/patients/{patient['id']}")
    assert on_b.status_code == 200
    assert on_b.json() == on_a.json()
    assert on_b.headers["etag"] == on_a.headers["etag"]

    r = await b.patch(
        f"/v1/patients/{patient['id']}",
        json={"family_name": "Ruiz-Ortega"},
        headers={"If-Match": on_a.headers["etag"]},
    )
    assert r.status_code == 200, r.text
    stale = await a.patch(
        f"/v1/patients/{patient['id']}",
        json={"family_name": "Ruiz"},
        headers={"If-Match": on_a.headers["etag"]},
    )
    assert stale.status_code == 412
    assert (await a.get(f"/v1/patients/{patient['id']}")).headers["etag"] == r.headers["etag"]


async def test_conflicting_transitions_across_servers_have_one_winner(two_servers: Pair) -> None:
    url, a, b = two_servers
    session = await create_session(a)
    sid = session["id"]
    etag = (await b.get(f"/v1/sessions/{sid}")).headers["etag"]
    bodies = [
        {"to": "checked_in", "weight_kg": 72},
        {"to": "cancelled", "reason": "patient unwell"},
    ]
    statuses = await race_transitions([a, b], sid, bodies, if_match=etag)
    assert statuses[200] == 1, statuses
    assert statuses[412] == RACERS - 1, statuses
    moved = await transitions_to(url, sid, "checked_in") + await transitions_to(
        url, sid, "cancelled"
    )
    assert moved == 1
    after_a = await a.get(f"/v1/sessions/{sid}")
    after_b = await b.get(f"/v1/sessions/{sid}")
    assert after_a.headers["etag"] == after_b.headers["etag"] == '"2"'
    assert after_a.json()["status"] == after_b.json()["status"]

    statuses = await race_transitions(
        [a, b], (await create_session(a))["id"], [{"to": "checked_in", "weight_kg": 72}], None
    )
    assert statuses[200] == 1, statuses
    assert set(statuses) <= {200, 409, 412}, statuses


async def test_identical_pushes_to_both_servers_store_one_reading(two_servers: Pair) -> None:
    url, a, b = two_servers
    sid = (await dosing_session(a))["id"]
    statuses, ids, external_id = await race_duplicate_push([a, b], sid)
    assert statuses == {201: RACERS}, statuses
    assert len(ids) == 1, ids
    sql = "SELECT count(*) FROM observations WHERE external_id = $1"
    assert await count_rows(url, sql, external_id) == 1
