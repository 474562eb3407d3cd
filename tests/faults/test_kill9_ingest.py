"""kill -9 the server during sustained ingest: nothing acknowledged is lost or doubled.

Eight device-like senders push batches with external_ids. Once some are acknowledged the whole
server (supervisor and both workers) gets SIGKILL. After a restart every batch that was not
acknowledged (refused, reset, or in flight when the server died) is sent again unchanged.
Then the database must hold every reading exactly once, and each acknowledged reading must be
the very row the acknowledgement named.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import asyncpg
import httpx
import pytest

from tests.factories import ago, iso
from tests.faults.conftest import NEEDS_POSTGRES
from tests.live import LiveServer, asyncpg_dsn, dosing_session, staff_headers, wait_until

pytestmark = [pytest.mark.slow, NEEDS_POSTGRES]

SENDERS = 8
BATCHES = 240
READINGS_PER_BATCH = 20


def make_batches(sessions: list[str], tag: str) -> list[tuple[str, list[dict[str, Any]]]]:
    batches = []
    for b in range(BATCHES):
        observations = [
            {
                "code": "heart_rate",
                "value": 60 + (b + k) % 40,
                "unit": "/min",
                "measured_at": iso(ago(50 - (b * READINGS_PER_BATCH + k) % 3000 / 60)),
                "external_id": f"{tag}-{b}-{k}",
            }
            for k in range(READINGS_PER_BATCH)
        ]
        batches.append((sessions[b % len(sessions)], observations))
    return batches


async def test_every_acknowledged_reading_is_stored_exactly_once_after_kill9(
    pg_url: str,
) -> None:
    server = LiveServer(pg_url, workers=2)
    await asyncio.to_thread(server.start)
    try:
        async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as client:
            client.headers.update(await staff_headers(client, "clinician"))
            sessions = [(await dosing_session(client))["id"] for _ in range(3)]
            tag = f"kill9-{uuid.uuid4().hex[:6]}"
            batches = make_batches(sessions, tag)
            acked: dict[int, list[dict[str, Any]]] = {}
            queue = list(range(BATCHES))

            async def sender() -> None:
                while queue:
                    b = queue.pop(0)
                    sid, observations = batches[b]
                    try:
                        r = await client.post(
                            f"/v1/sessions/{sid}/vitals", json={"observations": observations}
                        )
                    except httpx.HTTPError:
                        continue  # not acknowledged: re-sent after the restart
                    if r.status_code == 201:
                        acked[b] = r.json()["items"]

            senders = [asyncio.create_task(sender()) for _ in range(SENDERS)]

            async def some_acked() -> bool:
                return len(acked) >= 20

            assert await wait_until(some_acked, 30), server.log_tail()
            await asyncio.to_thread(server.kill)
            await asyncio.gather(*senders)
            unacked = [b for b in range(BATCHES) if b not in acked]
            assert unacked, "the kill came too late to interrupt anything"

            await asyncio.to_thread(server.start)
            # Batches whose commit raced the kill: stored, but the client never heard so.
            in_doubt = await _stored_batches(pg_url, tag, unacked)
            for b in unacked:  # the retry a device or gateway would make
                sid, observations = batches[b]
                r = await client.post(
                    f"/v1/sessions/{sid}/vitals", json={"observations": observations}
                )
                assert r.status_code == 201, r.text
                acked[b] = r.json()["items"]
    finally:
        await asyncio.to_thread(server.stop)

    conn = await asyncpg.connect(asyncpg_dsn(pg_url))
    try:
        rows = await conn.fetch(
            "SELECT external_id, id, count(*) OVER (PARTITION BY external_id) AS copies "
            "FROM observations WHERE external_id LIKE $1",
            f"{tag}-%",
        )
    finally:
        await conn.close()
    stored = {r["external_id"]: str(r["id"]) for r in rows}
    assert all(r["copies"] == 1 for r in rows), "a reading was stored twice"
    assert len(stored) == BATCHES * READINGS_PER_BATCH, "a reading is missing"
    for items in acked.values():
        for item in items:
            assert stored[item["external_id"]] == item["id"]
    # The in-doubt batches were answered with the rows stored before the kill, not new ones.
    print(f"kill -9: {len(unacked)} batches unacknowledged, {len(in_doubt)} of them in doubt")


async def _stored_batches(url: str, tag: str, batches: list[int]) -> set[int]:
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        rows = await conn.fetch(
            "SELECT DISTINCT split_part(external_id, '-', 3)::int AS batch FROM observations "
            "WHERE external_id LIKE $1",
            f"{tag}-%",
        )
    finally:
        await conn.close()
    return {r["batch"] for r in rows} & set(batches)
