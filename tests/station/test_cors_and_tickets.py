"""SPEC §13: CORS for browser front-ends, and one-time stream tickets for EventSource."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from sqlalchemy import update

from api.main import create_app
from models import StreamTicket
from tests.conftest import Backend, Staff, make_settings
from tests.factories import create_session, now

ORIGIN = "https://station.clinic.example"


@pytest.fixture(scope="module")
async def cors_app(backend: Backend) -> AsyncIterator[FastAPI]:
    application = create_app(
        make_settings(backend.url, cors_origins=f"{ORIGIN}, https://tablet.clinic.example/")
    )
    async with LifespanManager(application):
        yield application


def _client(app: FastAPI, token: str | None = None) -> httpx.AsyncClient:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://vigil.test", headers=headers
    )


async def test_preflight_from_an_allowed_origin_allows_the_api_headers(cors_app: FastAPI) -> None:
    async with _client(cors_app) as anon:
        r = await anon.options(
            "/v1/sessions",
            headers={
                "Origin": ORIGIN,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization, content-type, if-match",
            },
        )
        assert r.status_code == 200, r.text
        assert r.headers["access-control-allow-origin"] == ORIGIN
        allowed = {h.strip().lower() for h in r.headers["access-control-allow-headers"].split(",")}
        assert {"authorization", "content-type", "if-match", "last-event-id"} <= allowed
        assert "POST" in r.headers["access-control-allow-methods"]
        # the second origin, written with a trailing slash, is allowed too
        r = await anon.options(
            "/v1/events",
            headers={
                "Origin": "https://tablet.clinic.example",
                "Access-Control-Request-Method": "GET",
                "Access-Control-Request-Headers": "last-event-id",
            },
        )
        assert r.status_code == 200
        assert r.headers["access-control-allow-origin"] == "https://tablet.clinic.example"


async def test_preflight_from_another_origin_is_refused(cors_app: FastAPI) -> None:
    async with _client(cors_app) as anon:
        r = await anon.options(
            "/v1/sessions",
            headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
        )
        assert r.status_code == 400
        assert "access-control-allow-origin" not in r.headers


async def test_actual_request_exposes_etag_and_location(cors_app: FastAPI, staff: Staff) -> None:
    async with _client(cors_app, staff.tokens["clinician"]) as c:
        session = await create_session(c)
        r = await c.get(f"/v1/sessions/{session['id']}", headers={"Origin": ORIGIN})
        assert r.status_code == 200
        assert r.headers["access-control-allow-origin"] == ORIGIN
        exposed = {h.strip().lower() for h in r.headers["access-control-expose-headers"].split(",")}
        assert {"etag", "location", "retry-after"} <= exposed
        # a refusal is readable by the page too
        async with _client(cors_app) as anon:
            r = await anon.get("/v1/board", headers={"Origin": ORIGIN})
            assert r.status_code == 401
            assert r.headers["access-control-allow-origin"] == ORIGIN
        r = await c.get("/v1/board", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in r.headers


async def test_without_configured_origins_there_is_no_cors(
    anon_client: httpx.AsyncClient, client: httpx.AsyncClient
) -> None:
    r = await anon_client.options(
        "/v1/sessions", headers={"Origin": ORIGIN, "Access-Control-Request-Method": "POST"}
    )
    assert r.status_code == 405
    assert "access-control-allow-origin" not in r.headers
    r = await client.get("/v1/board", headers={"Origin": ORIGIN})
    assert "access-control-allow-origin" not in r.headers


async def _ticket(c: httpx.AsyncClient, path: str) -> str:
    r = await c.post("/v1/events/tickets", json={"path": path})
    assert r.status_code == 200, r.text
    assert r.json()["expires_in"] == 60
    return str(r.json()["ticket"])


async def test_a_ticket_opens_the_stream_once(
    nurse_client: httpx.AsyncClient, anon_client: httpx.AsyncClient
) -> None:
    ticket = await _ticket(nurse_client, "/v1/events")
    params = {"ticket": ticket, "max_seconds": 0}
    r = await anon_client.get("/v1/events", params=params)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/event-stream")
    assert "event: heartbeat" in r.text
    again = await anon_client.get("/v1/events", params=params)
    assert again.status_code == 401
    assert again.headers["content-type"] == "application/problem+json"
    assert "used already" in again.json()["detail"]
    # without a ticket the stream still needs the header
    assert (await anon_client.get("/v1/events", params={"max_seconds": 0})).status_code == 401


async def test_a_ticket_is_bound_to_its_path(
    client: httpx.AsyncClient, anon_client: httpx.AsyncClient
) -> None:
    session = await create_session(client)
    other = await create_session(client)
    path = f"/v1/sessions/{session['id']}/events"
    ticket = await _ticket(client, path)
    for wrong in ("/v1/events", f"/v1/sessions/{other['id']}/events"):
        r = await anon_client.get(wrong, params={"ticket": ticket, "max_seconds": 0})
        assert r.status_code == 401, wrong
    # a ticket is accepted by the stream routes only
    r = await anon_client.get(f"/v1/sessions/{session['id']}", params={"ticket": ticket})
    assert r.status_code == 401
    r = await anon_client.get(path, params={"ticket": ticket, "max_seconds": 0})
    assert r.status_code == 200, r.text


async def test_a_ticket_opens_one_stream_even_when_two_race(
    client: httpx.AsyncClient, anon_client: httpx.AsyncClient
) -> None:
    ticket = await _ticket(client, "/v1/events")
    params = {"ticket": ticket, "max_seconds": 0}
    answers = await asyncio.gather(
        *(anon_client.get("/v1/events", params=params) for _ in range(4))
    )
    assert sorted(r.status_code for r in answers) == [200, 401, 401, 401]


async def test_an_expired_ticket_is_refused(
    app: FastAPI, client: httpx.AsyncClient, anon_client: httpx.AsyncClient
) -> None:
    ticket = await _ticket(client, "/v1/events")
    async with app.state.session_factory() as db:
        await db.execute(
            update(StreamTicket)
            .where(StreamTicket.ticket_hash == hashlib.sha256(ticket.encode()).hexdigest())
            .values(expires_at=now() - timedelta(seconds=1))
        )
        await db.commit()
    r = await anon_client.get("/v1/events", params={"ticket": ticket, "max_seconds": 0})
    assert r.status_code == 401
    assert "expired" in r.json()["detail"]


async def test_who_may_have_a_ticket(
    client: httpx.AsyncClient,
    admin_client: httpx.AsyncClient,
    integration_client: httpx.AsyncClient,
    anon_client: httpx.AsyncClient,
) -> None:
    session = await create_session(client)
    path = f"/v1/sessions/{session['id']}/events"
    # admins and integration clients may not open live streams, so no ticket either
    assert (await admin_client.post("/v1/events/tickets", json={"path": path})).status_code == 403
    r = await integration_client.post("/v1/events/tickets", json={"path": path})
    assert r.status_code == 403
    assert (await anon_client.post("/v1/events/tickets", json={"path": path})).status_code == 401
    missing = "/v1/sessions/00000000-0000-0000-0000-000000000000/events"
    assert (await client.post("/v1/events/tickets", json={"path": missing})).status_code == 404
    r = await client.post("/v1/events/tickets", json={"path": f"/v1/sessions/{session['id']}"})
    assert r.status_code == 404
    r = await client.post("/v1/events/tickets", json={"path": "/v1/events", "extra": 1})
    assert r.status_code == 422


async def test_a_ticket_of_a_disabled_user_is_refused(
    admin_client: httpx.AsyncClient, anon_client: httpx.AsyncClient
) -> None:
    from tests.conftest import create_staff

    user_id, token = await create_staff(admin_client, "nurse")
    async with httpx.AsyncClient(
        transport=anon_client._transport,
        base_url="http://vigil.test",
        headers={"Authorization": f"Bearer {token}"},
    ) as nurse:
        ticket = await _ticket(nurse, "/v1/events")
    assert (await admin_client.post(f"/v1/users/{user_id}/disable")).status_code == 200
    r = await anon_client.get("/v1/events", params={"ticket": ticket, "max_seconds": 0})
    assert r.status_code == 401


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[tuple[str, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append((record.name, record.getMessage()))


async def test_the_ticket_never_reaches_the_log(
    client: httpx.AsyncClient, anon_client: httpx.AsyncClient
) -> None:
    """Every server log line of a stream opened with a ticket (the access log included)."""
    vigil = logging.getLogger("vigil")
    handler, level = _Lines(), vigil.level
    vigil.addHandler(handler)
    vigil.setLevel(logging.DEBUG)
    try:
        ticket = await _ticket(client, "/v1/events")
        r = await anon_client.get("/v1/events", params={"ticket": ticket, "max_seconds": 0})
        assert r.status_code == 200
        assert (await anon_client.get("/v1/events", params={"ticket": ticket})).status_code == 401
    finally:
        vigil.removeHandler(handler)
        vigil.setLevel(level)
    access = [line for name, line in handler.lines if name == "vigil.access"]
    assert (
        sum(line.startswith("GET /v1/events ") for line in access) == 2
    )  # both requests were logged ...
    assert all(ticket not in line for _, line in handler.lines)  # ... their ticket never


async def test_expired_tickets_are_pruned(app: FastAPI, client: httpx.AsyncClient) -> None:
    from sqlalchemy import func, select

    from api.live.tickets import prune_expired_tickets

    old, fresh = await _ticket(client, "/v1/events"), await _ticket(client, "/v1/events")
    hashes = [hashlib.sha256(t.encode()).hexdigest() for t in (old, fresh)]
    async with app.state.session_factory() as db:
        await db.execute(
            update(StreamTicket)
            .where(StreamTicket.ticket_hash == hashes[0])
            .values(expires_at=now() - timedelta(days=2))
        )
        await db.commit()
    assert await prune_expired_tickets(app.state.engine) >= 1
    async with app.state.session_factory() as db:
        left = await db.scalar(
            select(func.count())
            .select_from(StreamTicket)
            .where(StreamTicket.ticket_hash.in_(hashes))
        )
    assert left == 1
