"""Races run against live servers: many clients change one session or push one reading at once.

Shared by the fault tests (one server, two worker processes) and the scale-out test (two
servers): ``clients`` are spread round-robin over the requests, so with two servers half of
each race arrives at each."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from typing import Any

import asyncpg
import httpx

from tests.factories import ago, iso
from tests.live import asyncpg_dsn

RACERS = 16


async def race_transitions(
    clients: list[httpx.AsyncClient], sid: str, bodies: list[dict[str, Any]], if_match: str | None
) -> Counter[int]:
    headers = {"If-Match": if_match} if if_match else {}

    async def one(i: int) -> int:
        client = clients[i % len(clients)]
        r = await client.post(
            f"/v1/sessions/{sid}/transitions", json=bodies[i % len(bodies)], headers=headers
        )
        assert r.headers["content-type"].startswith(("application/json", "application/problem"))
        return r.status_code

    return Counter(await asyncio.gather(*(one(i) for i in range(RACERS))))


async def race_duplicate_push(
    clients: list[httpx.AsyncClient], sid: str
) -> tuple[Counter[int], set[str], str]:
    external_id = f"dup-{uuid.uuid4().hex[:8]}"
    body = {
        "observations": [
            {
                "code": "heart_rate",
                "value": 71,
                "unit": "/min",
                "measured_at": iso(ago(2)),
                "external_id": external_id,
            }
        ]
    }

    async def one(i: int) -> httpx.Response:
        return await clients[i % len(clients)].post(f"/v1/sessions/{sid}/vitals", json=body)

    responses = await asyncio.gather(*(one(i) for i in range(RACERS)))
    ids = {r.json()["items"][0]["id"] for r in responses if r.status_code == 201}
    return Counter(r.status_code for r in responses), ids, external_id


async def count_rows(url: str, sql: str, *args: Any) -> int:
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        return int(await conn.fetchval(sql, *args))
    finally:
        await conn.close()


async def transitions_to(url: str, sid: str, status: str) -> int:
    return await count_rows(
        url,
        "SELECT count(*) FROM session_transitions WHERE session_id = $1 AND to_status = $2",
        uuid.UUID(sid),
        status,
    )
