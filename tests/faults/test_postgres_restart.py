"""PostgreSQL stops (cleanly, or by a crash) under load: the API answers 503 problem+json, then
recovers by itself, and every acknowledged reading is there exactly once.

The database is a private PostgreSQL cluster created for this test (initdb on a free port in a
temp dir), so stopping it cannot disturb anything else on the machine. While it is down every
answer must be a 503 problem+json (never a 500, never a hang); after it comes back the same
server processes must serve writes again without being restarted, and a live stream opened
before the outage must stay open through it and deliver the readings stored after it.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter

import httpx
import orjson
import pytest

from api.live.service import POLL_SECONDS
from tests.factories import ago, iso
from tests.faults.conftest import NEEDS_POSTGRES
from tests.integrations.helpers import sse_events
from tests.live import (
    LiveServer,
    ThrowawayPostgres,
    create_database,
    dosing_session,
    migrate,
    staff_headers,
    throwaway_postgres_available,
    wait_until,
)

pytestmark = [
    pytest.mark.slow,
    NEEDS_POSTGRES,
    pytest.mark.skipif(
        not throwaway_postgres_available(), reason="needs initdb/pg_ctl to run a private cluster"
    ),
]


@pytest.mark.parametrize("mode", ["fast", "immediate"])  # a clean stop; a crash (no checkpoint)
async def test_database_outage_is_503_problem_json_and_the_api_recovers_by_itself(
    mode: str,
) -> None:
    pg = ThrowawayPostgres().init()
    server: LiveServer | None = None
    try:
        await asyncio.to_thread(pg.start)
        url = await create_database(pg.server_url, "vigil")
        await asyncio.to_thread(migrate, url)
        server = LiveServer(url, workers=2, env={"VIGIL_DB_POOL_SIZE": "4"})
        await asyncio.to_thread(server.start)
        async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as client:
            client.headers.update(await staff_headers(client, "clinician"))
            sid = (await dosing_session(client))["id"]
            outcomes: Counter[str] = Counter()
            bad: list[str] = []
            phase = "before"
            stop = asyncio.Event()
            tag = uuid.uuid4().hex[:6]
            acknowledged: dict[str, set[str]] = {
                "before": set(),
                "outage": set(),
                "recovery": set(),
            }
            streamed: set[str] = set()
            stream_open = asyncio.Event()
            stream_end: list[str] = []

            async def watch() -> None:
                # One stream, opened before the outage: it must not end because of it.
                try:
                    async with client.stream(
                        "GET",
                        f"/v1/sessions/{sid}/events",
                        timeout=httpx.Timeout(10, read=60),
                    ) as response:
                        async for event in sse_events(response):
                            stream_open.set()
                            if event.get("event") == "reading":
                                streamed.add(orjson.loads(event["data"])["external_id"])
                    stream_end.append("the stream ended")
                except Exception as exc:  # the test reports it
                    stream_end.append(repr(exc))

            watcher = asyncio.create_task(watch())

            async def streaming() -> bool:
                return stream_open.is_set()

            assert await wait_until(streaming, 20)

            async def load(worker: int) -> None:
                n = 0
                while not stop.is_set():
                    n += 1
                    body = {
                        "observations": [
                            {
                                "code": "spo2",
                                "value": 97,
                                "unit": "%",
                                "measured_at": iso(ago(1)),
                                "external_id": f"{tag}-{worker}-{n}",
                            }
                        ]
                    }
                    try:
                        r = await client.post(f"/v1/sessions/{sid}/vitals", json=body)
                    except httpx.HTTPError as exc:
                        bad.append(f"{phase}: {type(exc).__name__}")
                        continue
                    outcomes[f"{phase}:{r.status_code}"] += 1
                    if r.status_code == 201:
                        acknowledged[phase].add(body["observations"][0]["external_id"])
                    if r.status_code not in (201, 503):
                        bad.append(f"{phase}: {r.status_code} {r.text[:200]}")
                    elif r.status_code == 503 and (
                        r.headers.get("content-type") != "application/problem+json"
                        or r.json().get("status") != 503
                    ):
                        bad.append(f"{phase}: 503 that is not problem+json: {r.text[:200]}")
                    await asyncio.sleep(0.01)

            workers = [asyncio.create_task(load(w)) for w in range(4)]

            async def writing() -> bool:
                return outcomes["before:201"] >= 5

            assert await wait_until(writing, 20), (outcomes, bad, server.log_tail())
            try:
                phase = "outage"
                await asyncio.to_thread(pg.stop, mode)

                async def saw_503() -> bool:
                    return outcomes["outage:503"] >= 10

                assert await wait_until(saw_503, 20), (outcomes, bad, server.log_tail())
                # long enough for the open stream to poll the outbox while the database is away
                await asyncio.sleep(POLL_SECONDS + 1)
                r = await client.get("/readyz")
                assert r.status_code == 503
                assert r.headers["content-type"] == "application/problem+json"
            finally:
                await asyncio.to_thread(pg.start)  # always bring it back
            phase = "recovery"
            restarted = time.monotonic()

            async def writes_again() -> bool:
                return outcomes["recovery:201"] >= 20

            assert await wait_until(writes_again, 30), (outcomes, bad, server.log_tail())
            recovered_in = time.monotonic() - restarted
            stop.set()
            await asyncio.gather(*workers)

            async def streamed_after_recovery() -> bool:
                return bool(streamed & acknowledged["recovery"])

            assert await wait_until(streamed_after_recovery, 20), (stream_end, server.log_tail())
            assert not stream_end, stream_end
            watcher.cancel()
            assert outcomes["before:201"] > 0
            assert not bad, bad
            assert recovered_in < 30
            r = await client.get("/readyz")
            assert r.status_code == 200

            # Durability: every reading acknowledged with 201, before the outage (committed
            # when PostgreSQL went down, even by a crash) and after it, is stored exactly once.
            stored: Counter[str] = Counter()
            cursor: str | None = None
            while True:
                params = {"limit": 500, **({"cursor": cursor} if cursor else {})}
                page = (await client.get(f"/v1/sessions/{sid}/vitals", params=params)).json()
                stored.update(r["external_id"] for r in page["items"] if r["external_id"])
                cursor = page["next_cursor"]
                if not cursor:
                    break
            every_ack = set().union(*acknowledged.values())
            assert every_ack
            assert not every_ack - set(stored), sorted(every_ack - set(stored))[:5]
            assert max(stored.values()) == 1
    finally:
        if server is not None:
            await asyncio.to_thread(server.stop)
        await asyncio.to_thread(pg.destroy)
