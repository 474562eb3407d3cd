"""Profile the server side of the hot paths with pyinstrument, in process.

``python -m bench.profile [batch|single|record|timeline|floor]`` builds the app on a fresh
PostgreSQL database (``BENCH_DATABASE_URL``'s server), sets up sessions through the API, profiles
``BENCH_PROFILE_REQUESTS`` requests sent through httpx's ASGI transport (no sockets, so the
profile is the app: middleware, auth, validation, SQLAlchemy, asyncpg, serialization). Writes
bench/results/profile-<kind>.html and prints the text profile.

``BENCH_PROFILE_MODE=cpu`` runs no profiler and prints the process CPU per request instead (app
plus the in-process client, without PostgreSQL), and the part of it spent in the cyclic garbage
collector: a steadier yardstick than throughput on a shared machine when comparing two versions
of a change. ``BENCH_PROFILE_CONCURRENCY`` (1) keeps that many requests in flight, as a server
worker serves several. Once warmed up, the process sets up its collector as a server does
(``api.collector``); ``BENCH_PROFILE_GC_THRESHOLD=700`` (CPython's default) compares another
threshold for the youngest generation.
"""

from __future__ import annotations

import asyncio
import gc
import os
import sys
import time
import uuid

import httpx
import orjson
from asgi_lifespan import LifespanManager
from pyinstrument import Profiler

from api.collector import YOUNG_GENERATION_THRESHOLD, settle_collector
from api.main import create_app
from bench.run import BATCH_SIZE, RESULTS, SERVER_URL, reading, setup
from tests.conftest import ADMIN_PASSWORD as TEST_ADMIN_PASSWORD
from tests.conftest import make_settings
from tests.live import create_database, drop_database, migrate, staff_headers

REQUESTS = int(os.environ.get("BENCH_PROFILE_REQUESTS", "200"))
MODE = os.environ.get("BENCH_PROFILE_MODE", "profile")
CONCURRENCY = int(os.environ.get("BENCH_PROFILE_CONCURRENCY", "1"))
GC_THRESHOLD = int(os.environ.get("BENCH_PROFILE_GC_THRESHOLD", YOUNG_GENERATION_THRESHOLD))


class CollectorClock:
    """Wall time spent in the cyclic garbage collector while installed."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._started = 0.0

    def __call__(self, phase: str, _info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.seconds += time.perf_counter() - self._started


async def staff(client: httpx.AsyncClient) -> dict[str, str]:
    # make_settings (the tests' settings) bootstraps admin with the tests' password
    return await staff_headers(client, "clinician", admin_password=TEST_ADMIN_PASSWORD)


async def profile(kind: str) -> None:
    name = f"vigil_bench_profile_{uuid.uuid4().hex[:8]}"
    url = await create_database(SERVER_URL, name)
    try:
        await asyncio.to_thread(migrate, url)
        app = create_app(make_settings(url))
        async with LifespanManager(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://bench") as anon:
                headers = await staff(anon)
            async with httpx.AsyncClient(
                transport=transport, base_url="http://bench", headers=headers, timeout=60
            ) as client:
                world = await setup(client)
                sessions = world["ingest_sessions"]
                run = uuid.uuid4().hex[:6]
                size = BATCH_SIZE if kind == "batch" else 1

                def body(i: int) -> bytes:
                    return orjson.dumps(
                        {
                            "observations": [
                                reading(
                                    i * size + k, world["dosing_at"], world["now"], f"{run}-{i}-{k}"
                                )
                                for k in range(size)
                            ]
                        }
                    )

                async def one(i: int) -> httpx.Response:
                    sid = sessions[i % len(sessions)]
                    if kind in ("batch", "single"):
                        return await client.post(
                            f"/v1/sessions/{sid}/vitals",
                            content=body(i),
                            headers={"content-type": "application/json"},
                        )
                    if kind == "floor":
                        return await client.get("/v1/users/me")
                    if kind == "record":
                        return await client.get(f"/v1/sessions/{world['timeline_session']}")
                    return await client.get(
                        f"/v1/sessions/{world['timeline_session']}/vitals?limit=500"
                    )

                async def checked(i: int) -> None:
                    r = await one(i)
                    assert r.status_code in (200, 201), r.text

                async def steadily(first: int, count: int) -> None:
                    # CONCURRENCY requests in flight at every moment, as a busy worker keeps
                    # them; sending them in rounds would let all connections go back to the
                    # pool together, and a pool smaller than a round would then close and
                    # reopen its overflow connections every round (each new connection
                    # prepares its statements and looks up their types again).
                    numbers = iter(range(first, first + count))

                    async def sender() -> None:
                        for i in numbers:
                            await checked(i)

                    await asyncio.gather(*(sender() for _ in range(CONCURRENCY)))

                # Warm up every connection the measured requests will use.
                await steadily(10_000, max(10, 4 * CONCURRENCY))
                settle_collector(GC_THRESHOLD)

                profiler = Profiler(async_mode="enabled", interval=0.0005)
                collector = CollectorClock()
                gc.callbacks.append(collector)
                cpu_before = time.process_time()
                if MODE != "cpu":
                    profiler.start()
                await steadily(0, REQUESTS)
                gc.callbacks.remove(collector)
                if MODE == "cpu":
                    cpu = (time.process_time() - cpu_before) * 1000 / REQUESTS
                    in_gc = collector.seconds * 1000 / REQUESTS
                    print(
                        f"{kind}: {cpu:.2f} ms CPU per request (app + in-process client), "
                        f"{in_gc:.3f} ms of it in the garbage collector "
                        f"({CONCURRENCY} at a time, youngest generation at {GC_THRESHOLD:,})"
                    )
                    return
                profiler.stop()
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / f"profile-{kind}.html").write_text(profiler.output_html())
        print(profiler.output_text(unicode=True, color=False, show_all=False))
    finally:
        await drop_database(SERVER_URL, name)


if __name__ == "__main__":
    asyncio.run(profile(sys.argv[1] if len(sys.argv) > 1 else "single"))
