"""Live streams end when their credentials stop being valid, checked at every heartbeat, and
every event they send is an event with JSON data (no comment lines).

Heartbeats come every few hundredths of a second here (``VIGIL_LIVE_HEARTBEAT_SECONDS``); the
tests wait for what they expect with a deadline, never for a fixed time.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest
from fastapi import FastAPI
from sse_starlette.sse import EventSourceResponse
from starlette.requests import Request

from api.deps import Actor
from api.security.actor import still_valid_check
from tests.conftest import STAFF_PASSWORD, create_staff, login
from tests.integrations.helpers import sse_events
from tests.integrations.test_live import serve_in_process

HEARTBEAT = 0.05
DEADLINE = 20.0


@pytest.fixture
def quick_heartbeats(app: FastAPI, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(app.state.settings, "live_heartbeat_seconds", HEARTBEAT)


async def until_the_stream_ends(events: AsyncIterator[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every event until the server ends the stream (fails after DEADLINE seconds)."""

    async def collect() -> list[dict[str, Any]]:
        return [event async for event in events]

    return await asyncio.wait_for(collect(), DEADLINE)


async def heartbeats(events: AsyncIterator[dict[str, Any]], count: int) -> None:
    async def wait() -> None:
        seen = 0
        async for event in events:
            seen += event["event"] == "heartbeat"
            if seen >= count:
                return
        raise AssertionError("the stream ended early")

    await asyncio.wait_for(wait(), DEADLINE)


@pytest.mark.usefixtures("quick_heartbeats")
async def test_a_stream_ends_when_its_user_is_disabled(
    app: FastAPI, admin_client: httpx.AsyncClient
) -> None:
    user_id, token = await create_staff(admin_client, "nurse")
    async with (
        serve_in_process(app) as base,
        httpx.AsyncClient(base_url=base, timeout=30) as http,
        http.stream("GET", "/v1/events", headers={"Authorization": f"Bearer {token}"}) as r,
    ):
        assert r.status_code == 200
        events = sse_events(r)
        await heartbeats(events, 3)  # a stream that keeps going while the user is enabled
        disabled = await admin_client.post(f"/v1/users/{user_id}/disable", json={})
        assert disabled.status_code == 200, disabled.text
        rest = await until_the_stream_ends(events)
    assert all(isinstance(orjson.loads(e["data"]), dict) for e in rest)


@pytest.mark.usefixtures("quick_heartbeats")
async def test_a_stream_ends_when_its_token_expires(
    app: FastAPI, admin_client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    username = f"nurse-expiring-{uuid.uuid4().hex[:8]}"
    await create_staff(admin_client, "nurse", username)
    # Tokens issued now live four seconds (the stream must open within that time).
    monkeypatch.setattr(app.state.settings, "token_ttl_minutes", 4 / 60)
    token = (await login(admin_client, username, STAFF_PASSWORD)).json()["access_token"]
    async with (
        serve_in_process(app) as base,
        httpx.AsyncClient(base_url=base, timeout=30) as http,
        http.stream("GET", "/v1/events", headers={"Authorization": f"Bearer {token}"}) as r,
    ):
        assert r.status_code == 200
        events = sse_events(r)
        rest = await until_the_stream_ends(events)
    assert rest
    assert rest[0]["event"] == "heartbeat"
    after = await admin_client.get("/v1/users/me", headers={"Authorization": f"Bearer {token}"})
    assert after.status_code == 401  # it ended because the token had


async def test_every_event_is_data_and_no_comment_lines(
    app: FastAPI, nurse_client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """sse-starlette's keep-alive pings are comment lines (``: ping``), which browsers and
    SSE libraries see as empty messages: the heartbeat event is the keep-alive instead."""
    monkeypatch.setattr(app.state.settings, "live_heartbeat_seconds", 0.2)
    monkeypatch.setattr(EventSourceResponse, "DEFAULT_PING_INTERVAL", 0.01)
    lines: list[str] = []
    async with (
        serve_in_process(app) as base,
        httpx.AsyncClient(base_url=base, headers=nurse_client.headers, timeout=30) as http,
        http.stream("GET", "/v1/events") as r,
    ):

        async def read() -> None:
            seen = 0
            async for line in r.aiter_lines():
                lines.append(line)
                seen += line.startswith("data:")
                if seen >= 3:
                    return

        await asyncio.wait_for(read(), DEADLINE)
    assert not [line for line in lines if line.startswith(":")]
    data = [line.removeprefix("data: ") for line in lines if line.startswith("data:")]
    assert len(data) >= 3
    assert all(isinstance(orjson.loads(d), dict) for d in data)


def _request(app: FastAPI, token: str) -> Request:
    return Request(
        {
            "type": "http",
            "app": app,
            "method": "GET",
            "path": "/v1/events",
            "headers": [(b"authorization", f"Bearer {token}".encode())],
            "query_string": b"",
            "client": ("127.0.0.1", 1),
            "state": {},
        }
    )


async def test_the_check_sees_a_revoked_integration_key(
    app: FastAPI, admin_client: httpx.AsyncClient
) -> None:
    """The integration role opens no stream (403), but the one check a stream runs also
    knows revoked keys, for any long-lived response an integration client may get."""
    created = await admin_client.post("/v1/integration-clients", json={"name": "short-lived"})
    assert created.status_code == 201
    still_valid = still_valid_check(_request(app, created.json()["api_key"]))
    assert await still_valid()
    revoked = await admin_client.post(f"/v1/integration-clients/{created.json()['id']}/revoke")
    assert revoked.status_code == 200
    assert not await still_valid()


async def test_the_check_sees_a_disabled_user_and_a_tampered_token(
    app: FastAPI, admin_client: httpx.AsyncClient
) -> None:
    user_id, token = await create_staff(admin_client, "clinician")
    assert await still_valid_check(_request(app, token))()
    assert not await still_valid_check(_request(app, token[:-2] + "xx"))()
    r = await admin_client.post(f"/v1/users/{user_id}/disable", json={})
    assert r.status_code == 200
    assert not await still_valid_check(_request(app, token))()


async def test_without_a_bearer_header_the_check_follows_the_actor(
    app: FastAPI, admin_client: httpx.AsyncClient
) -> None:
    """A stream opened another way (a stream ticket) is checked by whom it acts as."""
    user_id, _ = await create_staff(admin_client, "nurse")
    request = _request(app, "")
    request.scope["headers"] = []
    request.state.actor = Actor(id=user_id, role="nurse", kind="user", name="n")
    still_valid = still_valid_check(request)
    assert await still_valid()
    r = await admin_client.post(f"/v1/users/{user_id}/disable", json={})
    assert r.status_code == 200
    assert not await still_valid()
    nobody = _request(app, "")
    nobody.scope["headers"] = []
    assert not await still_valid_check(nobody)()


def test_the_heartbeat_interval_is_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    from api.config import Settings

    monkeypatch.setenv("VIGIL_LIVE_HEARTBEAT_SECONDS", "2.5")
    assert Settings().live_heartbeat_seconds == 2.5
    monkeypatch.setenv("VIGIL_LIVE_HEARTBEAT_SECONDS", "0")
    with pytest.raises(ValueError):
        Settings()
