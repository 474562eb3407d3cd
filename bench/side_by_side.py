"""``python -m bench.side_by_side``: many writers on few sessions, Vigil next to a textbook app.

The shape of issue 20's comparison: against a live server on PostgreSQL with 2 workers, 32
connections post single readings (each a new reading with its own ``external_id``) to 3
sessions in ``dosing``, and the same load goes to ``bench/baseline_app.py`` (FastAPI +
SQLAlchemy, the same ``observations`` table, no authentication, audit, checks, alerts, events or
locks) on the same database. Prints posts/s, p50 and p99 for both, and their ratio.

Both servers run in turn ``SIDE_ROUNDS`` times (default 2: Vigil, baseline, Vigil, baseline),
each for ``SIDE_SECONDS`` (default 8); a round's numbers are pooled per app (total posts over
total seconds, percentiles over all latencies), so a VM whose speed drifts moves both alike.

``SIDE_VIGIL_TREE``: the source tree Vigil's server runs from (default: this one), to measure
another version (for example a checkout of the code before a change) with the same bench and
the same baseline. Knobs: ``SIDE_CONNECTIONS`` (32), ``SIDE_SESSIONS`` (3), ``SIDE_WORKERS`` (2),
``BENCH_DATABASE_URL`` (as ``make bench``). The database is created, migrated (this tree's
migrations) and dropped again.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson

from bench.load import LoadClient, LoadResult, Reply, run_load
from bench.run import SERVER_URL, create_patient_and_plan, create_session, reading, to_dosing
from tests.live import LiveServer, create_database, drop_database, migrate, server_env
from tests.live import staff_headers as live_staff_headers

ROOT = Path(__file__).resolve().parent.parent
VIGIL_TREE = Path(os.environ.get("SIDE_VIGIL_TREE", str(ROOT))).resolve()
SECONDS = float(os.environ.get("SIDE_SECONDS", "8"))
ROUNDS = int(os.environ.get("SIDE_ROUNDS", "2"))
CONNECTIONS = int(os.environ.get("SIDE_CONNECTIONS", "32"))
SESSIONS = int(os.environ.get("SIDE_SESSIONS", "3"))
WORKERS = int(os.environ.get("SIDE_WORKERS", "2"))
MAX_REQUESTS = 1_000_000  # bounded by time


class Server(LiveServer):
    """A server process group on 127.0.0.1 (Vigil's ``vigil serve`` or uvicorn) started from
    ``cwd`` with ``argv``: the tests' live server, from any tree and with any command."""

    def __init__(self, name: str, argv: list[str], cwd: Path, env: dict[str, str]) -> None:
        super().__init__(env["DATABASE_URL"], workers=WORKERS)
        self.name, self.cwd = name, cwd
        self.argv = [*argv, "--host", "127.0.0.1", "--port", str(self.port)]
        self.argv += ["--workers", str(WORKERS)]
        self.env = env

    def start(self, *, timeout: float = 60.0) -> Server:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.argv,
                cwd=self.cwd,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.wait_ready(timeout)
        return self


def vigil_server(url: str) -> Server:
    # Another tree is only read: no __pycache__ written into it.
    env = server_env(url, PYTHONPATH=str(VIGIL_TREE), PYTHONDONTWRITEBYTECODE="1")
    return Server("vigil", [sys.executable, "-m", "api.cli", "serve"], VIGIL_TREE, env)


def baseline_server(url: str) -> Server:
    env = {**os.environ, "DATABASE_URL": url, "PYTHONPATH": str(ROOT)}
    argv = [sys.executable, "-m", "uvicorn", "bench.baseline_app:app", "--no-access-log"]
    return Server("baseline", argv, ROOT, env)


async def setup_sessions(base_url: str) -> tuple[dict[str, str], list[str], datetime, datetime]:
    """The nurse's headers and SESSIONS sessions in dosing, set up through Vigil's API."""
    now = datetime.now(UTC).replace(microsecond=0)
    dosing_at = now - timedelta(minutes=100)
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as anon:
        clinician = await live_staff_headers(anon, "clinician")
        nurse = await live_staff_headers(anon, "nurse") or clinician
    async with httpx.AsyncClient(base_url=base_url, headers=clinician, timeout=30) as client:
        sessions = []
        for _ in range(SESSIONS):
            plan = await create_patient_and_plan(client)
            sid = await create_session(client, plan, now)
            await to_dosing(client, sid, dosing_at)
            sessions.append(sid)
    return nurse, sessions, dosing_at, now


async def measure(
    name: str, server: Server, headers: dict[str, str], world: dict[str, Any], tag: str
) -> LoadResult:
    json_headers = {**headers, "content-type": "application/json"}
    sessions: list[str] = world["sessions"]
    counter = [0]

    async def post(client: LoadClient, i: int) -> Reply:
        counter[0] += 1
        n = counter[0]
        body = orjson.dumps(
            {"observations": [reading(n, world["dosing_at"], world["now"], f"{tag}-{n}")]}
        )
        sid = sessions[abs(i) % len(sessions)]
        return await client.post(f"/v1/sessions/{sid}/vitals", content=body, headers=json_headers)

    return await run_load(
        name,
        server.base_url,
        headers,
        post,
        connections=CONNECTIONS,
        max_requests=MAX_REQUESTS,
        max_seconds=SECONDS,
        expect=201,
        warmup=CONNECTIONS,
    )


def pooled(name: str, results: list[LoadResult]) -> LoadResult:
    out = LoadResult(name=name, connections=CONNECTIONS)
    for r in results:
        out.requests += r.requests
        out.ok += r.ok
        out.seconds += r.seconds
        out.latencies_ms += r.latencies_ms
        out.statuses.update(r.statuses)
        out.errors.update(r.errors)
    return out


def line(r: LoadResult) -> str:
    bad = {k: v for k, v in r.statuses.items() if k != 201}
    extra = f"  other statuses {bad}" if bad else ""
    extra += f"  errors {dict(r.errors)}" if r.errors else ""
    return (
        f"{r.name:<10} {r.requests_per_second:>8.1f} posts/s   p50 {r.percentile(50):>7.1f} ms"
        f"   p99 {r.percentile(99):>7.1f} ms   ({r.ok} posts in {r.seconds:.1f} s){extra}"
    )


async def run() -> dict[str, LoadResult]:
    name = f"vigil_side_{uuid.uuid4().hex[:8]}"
    url = await create_database(SERVER_URL, name)
    results: dict[str, list[LoadResult]] = {"vigil": [], "baseline": []}
    try:
        await asyncio.to_thread(migrate, url)
        vigil = vigil_server(url)
        await asyncio.to_thread(vigil.start)
        try:
            nurse, sessions, dosing_at, now = await setup_sessions(vigil.base_url)
        finally:
            await asyncio.to_thread(vigil.stop)
        world = {"sessions": sessions, "dosing_at": dosing_at, "now": now}
        for round_ in range(ROUNDS):
            for app_name, make, headers in (
                ("vigil", vigil_server, nurse),
                ("baseline", baseline_server, {}),
            ):
                server = make(url)
                await asyncio.to_thread(server.start)
                try:
                    tag = f"{app_name}-{round_}-{uuid.uuid4().hex[:6]}"
                    result = await measure(app_name, server, headers, world, tag)
                    print(line(result), flush=True)
                    results[app_name].append(result)
                finally:
                    await asyncio.to_thread(server.stop)
    finally:
        await drop_database(SERVER_URL, name)
    return {k: pooled(k, v) for k, v in results.items()}


def main() -> int:
    print(
        f"side by side: {WORKERS} workers, {CONNECTIONS} connections posting single readings "
        f"to {SESSIONS} sessions, {ROUNDS} x {SECONDS:g} s each; Vigil from {VIGIL_TREE}",
        flush=True,
    )
    pooled_results = asyncio.run(run())
    vigil, baseline = pooled_results["vigil"], pooled_results["baseline"]
    print()
    print(line(vigil))
    print(line(baseline))
    if baseline.requests_per_second:
        print(f"Vigil / baseline: {vigil.requests_per_second / baseline.requests_per_second:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
