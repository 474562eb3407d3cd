"""The server under test: a fresh database on ``BENCH_DATABASE_URL``'s server, migrated with
``vigil migrate``, served by ``vigil serve --workers BENCH_WORKERS`` on a free 127.0.0.1 port
(tests/live.py's ``LiveServer``), and the staff who call it."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx

from bench.config import KEEP_DB, SERVER_CPU, SERVER_URL, WORKERS
from bench.load import process_group_cpu_seconds
from tests.live import LiveServer, create_database, drop_database, migrate, staff_headers


@asynccontextmanager
async def fresh_database() -> AsyncIterator[str]:
    """A new database ``vigil_bench_<random>``, migrated; its URL. Dropped afterwards unless
    ``BENCH_KEEP_DB`` is set."""
    name = f"vigil_bench_{uuid.uuid4().hex[:8]}"
    url = await create_database(SERVER_URL, name)
    try:
        await asyncio.to_thread(migrate, url)
        yield url
    finally:
        if not KEEP_DB:
            await drop_database(SERVER_URL, name)


@asynccontextmanager
async def live_server(url: str) -> AsyncIterator[LiveServer]:
    """``vigil serve`` on ``url`` at the default log level, as a clinic runs it: one access
    line per request (to the server's log file; the tests' servers run at WARNING). While it
    runs, ``SERVER_CPU[0]()`` reads its process group's CPU seconds."""
    server = LiveServer(url, workers=WORKERS, env={"VIGIL_LOG_LEVEL": "INFO"})
    await asyncio.to_thread(server.start)
    assert server.process is not None
    pgid = server.process.pid
    SERVER_CPU[0] = lambda: process_group_cpu_seconds(pgid)
    try:
        yield server
    finally:
        await asyncio.to_thread(server.stop)


async def staff(base_url: str) -> tuple[dict[str, str], dict[str, str]]:
    """Headers of a new clinician and a new nurse (the clinician's if the build has no staff
    login), created by the bootstrap admin."""
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as anon:
        clinician = await staff_headers(anon, "clinician")
        nurse = await staff_headers(anon, "nurse") or clinician
    return clinician, nurse
