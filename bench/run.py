"""``make bench``: Vigil's ingest and read paths against a live server on PostgreSQL.

Creates a fresh database on ``BENCH_DATABASE_URL``'s server, migrates it with ``vigil migrate``,
serves it with ``vigil serve --workers 2`` on 127.0.0.1, and measures (see bench/README.md):
batch ingest, single-reading posts, the session timeline and history reads, the raw database
limit for the same rows, and the reads again at each size in ``BENCH_SCALES`` with EXPLAIN
(ANALYZE) plans. Prints a table and writes ``bench/results/latest.json``; the database is
dropped afterwards (``BENCH_KEEP_DB=1`` keeps it).
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import random
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import orjson
from sqlalchemy import ClauseElement, Executable
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine
from sqlalchemy.ext.compiler import compiles

from api.clinical.screening import CONTRAINDICATION_ITEMS
from bench.load import (
    LoadClient,
    LoadResult,
    Reply,
    postgres_cpu_seconds,
    process_group_cpu_seconds,
    run_load,
    run_paced,
)
from bench.seed import VITALS, seed_readings, settle
from tests.live import (
    LiveServer,
    asyncpg_dsn,
    create_database,
    drop_database,
    migrate,
    staff_headers,
)

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"


def _env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


# PostgreSQL on this host is reached over its Unix socket when it has one, as a single-host
# install should connect (TCP loopback measured about 15% fewer single posts a second here);
# the raw baseline uses the same connection, so the ratio compares like with like.
PG_SOCKET_DIR = Path("/var/run/postgresql")
SERVER_URL = os.environ.get(
    "BENCH_DATABASE_URL",
    f"postgresql+asyncpg://postgres@/postgres?host={PG_SOCKET_DIR}"
    if (PG_SOCKET_DIR / ".s.PGSQL.5432").exists()
    else "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres",
)
SCALES = [int(s) for s in os.environ.get("BENCH_SCALES", "100000,10000000").split(",") if s]
WORKERS = _env_int("BENCH_WORKERS", 2)
SECONDS = float(os.environ.get("BENCH_SECONDS", "15"))
BATCH_SIZE = 100
BATCH_CONNECTIONS = _env_int("BENCH_BATCH_CONNECTIONS", 16)
BATCH_REQUESTS = _env_int("BENCH_BATCH_REQUESTS", 800)
SINGLE_CONNECTIONS = _env_int("BENCH_SINGLE_CONNECTIONS", 32)
SINGLE_REQUESTS = _env_int("BENCH_SINGLE_REQUESTS", 6000)
READ_CONNECTIONS = _env_int("BENCH_READ_CONNECTIONS", 8)
READ_REQUESTS = _env_int("BENCH_READ_REQUESTS", 2000)
INGEST_SESSIONS = _env_int("BENCH_INGEST_SESSIONS", 64)
HISTORY_SESSIONS = 24
P99_TARGET_MS = 50.0
# Open-loop phases send at this share of the closed-loop maximum measured just before.
PACED_SHARE = float(os.environ.get("BENCH_PACED_SHARE", "0.5"))
# BENCH_READS=0: ingest and the raw limit only (a quick loop while working on ingest)
READS = os.environ.get("BENCH_READS", "1") != "0"
# CPU seconds used so far by the server's process group (set once the server runs).
SERVER_CPU: list[Callable[[], float] | None] = [None]


# --- setup through the API ---------------------------------------------------------------------


def iso(dt: datetime) -> str:
    return dt.astimezone(UTC).isoformat().replace("+00:00", "Z")


IV_PLAN = {
    "medication": "ketamine",
    "route": "iv_infusion",
    "indication": "trd",
    "dose_mg_per_kg": 0.5,
    "max_dose_mg": 60,
    "infusion_minutes": 40,
    "min_monitoring_minutes": 60,
}


async def _ok(response: httpx.Response, status: int = 201) -> dict[str, Any]:
    if response.status_code != status:
        raise RuntimeError(f"{response.request.url}: {response.status_code} {response.text}")
    return dict(response.json())


async def create_patient_and_plan(client: httpx.AsyncClient) -> dict[str, Any]:
    patient = await _ok(
        await client.post(
            "/v1/patients",
            json={
                "mrn": f"BENCH-{uuid.uuid4().hex[:10]}",
                "given_name": "Bench",
                "family_name": "Patient",
                "birth_date": "1984-03-09",
                "sex": "female",
                "height_cm": 165,
            },
        )
    )
    # SPEC §11: a current eligible screening before any plan
    signed = iso(datetime.now(UTC) - timedelta(days=7))
    await _ok(
        await client.post(
            f"/v1/patients/{patient['id']}/screenings",
            json={
                "indication": "trd",
                "diagnoses": [{"code": "F33.2"}],
                "prior_treatments": [],
                "contraindications": dict.fromkeys(CONTRAINDICATION_ITEMS, "absent"),
                "childbearing_potential": False,
                "consent": {"signed_at": signed, "document_version": "bench"},
                "decision": "eligible",
            },
        ),
        201,
    )
    return await _ok(await client.post(f"/v1/patients/{patient['id']}/dosing-plans", json=IV_PLAN))


async def create_session(
    client: httpx.AsyncClient, plan: dict[str, Any], scheduled_at: datetime
) -> str:
    session = await _ok(
        await client.post(
            "/v1/sessions",
            json={
                "patient_id": plan["patient_id"],
                "dosing_plan_id": plan["id"],
                "scheduled_at": iso(scheduled_at),
                "location": "chair-1",
            },
        )
    )
    return str(session["id"])


async def to_dosing(client: httpx.AsyncClient, sid: str, dosing_at: datetime) -> None:
    """Check in, record pre-dose vitals that pass the gate, start dosing at ``dosing_at``."""
    transitions = f"/v1/sessions/{sid}/transitions"
    checked_in = {"to": "checked_in", "weight_kg": 72, "at": iso(dosing_at - timedelta(minutes=10))}
    await _ok(await client.post(transitions, json=checked_in), 200)
    pre = dosing_at - timedelta(minutes=5)
    await _ok(
        await client.post(
            f"/v1/sessions/{sid}/vitals",
            json={
                "observations": [
                    {"code": c, "value": v, "unit": u, "measured_at": iso(pre)}
                    for c, v, u in (
                        ("systolic_bp", 122, "mm[Hg]"),
                        ("diastolic_bp", 78, "mm[Hg]"),
                        ("heart_rate", 72, "/min"),
                        ("spo2", 98, "%"),
                    )
                ]
            },
        )
    )
    await _ok(
        await client.put(
            f"/v1/sessions/{sid}/checklist",
            json={
                "last_food_at": iso(dosing_at - timedelta(hours=4)),
                "last_liquids_at": iso(dosing_at - timedelta(hours=2)),
                "escort": {"name": "Bench Escort"},
                "no_driving_acknowledged": True,
                "medication_changes": False,
                "pregnancy_test": "not_applicable",
                "consent_confirmed": True,
            },
        ),
        200,
    )
    await _ok(await client.post(transitions, json={"to": "dosing", "at": iso(dosing_at)}), 200)


def reading(index: int, dosing_at: datetime, now: datetime, ext: str) -> dict[str, Any]:
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


async def setup(client: httpx.AsyncClient) -> dict[str, Any]:
    now = datetime.now(UTC).replace(microsecond=0)
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
        await _ok(
            await client.post(
                f"/v1/sessions/{timeline}/vitals", json={"observations": observations}
            )
        )
    ended = started + timedelta(minutes=45)
    await _ok(
        await client.post(
            f"/v1/sessions/{timeline}/transitions", json={"to": "monitoring", "at": iso(ended)}
        ),
        200,
    )
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


# --- the measured phases -----------------------------------------------------------------------


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


async def read_phases(
    base_url: str, headers: dict[str, str], world: dict[str, Any], label: str
) -> dict[str, LoadResult]:
    sid, pid = world["timeline_session"], world["history_patient"]
    paths = {
        "session_record": f"/v1/sessions/{sid}",
        "timeline_vitals_500": f"/v1/sessions/{sid}/vitals?limit=500",
        "history_list": f"/v1/sessions?patient_id={pid}",
    }
    names = {
        "session_record": "GET /v1/sessions/{id}",
        "timeline_vitals_500": "GET /v1/sessions/{id}/vitals?limit=500",
        "history_list": "GET /v1/sessions?patient_id=",
    }
    out = {}
    for key, path in paths.items():

        async def get(client: LoadClient, _: int, path: str = path) -> Reply:
            return await client.get(path)

        out[key] = closed = await run_load(
            f"{names[key]} ({label})",
            base_url,
            headers,
            get,
            connections=READ_CONNECTIONS,
            max_requests=READ_REQUESTS,
            max_seconds=SECONDS,
            expect=200,
            warmup=READ_CONNECTIONS,
            server_cpu=SERVER_CPU[0],
        )
        if key == "timeline_vitals_500":
            out[f"{key}_paced"] = await run_paced(
                f"{names[key]} ({label}), paced at {PACED_SHARE:.0%} of the maximum above",
                base_url,
                headers,
                get,
                connections=READ_CONNECTIONS,
                rate=PACED_SHARE * closed.requests_per_second,
                max_requests=READ_REQUESTS,
                max_seconds=SECONDS,
                expect=200,
                warmup=READ_CONNECTIONS,
                server_cpu=SERVER_CPU[0],
            )
    return out


# --- the database's own limit for the same rows ----------------------------------------------

INSERT_SQL = """
INSERT INTO observations (id, session_id, code, value, unit, original_value, original_unit,
  measured_at, status, external_id, source, recorded_by, recorded_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'final', $9, $10, $11, $12)
ON CONFLICT (source, external_id) DO NOTHING
"""
COPY_COLUMNS = [
    "id",
    "session_id",
    "code",
    "value",
    "unit",
    "original_value",
    "original_unit",
    "measured_at",
    "status",
    "external_id",
    "source",
    "recorded_by",
    "recorded_at",
]


def raw_rows(world: dict[str, Any], count: int, tag: str) -> list[tuple[Any, ...]]:
    sessions = [uuid.UUID(s) for s in world["ingest_sessions"]]
    now = datetime.now(UTC)
    rows = []
    for i in range(count):
        r = reading(i, world["dosing_at"], world["now"], f"{tag}-{i}")
        measured = datetime.fromisoformat(r["measured_at"])
        rows.append(
            (
                uuid.uuid4(),
                sessions[(i // BATCH_SIZE) % len(sessions)],
                r["code"],
                r["value"],
                r["unit"],
                r["value"],
                r["unit"],
                measured,
                r["external_id"],
                "user:bench-raw",
                "bench-raw",
                now,
            )
        )
    return rows


async def settle_database(url: str) -> None:
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        await settle(conn)
    finally:
        await conn.close()


async def _remove_raw_rows(conn: asyncpg.Connection) -> None:
    # The raw rows are only a yardstick: remove them, so that what follows (Vigil's ingest, the
    # scale runs) meets only the readings Vigil itself stored.
    await conn.execute("DELETE FROM observations WHERE source = 'user:bench-raw'")
    await conn.execute("VACUUM ANALYZE observations")


async def raw_executemany(url: str, world: dict[str, Any], count: int) -> dict[str, Any]:
    """``count`` readings shaped like the batch phase's, by asyncpg ``executemany`` in batches
    of 100 (one transaction each) on as many connections; then removed again."""
    dsn = asyncpg_dsn(url)
    rows = raw_rows(world, count, f"raw-{uuid.uuid4().hex[:6]}")
    batches = [rows[i : i + BATCH_SIZE] for i in range(0, len(rows), BATCH_SIZE)]
    pool = await asyncpg.create_pool(dsn, min_size=BATCH_CONNECTIONS, max_size=BATCH_CONNECTIONS)
    try:
        queue = list(reversed(batches))

        async def worker() -> None:
            async with pool.acquire() as conn:
                while queue:
                    batch = queue.pop()
                    async with conn.transaction():  # one transaction per batch, like a request
                        await conn.executemany(INSERT_SQL, batch)

        database_before = postgres_cpu_seconds()
        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(BATCH_CONNECTIONS)))
        executemany_seconds = time.perf_counter() - started
        executemany_db_cpu = postgres_cpu_seconds() - database_before
    finally:
        await pool.close()
    conn = await asyncpg.connect(dsn)
    try:
        await _remove_raw_rows(conn)
    finally:
        await conn.close()
    return {
        "rows": count,
        "connections": BATCH_CONNECTIONS,
        "batch": BATCH_SIZE,
        "seconds": round(executemany_seconds, 3),
        "rows_per_second": round(count / executemany_seconds, 1),
        "database_cpu_ms_per_100_rows": round(100_000 * executemany_db_cpu / count, 2),
    }


def bracketed(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """The raw executemany limit of the batch phase's moment: the runs just before and just
    after it, together (a VM whose speed drifts during the run moves both sides alike)."""
    rows = before["rows"] + after["rows"]
    seconds = before["seconds"] + after["seconds"]
    cpu_ms = (
        before["database_cpu_ms_per_100_rows"] * before["rows"]
        + after["database_cpu_ms_per_100_rows"] * after["rows"]
    ) / rows
    return {
        "rows": rows,
        "connections": BATCH_CONNECTIONS,
        "batch": BATCH_SIZE,
        "seconds": round(seconds, 3),
        "rows_per_second": round(rows / seconds, 1),
        "database_cpu_ms_per_100_rows": round(cpu_ms, 2),
        "runs": {"before": before, "after": after},
    }


async def raw_copy(url: str, world: dict[str, Any], count: int) -> dict[str, Any]:
    """The same readings in one ``COPY``; then removed again."""
    dsn = asyncpg_dsn(url)
    copy_rows = [
        (r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], "final", None, *r[9:])
        for r in raw_rows(world, count, "copy")
    ]
    conn = await asyncpg.connect(dsn)
    try:
        started = time.perf_counter()
        await conn.copy_records_to_table("observations", records=copy_rows, columns=COPY_COLUMNS)
        copy_seconds = time.perf_counter() - started
        await _remove_raw_rows(conn)
    finally:
        await conn.close()
    return {
        "rows": count,
        "connections": 1,
        "seconds": round(copy_seconds, 3),
        "rows_per_second": round(count / copy_seconds, 1),
    }


# --- query plans -------------------------------------------------------------------------------


class Explain(Executable, ClauseElement):
    inherit_cache = False

    def __init__(self, statement: Any) -> None:
        self.statement = statement


@compiles(Explain, "postgresql")
def _explain(element: Explain, compiler: Any, **kw: Any) -> str:
    return "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + compiler.process(element.statement, **kw)


def _nodes(plan: dict[str, Any]) -> list[dict[str, Any]]:
    out = [plan]
    for child in plan.get("Plans", []):
        out.extend(_nodes(child))
    return out


def plan_check(plan_json: list[dict[str, Any]], table: str) -> dict[str, Any]:
    nodes = _nodes(plan_json[0]["Plan"])
    on_table = [n for n in nodes if n.get("Relation Name") == table]
    seq = [n for n in on_table if n["Node Type"] == "Seq Scan"]
    indexes = sorted({n["Index Name"] for n in on_table if "Index Name" in n})
    bitmap = sorted({n["Index Name"] for n in nodes if n["Node Type"] == "Bitmap Index Scan"})
    return {
        "uses_index": not seq and bool(indexes or bitmap),
        "indexes": indexes + [b for b in bitmap if b not in indexes],
        "node_types": [n["Node Type"] for n in nodes],
        "execution_ms": round(plan_json[0].get("Execution Time", 0.0), 3),
    }


async def explain_reads(url: str, world: dict[str, Any]) -> dict[str, Any]:
    from api.sessions.repository import get_session
    from api.sessions.service import history_query, summary_readings_query
    from api.vitals.service import vitals_page_query

    engine = create_async_engine(url)
    try:
        async with AsyncSession(engine) as db:
            session = await get_session(db, world["timeline_session"])
            statements = {
                "timeline_vitals_500": (vitals_page_query(session, limit=500), "observations"),
                "session_summary_readings": (summary_readings_query(session.id), "observations"),
                "history_list": (
                    history_query(
                        limit=50,
                        cursor=None,
                        patient_id=world["history_patient"],
                        status=None,
                        location=None,
                        from_=None,
                        to=None,
                    ),
                    "treatment_sessions",
                ),
            }
            out = {}
            for name, (statement, table) in statements.items():
                raw = (await db.execute(Explain(statement))).scalar_one()
                plan = json.loads(raw) if isinstance(raw, str) else raw
                out[name] = {**plan_check(plan, table), "plan": plan}
            return out
    finally:
        await engine.dispose()


# --- reporting ---------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = "unknown"
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f"{kb / 1024 / 1024:.1f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory": memory,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
    }


def cpu_times() -> list[int]:
    """The machine's CPU ticks (user, nice, system, idle, iowait, irq, softirq, steal)."""
    try:
        return [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    except (OSError, ValueError):
        return []


def cpu_share(before: list[int], after: list[int]) -> dict[str, float]:
    """Busy and hypervisor-stolen shares of all cores between two cpu_times() readings. Steal
    is time this VM was ready to run but its host ran something else: it slows everything
    measured here without showing in any process's CPU time."""
    if len(before) < 8 or len(after) < 8:
        return {}
    delta = [a - b for a, b in zip(after, before, strict=True)]
    total = sum(delta) or 1
    idle = delta[3] + delta[4]
    return {
        "busy_percent": round(100 * (total - idle - delta[7]) / total, 1),
        "steal_percent": round(100 * delta[7] / total, 1),
    }


def row(r: LoadResult, throughput: str) -> str:
    server = (
        f"{1000 * r.server_cpu_seconds / r.ok:.1f}"
        if r.ok and r.server_cpu_seconds is not None
        else ""
    )
    client = f"{1000 * r.client_cpu_seconds / r.ok:.1f}" if r.ok else ""
    database = (
        f"{1000 * r.database_cpu_seconds / r.ok:.1f}"
        if r.ok and r.database_cpu_seconds is not None
        else ""
    )
    return (
        f"| {r.name} | {r.connections} | {throughput} | {r.percentile(50):.1f} | "
        f"{r.percentile(99):.1f} | {server} | {database} | {client} | {r.ok}/{r.requests} |"
    )


def table(report: dict[str, Any], loads: dict[str, LoadResult]) -> str:
    lines = [
        "| scenario | conns | throughput | p50 ms | p99 ms | server CPU ms/req | "
        "PostgreSQL CPU ms/req | load-generator CPU ms/req | ok/sent |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    batch = loads["batch_ingest"]
    lines.append(row(batch, f"{batch.items_per_second:,.0f} readings/s"))
    single = loads["single_posts"]
    lines.append(row(single, f"{single.requests_per_second:,.0f} req/s"))
    for key, r in loads.items():
        if key not in ("batch_ingest", "single_posts"):
            lines.append(row(r, f"{r.requests_per_second:,.0f} req/s"))
    raw = report["raw_database"]
    runs = raw["executemany"]["runs"]
    lines.append(
        "| raw asyncpg executemany (batches of 100, same rows, just before and just after the "
        f"batch phase) | {BATCH_CONNECTIONS} | "
        f"{raw['executemany']['rows_per_second']:,.0f} rows/s | | | | "
        f"{raw['executemany']['database_cpu_ms_per_100_rows']:.1f} (per 100 rows) | | |"
    )
    lines.append(
        f"| raw COPY (same rows) | 1 | {raw['copy']['rows_per_second']:,.0f} rows/s | | | | | | |"
    )
    lines.append("")
    lines.append(
        f"Vigil batch ingest / raw executemany = **{report['ingest_vs_executemany']:.2f}** "
        f"(target ≥ 0.5); / COPY = {report['ingest_vs_copy']:.2f}. Raw executemany "
        f"{runs['before']['rows_per_second']:,.0f} rows/s just before the batch phase, "
        f"{runs['after']['rows_per_second']:,.0f} just after."
    )
    for scale, data in report.get("scales", {}).items():
        checks = ", ".join(
            f"{name}: {'index' if p['uses_index'] else 'NO INDEX'} ({', '.join(p['indexes'])}; "
            f"{p['execution_ms']} ms)"
            for name, p in data["explain"].items()
        )
        lines.append(f"\nPlans at {int(scale):,} readings: {checks}.")
    return "\n".join(lines)


async def run() -> dict[str, Any]:
    name = f"vigil_bench_{uuid.uuid4().hex[:8]}"
    url = await create_database(SERVER_URL, name)
    report: dict[str, Any] = {
        "started_at": iso(datetime.now(UTC)),
        "machine": machine(),
        "config": {
            "workers": WORKERS,
            "batch_connections": BATCH_CONNECTIONS,
            "single_connections": SINGLE_CONNECTIONS,
            "read_connections": READ_CONNECTIONS,
            "seconds_cap_per_phase": SECONDS,
            "scales": SCALES,
            "database_connection": "unix socket" if "host=/" in SERVER_URL else "tcp",
        },
    }
    loads: dict[str, LoadResult] = {}
    try:
        await asyncio.to_thread(migrate, url)
        conn = await asyncpg.connect(asyncpg_dsn(url))
        report["machine"]["postgresql"] = await conn.fetchval("SHOW server_version")
        await conn.close()
        # At the default log level, as a clinic runs it: one access line per request (to the
        # server's log file; the tests' servers run at WARNING).
        server = LiveServer(url, workers=WORKERS, env={"VIGIL_LOG_LEVEL": "INFO"})
        await asyncio.to_thread(server.start)
        assert server.process is not None
        pgid = server.process.pid
        SERVER_CPU[0] = lambda: process_group_cpu_seconds(pgid)
        try:
            async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as anon:
                clinician = await staff_headers(anon, "clinician")
                nurse = await staff_headers(anon, "nurse") or clinician
            report["authenticated"] = bool(clinician)
            async with httpx.AsyncClient(
                base_url=server.base_url, headers=clinician, timeout=30
            ) as client:
                print("setting up sessions through the API ...", flush=True)
                world = await setup(client)
            # The raw limit brackets Vigil's batch phase: measured just before and just after
            # it, each from the same settled start, so that the ratio compares like moments.
            print("raw database limit, then batch ingest, then the raw limit again ...", flush=True)
            planned = BATCH_REQUESTS * BATCH_SIZE
            await settle_database(url)
            raw_before = await raw_executemany(url, world, planned)
            await settle_database(url)
            loads["batch_ingest"] = await batch_phase(server.base_url, nurse, world)
            stored = loads["batch_ingest"].ok * BATCH_SIZE
            await settle_database(url)
            raw_after = await raw_executemany(url, world, stored)
            await settle_database(url)
            report["raw_database"] = {
                "executemany": bracketed(raw_before, raw_after),
                "copy": await raw_copy(url, world, stored),
            }
            executemany = report["raw_database"]["executemany"]["rows_per_second"]
            copy = report["raw_database"]["copy"]["rows_per_second"]
            report["ingest_vs_executemany"] = loads["batch_ingest"].items_per_second / executemany
            report["ingest_vs_copy"] = loads["batch_ingest"].items_per_second / copy
            print("single posts ...", flush=True)
            await settle_database(url)
            loads.update(await single_phases(server.base_url, nurse, world))
            if READS:
                print("reads ...", flush=True)
                await settle_database(url)  # as the scale runs' seeding does
                loads.update(await read_phases(server.base_url, nurse, world, "fresh database"))
            report["explain_fresh"] = await explain_reads(url, world)
            report["scales"] = {}
            for scale in SCALES if READS else []:
                conn = await asyncpg.connect(asyncpg_dsn(url))
                try:
                    current = await conn.fetchval("SELECT count(*) FROM observations")
                    print(f"seeding to {scale:,} readings (have {current:,}) ...", flush=True)
                    seeded = await seed_readings(
                        conn, max(0, scale - current), now=datetime.now(UTC)
                    )
                    total = await conn.fetchval("SELECT count(*) FROM observations")
                finally:
                    await conn.close()
                reads = await read_phases(server.base_url, nurse, world, f"{scale:,} readings")
                loads.update({f"{k}@{scale}": v for k, v in reads.items()})
                report["scales"][str(scale)] = {
                    "readings_in_database": total,
                    "seed": seeded,
                    "reads": {k: v.summary() for k, v in reads.items()},
                    "explain": await explain_reads(url, world),
                }
        finally:
            await asyncio.to_thread(server.stop)
    finally:
        if not os.environ.get("BENCH_KEEP_DB"):
            await drop_database(SERVER_URL, name)
    report["results"] = {k: v.summary() for k, v in loads.items()}
    single = loads["single_posts"]
    closed_reads = {
        k: v.percentile(99)
        for k, v in loads.items()
        if ("timeline" in k or "record" in k) and "paced" not in k
    }
    paced_reads = {
        k: v.percentile(99) for k, v in loads.items() if "paced" in k and "timeline" in k
    }
    largest = str(max(SCALES)) if SCALES and READS else None
    report["targets"] = {
        "batch_ingest_at_least_half_of_executemany": report["ingest_vs_executemany"] >= 0.5,
        "single_post_p99_under_50ms": single.percentile(99) < P99_TARGET_MS,
        "single_post_p99_under_50ms_light_load": loads["single_posts_light"].percentile(99)
        < P99_TARGET_MS,
        "single_post_p99_under_50ms_paced": loads["single_posts_paced"].percentile(99)
        < P99_TARGET_MS,
        "timeline_read_p99_under_50ms": all(v < P99_TARGET_MS for v in closed_reads.values()),
        "timeline_read_p99_under_50ms_paced": bool(paced_reads)
        and all(v < P99_TARGET_MS for v in paced_reads.values()),
        # At small sizes the planner rightly scans a table of a few hundred sessions; what
        # matters is that the plans at the largest size go through the indexes.
        "plans_use_indexes_at_largest_scale": largest is not None
        and all(p["uses_index"] for p in report["scales"][largest]["explain"].values()),
    }
    report["table"] = table(report, loads)
    report["finished_at"] = iso(datetime.now(UTC))
    return report


def main() -> int:
    random.seed(1)
    started = time.monotonic()
    load_before, ticks_before = os.getloadavg()[0], cpu_times()
    report = asyncio.run(run())
    report["wall_seconds"] = round(time.monotonic() - started, 1)
    report["machine"]["load_average_at_start"] = round(load_before, 2)
    report["machine"]["cpu_during_run"] = cpu_share(ticks_before, cpu_times())
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    for path in (RESULTS / "latest.json", RESULTS / f"{stamp}.json"):
        path.write_text(json.dumps(report, indent=2, default=str))
    print()
    print(report["table"])
    print()
    print("targets:", json.dumps(report["targets"]))
    print(
        f"machine: load average {report['machine']['load_average_at_start']} at start; "
        f"during the run {json.dumps(report['machine']['cpu_during_run'])}; PostgreSQL over "
        f"{report['config']['database_connection']}"
    )
    print(f"wall time {report['wall_seconds']} s; JSON in {RESULTS / 'latest.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
