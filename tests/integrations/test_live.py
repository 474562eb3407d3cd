"""Live streams (SSE): heartbeat at once, reading/status events as the REST API returns them,
increasing ids, Last-Event-ID resume; across two server processes on PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import uvicorn
from fastapi import FastAPI

from tests.conftest import Backend, Staff, make_settings
from tests.factories import (
    ago,
    create_session,
    good_predose,
    now,
    post_vitals,
    prepare_dosing,
    transition,
    vital,
)
from tests.integrations.helpers import bound_session, checked_in_session, sse_events
from tests.live import free_port, free_ports, wait_until

# A critical alert is acknowledged with a note of at least 10 characters (SPEC §6).
ACK_NOTE = {"note": "Checked the patient, all well"}

ROOT = Path(__file__).resolve().parents[2]


async def next_event(events: AsyncIterator[dict[str, Any]], kind: str) -> dict[str, Any]:
    async def find() -> dict[str, Any]:
        async for event in events:
            if event.get("event") == kind:
                return event
        raise AssertionError("stream ended")

    return await asyncio.wait_for(find(), 20)


@contextlib.asynccontextmanager
async def serve_in_process(app: FastAPI) -> AsyncIterator[str]:
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_level="warning")
    )
    task = asyncio.create_task(server.serve())

    async def started() -> bool:
        return bool(server.started)

    assert await wait_until(started, 20, interval=0.02), "uvicorn did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)


def auth(staff: Staff, role: str = "nurse") -> dict[str, str]:
    return {"Authorization": f"Bearer {staff.tokens[role]}"}


async def test_a_stream_receives_readings_and_status_changes(
    app: FastAPI,
    staff: Staff,
    client: httpx.AsyncClient,
    nurse_client: httpx.AsyncClient,
    admin_client: httpx.AsyncClient,
    integration_client: httpx.AsyncClient,
) -> None:
    session, device = await bound_session(client, nurse_client, admin_client)
    sid = session["id"]
    async with (
        serve_in_process(app) as base,
        httpx.AsyncClient(base_url=base, headers=auth(staff), timeout=30) as http,
        http.stream("GET", f"/v1/sessions/{sid}/events") as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = sse_events(response)
        first = await asyncio.wait_for(anext(events), 5)
        assert first["event"] == "heartbeat"  # at once, before anything happens

        r = await post_vitals(client, sid, [vital("heart_rate", 71, "/min", ago(1))])
        assert r.status_code == 201
        reading = await next_event(events, "reading")
        assert orjson.loads(reading["data"]) == r.json()["items"][0]

        pushed = await integration_client.post(
            "/v1/integrations/observations",
            json={
                "device": device["identifier"],
                "observations": [vital("spo2", 96, "%", ago(1))],
            },
        )
        assert pushed.json()["accepted"] == 1
        second = await next_event(events, "reading")
        assert orjson.loads(second["data"])["code"] == "spo2"
        assert int(second["id"]) > int(reading["id"])

        assert (await post_vitals(client, sid, good_predose(ago(1)))).status_code == 201
        await prepare_dosing(client, sid, now())
        r = await transition(client, sid, "dosing")
        assert r.status_code == 200, r.text
        status = await next_event(events, "status")
        data = orjson.loads(status["data"])
        assert data["status"] == "dosing"
        assert data == r.json()
        assert int(status["id"]) > int(second["id"])

        during = now() + timedelta(seconds=2)  # after dosing started: an intra reading
        low = await post_vitals(client, sid, [vital("spo2", 85, "%", during)])  # critical
        assert low.status_code == 201
        alert = await next_event(events, "alert")
        board = (await client.get(f"/v1/sessions/{sid}/alerts")).json()["items"]
        assert orjson.loads(alert["data"]) == board[0]
        assert board[0]["severity"] == "critical"
        ack = await client.post(f"/v1/alerts/{board[0]['id']}/acknowledge", json=ACK_NOTE)
        assert ack.status_code == 200
        acknowledged = await next_event(events, "alert")
        assert orjson.loads(acknowledged["data"]) == ack.json()

        retracted = await client.post(
            f"/v1/sessions/{sid}/vitals/{low.json()['items'][0]['id']}/retract",
            json={"reason": "probe fell off"},
        )
        assert retracted.status_code == 200
        # one transaction, two events: the alert it resolved, and the retracted reading
        changed = {}
        while len(changed) < 2:
            event = await asyncio.wait_for(anext(events), 20)
            if event.get("event") != "heartbeat":
                changed[event["event"]] = orjson.loads(event["data"])
        assert changed["reading"] == retracted.json()
        assert changed["alert"]["status"] == "resolved"
        board = (await client.get(f"/v1/sessions/{sid}/alerts")).json()["items"]
        assert changed["alert"] == board[0]


async def test_a_new_session_is_announced(
    nurse_client: httpx.AsyncClient, client: httpx.AsyncClient
) -> None:
    session = await create_session(client)
    r = await nurse_client.get(
        f"/v1/sessions/{session['id']}/events",
        params={"max_seconds": 0},
        headers={"Last-Event-ID": "0"},
    )
    assert r.status_code == 200
    (created,) = [e async for e in sse_events(r) if e.get("event") != "heartbeat"]
    assert created["event"] == "status"
    data = orjson.loads(created["data"])
    assert (data["id"], data["status"]) == (session["id"], "scheduled")
    assert data == (await client.get(f"/v1/sessions/{session['id']}")).json()


async def test_last_event_id_resumes_and_the_clinic_stream_sees_every_session(
    nurse_client: httpx.AsyncClient, client: httpx.AsyncClient
) -> None:
    session = await checked_in_session(client)
    sid = session["id"]
    for value in (70, 71, 72):
        r = await post_vitals(client, sid, [vital("heart_rate", value, "/min", ago(1))])
        assert r.status_code == 201

    async def replay(path: str, last_id: str) -> list[dict[str, Any]]:
        r = await nurse_client.get(
            path, params={"max_seconds": 0}, headers={"Last-Event-ID": last_id}
        )
        assert r.status_code == 200, r.text
        return [e async for e in sse_events(r) if e.get("event") != "heartbeat"]

    everything = await replay(f"/v1/sessions/{sid}/events", "0")
    values = [orjson.loads(e["data"])["value"] for e in everything if e["event"] == "reading"]
    assert values == [70, 71, 72]
    ids = [int(e["id"]) for e in everything]
    assert ids == sorted(ids)
    resumed = await replay(f"/v1/sessions/{sid}/events", str(ids[0]))
    assert [int(e["id"]) for e in resumed] == ids[1:]
    clinic = await replay("/v1/events", str(ids[0] - 1))
    assert {int(e["id"]) for e in clinic} >= set(ids)

    first_reading = next(orjson.loads(e["data"]) for e in everything if e["event"] == "reading")
    r = await client.post(
        f"/v1/sessions/{sid}/vitals/{first_reading['id']}/retract", json={"reason": "wrong arm"}
    )
    assert r.status_code == 200
    (retracted,) = await replay(f"/v1/sessions/{sid}/events", str(ids[-1]))
    assert retracted["event"] == "reading"
    assert orjson.loads(retracted["data"]) == r.json()
    assert r.json()["status"] == "entered-in-error"

    r = await nurse_client.get(
        f"/v1/sessions/{sid}/events", params={"max_seconds": 0, "last_event_id": "x"}
    )
    assert r.status_code == 422
    r = await nurse_client.get("/v1/sessions/not-a-session/events", params={"max_seconds": 0})
    assert r.status_code == 404


async def test_a_batch_is_one_event_per_reading_and_resumes_from_inside_the_batch(
    nurse_client: httpx.AsyncClient, client: httpx.AsyncClient
) -> None:
    """A batch is stored as one outbox row; the stream still sends every reading as its own
    event with its own increasing id, and Last-Event-ID may point between two of them."""
    session = await checked_in_session(client)
    sid = session["id"]
    before = await post_vitals(client, sid, [vital("heart_rate", 60, "/min", ago(3))])
    assert before.status_code == 201
    batch = [vital("heart_rate", v, "/min", ago(2)) for v in (61, 62, 63, 64)]
    r = await post_vitals(client, sid, batch)
    assert r.status_code == 201
    after = await post_vitals(client, sid, [vital("heart_rate", 65, "/min", ago(1))])
    assert after.status_code == 201

    async def replay(last_id: str) -> list[dict[str, Any]]:
        response = await nurse_client.get(
            f"/v1/sessions/{sid}/events",
            params={"max_seconds": 0},
            headers={"Last-Event-ID": last_id},
        )
        assert response.status_code == 200, response.text
        return [e async for e in sse_events(response) if e.get("event") == "reading"]

    everything = await replay("0")
    assert [orjson.loads(e["data"]) for e in everything] == (
        before.json()["items"] + r.json()["items"] + after.json()["items"]
    )
    ids = [int(e["id"]) for e in everything]
    assert ids == sorted(set(ids))  # distinct and increasing
    for cut in range(len(ids)):  # resume after any event, inside the batch too
        resumed = await replay(str(ids[cut]))
        assert [int(e["id"]) for e in resumed] == ids[cut + 1 :]
    # a new stream without Last-Event-ID starts after everything that is there
    fresh = await nurse_client.get(f"/v1/sessions/{sid}/events", params={"max_seconds": 0})
    assert [e async for e in sse_events(fresh) if e.get("event") == "reading"] == []


async def test_a_full_batch_answers_with_the_json_of_its_live_event(
    app: FastAPI, backend: Backend, nurse_client: httpx.AsyncClient, client: httpx.AsyncClient
) -> None:
    """A batch of new readings is serialized once: its live event and its answer are the same
    readings, as GET lists them. On PostgreSQL the event's payload (about 50 kB) is stored
    lz4-compressed (migration 0006)."""
    session = await checked_in_session(client)
    sid = session["id"]
    batch = [vital("heart_rate", 50 + i % 40, "/min", ago(1 + i / 100)) for i in range(100)]
    r = await post_vitals(client, sid, batch)
    assert r.status_code == 201, r.text
    listed = await client.get(f"/v1/sessions/{sid}/vitals", params={"limit": 200})
    answered = r.json()["items"]
    assert sorted(answered, key=lambda o: o["id"]) == sorted(
        listed.json()["items"], key=lambda o: o["id"]
    )
    assert [o["value"] for o in answered] == [float(b["value"]) for b in batch]  # request order
    events = await nurse_client.get(
        f"/v1/sessions/{sid}/events", params={"max_seconds": 0}, headers={"Last-Event-ID": "0"}
    )
    streamed = [
        orjson.loads(e["data"]) async for e in sse_events(events) if e["event"] == "reading"
    ]
    assert streamed == answered
    if backend.is_postgres:
        from sqlalchemy import text

        async with app.state.engine.connect() as db:
            method = await db.scalar(
                text(
                    "SELECT pg_column_compression(payload) FROM live_events "
                    "WHERE session_id = CAST(:sid AS uuid) AND kind = 'reading'"
                ),
                {"sid": sid},
            )
        assert method == "lz4"


@pytest.mark.slow
async def test_a_reading_posted_to_one_process_reaches_a_stream_on_another(
    backend: Backend, staff: Staff, client: httpx.AsyncClient
) -> None:
    """Two real uvicorn processes sharing PostgreSQL: LISTEN/NOTIFY carries the wake-up."""
    if not backend.is_postgres:
        pytest.skip("cross-process fan-out is PostgreSQL's LISTEN/NOTIFY")
    session = await checked_in_session(client)
    sid = session["id"]
    settings = make_settings(backend.url)
    env = {
        **os.environ,
        "DATABASE_URL": backend.url,
        "VIGIL_ENVIRONMENT": "test",
        "VIGIL_SECRET_KEY": settings.secret_key,
        "VIGIL_LOG_LEVEL": "WARNING",
    }
    ports = free_ports(2)
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "uvicorn",
            "api.asgi:app",
            "--port",
            str(port),
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for port in ports
    ]
    try:
        a, b = (f"http://127.0.0.1:{port}" for port in ports)
        async with (
            httpx.AsyncClient(headers=auth(staff), timeout=30) as http,
        ):
            deadline = time.monotonic() + 30
            for base in (a, b):
                while True:
                    with contextlib.suppress(httpx.TransportError):
                        if (await http.get(f"{base}/readyz")).status_code == 200:
                            break
                    assert time.monotonic() < deadline, "servers did not start"
                    await asyncio.sleep(0.2)
            async with http.stream("GET", f"{b}/v1/sessions/{sid}/events") as response:
                events = sse_events(response)
                assert (await asyncio.wait_for(anext(events), 10))["event"] == "heartbeat"
                # the stream answers only once process B listens (ensure_listener)
                started = time.monotonic()
                r = await http.post(
                    f"{a}/v1/sessions/{sid}/vitals",
                    json={"observations": [vital("heart_rate", 77, "/min", ago(1))]},
                )
                assert r.status_code == 201, r.text
                reading = await next_event(events, "reading")
                assert orjson.loads(reading["data"]) == r.json()["items"][0]
                # well under the 5 s safety-net poll: the NOTIFY woke the stream
                assert time.monotonic() - started < 3
            # reconnect to the other process and resume after that event
            r = await http.post(
                f"{b}/v1/sessions/{sid}/vitals",
                json={"observations": [vital("heart_rate", 78, "/min", ago(1))]},
            )
            assert r.status_code == 201
            resumed = await http.get(
                f"{a}/v1/sessions/{sid}/events",
                params={"max_seconds": 0},
                headers={"Last-Event-ID": reading["id"]},
            )
            values = [
                orjson.loads(e["data"])["value"]
                async for e in sse_events(resumed)
                if e.get("event") == "reading"
            ]
            assert values == [78]
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                await asyncio.wait_for(process.wait(), 10)
            except TimeoutError:
                process.kill()
                await process.wait()


async def test_the_listener_reconnects_when_its_connection_is_killed(backend: Backend) -> None:
    """A restarted PostgreSQL or a killed backend drops the LISTEN connection; the listener
    connects again and NOTIFYs wake this process's streams again (not only the 5 s poll)."""
    if not backend.is_postgres:
        pytest.skip("LISTEN/NOTIFY is PostgreSQL's")
    import asyncpg

    from api.live.notifier import NOTIFY_CHANNEL, PgListener, notifier

    dsn = backend.url.replace("postgresql+asyncpg://", "postgresql://", 1)
    admin = await asyncpg.connect(dsn)
    listening = (
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
        "AND query LIKE 'LISTEN%' AND pid <> pg_backend_pid()"
    )
    listener = PgListener(backend.url)
    before = {r["pid"] for r in await admin.fetch(listening)}
    listener.start()
    try:
        await asyncio.wait_for(listener.connected.wait(), 10)
        ours = {r["pid"] for r in await admin.fetch(listening)} - before
        assert len(ours) == 1
        assert await admin.fetchval("SELECT pg_terminate_backend($1)", next(iter(ours)))

        deadline = time.monotonic() + 15
        while not ({r["pid"] for r in await admin.fetch(listening)} - before - ours):
            assert time.monotonic() < deadline, "the listener did not connect again"
            await asyncio.sleep(0.1)
        await asyncio.wait_for(listener.connected.wait(), 10)

        waiter = notifier.subscribe()
        try:
            waiter.clear()  # the reconnect itself wakes every stream once
            await admin.execute(f"NOTIFY {NOTIFY_CHANNEL}")
            await asyncio.wait_for(waiter.wait(), 3)
        finally:
            notifier.unsubscribe(waiter)
    finally:
        await listener.stop()
        await admin.close()
