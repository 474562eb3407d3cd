"""The ingest scenarios: batch ingest (100 readings a request), single-reading posts (closed
loop at 32 and 4 connections, then paced), and the authenticated floor (``GET /v1/users/me``)."""

from __future__ import annotations

import uuid
from typing import Any

import orjson

from bench.config import (
    BATCH_CONNECTIONS,
    BATCH_REQUESTS,
    BATCH_SIZE,
    PACED_SHARE,
    SECONDS,
    SERVER_CPU,
    SINGLE_CONNECTIONS,
    SINGLE_REQUESTS,
)
from bench.load import LoadClient, LoadResult, Reply, run_load, run_paced
from bench.world import reading


def batch_bodies(world: dict[str, Any], run: str) -> list[bytes]:
    out = []
    for i in range(BATCH_REQUESTS):
        observations = [
            reading(i * BATCH_SIZE + k, world["dosing_at"], world["now"], f"{run}-b{i}-{k}")
            for k in range(BATCH_SIZE)
        ]
        out.append(orjson.dumps({"observations": observations}))
    return out


async def batch_phase(base_url: str, headers: dict[str, str], world: dict[str, Any]) -> LoadResult:
    sessions = world["ingest_sessions"]
    run = uuid.uuid4().hex[:6]
    json_headers = {**headers, "content-type": "application/json"}
    bodies = batch_bodies(world, run)

    async def post_batch(client: LoadClient, i: int) -> Reply:
        body = bodies[i] if i >= 0 else bodies[-1 - i]
        if i < 0:  # warm-up: a distinct body so the measured ones all store new rows
            body = orjson.dumps(
                {
                    "observations": [
                        reading(k, world["dosing_at"], world["now"], f"{run}-w{-i}-{k}")
                        for k in range(BATCH_SIZE)
                    ]
                }
            )
        sid = sessions[abs(i) % len(sessions)]
        return await client.post(f"/v1/sessions/{sid}/vitals", content=body, headers=json_headers)

    return await run_load(
        "batch ingest (100 readings/request)",
        base_url,
        headers,
        post_batch,
        connections=BATCH_CONNECTIONS,
        max_requests=BATCH_REQUESTS,
        max_seconds=SECONDS,
        expect=201,
        items_per_request=BATCH_SIZE,
        warmup=BATCH_CONNECTIONS,
        server_cpu=SERVER_CPU[0],
    )


async def single_phases(
    base_url: str, headers: dict[str, str], world: dict[str, Any]
) -> dict[str, LoadResult]:
    sessions = world["ingest_sessions"]
    run = uuid.uuid4().hex[:6]
    json_headers = {**headers, "content-type": "application/json"}
    singles = [
        orjson.dumps(
            {"observations": [reading(i, world["dosing_at"], world["now"], f"{run}-s{i}")]}
        )
        for i in range(3 * SINGLE_REQUESTS + 3 * SINGLE_CONNECTIONS)
    ]
    used = [0]

    async def post_single(client: LoadClient, i: int) -> Reply:
        body = singles[used[0]]  # every request a new reading (warm-up ones included)
        used[0] += 1
        sid = sessions[abs(i) % len(sessions)]
        return await client.post(f"/v1/sessions/{sid}/vitals", content=body, headers=json_headers)

    single = await run_load(
        "single-reading posts",
        base_url,
        headers,
        post_single,
        connections=SINGLE_CONNECTIONS,
        max_requests=SINGLE_REQUESTS,
        max_seconds=SECONDS,
        expect=201,
        warmup=SINGLE_CONNECTIONS,
        server_cpu=SERVER_CPU[0],
    )
    # The same with a handful of clients: latency without the queueing 32 connections on two
    # cores cause (about what one clinic's chair-side devices produce).
    light = await run_load(
        "single-reading posts, light load",
        base_url,
        headers,
        post_single,
        connections=4,
        max_requests=min(SINGLE_REQUESTS, 1000),
        max_seconds=SECONDS,
        expect=201,
        warmup=4,
        server_cpu=SERVER_CPU[0],
    )
    paced = await run_paced(
        f"single-reading posts, paced at {PACED_SHARE:.0%} of the maximum above",
        base_url,
        headers,
        post_single,
        connections=SINGLE_CONNECTIONS,
        rate=PACED_SHARE * single.requests_per_second,
        max_requests=SINGLE_REQUESTS,
        max_seconds=SECONDS,
        expect=201,
        warmup=SINGLE_CONNECTIONS,
        server_cpu=SERVER_CPU[0],
    )
    # The floor under every request: the same 32 connections on the cheapest authenticated call
    # (the token, the caller's row, one more look-up of it; no body, no audit row, no event).
    floor = await run_load(
        "floor: GET /v1/users/me (authentication and one row, nothing written)",
        base_url,
        headers,
        lambda client, _i: client.get("/v1/users/me"),
        connections=SINGLE_CONNECTIONS,
        max_requests=SINGLE_REQUESTS,
        max_seconds=SECONDS,
        expect=200,
        warmup=SINGLE_CONNECTIONS,
        server_cpu=SERVER_CPU[0],
    )
    return {
        "single_posts": single,
        "single_posts_light": light,
        "single_posts_paced": paced,
        "authenticated_floor": floor,
    }
