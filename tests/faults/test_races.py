"""One winner, no duplicates: concurrent conflicting transitions and identical pushes.

Against a live server with two worker processes (so the racing requests really run in
parallel processes with their own connection pools), on PostgreSQL.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

from tests.factories import create_session
from tests.faults.conftest import NEEDS_POSTGRES
from tests.faults.races import (
    RACERS,
    count_rows,
    race_duplicate_push,
    race_transitions,
    transitions_to,
)
from tests.live import LiveServer, dosing_session, staff_headers

pytestmark = [pytest.mark.slow, NEEDS_POSTGRES]


@pytest.fixture
async def live(pg_url: str) -> AsyncIterator[tuple[str, httpx.AsyncClient]]:
    server = LiveServer(pg_url, workers=2)
    await asyncio.to_thread(server.start)
    try:
        limits = httpx.Limits(max_connections=RACERS)
        async with httpx.AsyncClient(base_url=server.base_url, timeout=20, limits=limits) as c:
            c.headers.update(await staff_headers(c, "clinician"))
            yield pg_url, c
    finally:
        await asyncio.to_thread(server.stop)


async def test_identical_concurrent_transitions_have_one_winner(
    live: tuple[str, httpx.AsyncClient],
) -> None:
    url, client = live
    sid = (await create_session(client))["id"]
    statuses = await race_transitions(
        [client], sid, [{"to": "checked_in", "weight_kg": 72}], if_match=None
    )
    assert statuses[200] == 1, statuses
    assert set(statuses) <= {200, 409, 412}, statuses
    assert await transitions_to(url, sid, "checked_in") == 1


async def test_conflicting_transitions_on_one_etag_have_one_winner(
    live: tuple[str, httpx.AsyncClient],
) -> None:
    url, client = live
    session = await create_session(client)
    sid = session["id"]
    etag = (await client.get(f"/v1/sessions/{sid}")).headers["etag"]
    bodies = [
        {"to": "checked_in", "weight_kg": 72},
        {"to": "cancelled", "reason": "patient unwell"},
    ]
    statuses = await race_transitions([client], sid, bodies, if_match=etag)
    assert statuses[200] == 1, statuses
    assert statuses[412] == RACERS - 1, statuses
    moved = await transitions_to(url, sid, "checked_in") + await transitions_to(
        url, sid, "cancelled"
    )
    assert moved == 1
    r = await client.get(f"/v1/sessions/{sid}")
    assert r.headers["etag"] == '"2"'


async def test_identical_concurrent_pushes_store_one_reading(
    live: tuple[str, httpx.AsyncClient],
) -> None:
    url, client = live
    sid = (await dosing_session(client))["id"]
    statuses, ids, external_id = await race_duplicate_push([client], sid)
    assert statuses == {201: RACERS}, statuses
    assert len(ids) == 1, ids
    assert (
        await count_rows(
            url, "SELECT count(*) FROM observations WHERE external_id = $1", external_id
        )
        == 1
    )
