"""HTTP hygiene (SPEC §1 "Headers", §9): no-store and nosniff on the API, no Server banner,
401 before the body, ``Connection: close`` after a 500, X-Forwarded-* only from trusted
proxies, request ids in one shape, control characters escaped in log lines."""

from __future__ import annotations

import io
import logging
import re
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from sqlalchemy import select

from api.logging import EscapingFormatter
from api.main import create_app
from api.serve import SERVER_OPTIONS
from models import AuditEvent
from tests.conftest import Backend, make_settings, migrate
from tests.live import LiveServer


@pytest.mark.parametrize(
    "path", ["/v1/patients", "/v1/users/me", "/v1/no-such-thing", "/fhir/R4/Observation"]
)
async def test_api_responses_are_no_store_and_nosniff(
    client: httpx.AsyncClient, anon_client: httpx.AsyncClient, path: str
) -> None:
    for c in (client, anon_client):
        r = await c.get(path)
        assert r.headers["cache-control"] == "no-store", (path, r.status_code)
        assert r.headers["x-content-type-options"] == "nosniff"
        assert "server" not in r.headers


def test_uvicorn_runs_without_banner_or_its_own_proxy_headers() -> None:
    assert SERVER_OPTIONS["server_header"] is False
    assert SERVER_OPTIONS["proxy_headers"] is False


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (b"{not json", "application/json"),
        (b"plain words", "text/plain"),
        (b"{}", "application/json"),
        (b"", "application/json"),
    ],
)
async def test_no_credentials_is_401_before_the_body(
    app: FastAPI, anon_client: httpx.AsyncClient, content: bytes, content_type: str
) -> None:
    request_id = "anon-body-" + str(abs(hash(content)))[:10]
    r = await anon_client.post(
        "/v1/patients",
        content=content,
        headers={"content-type": content_type, "x-request-id": request_id},
    )
    assert r.status_code == 401, r.text
    assert r.headers["www-authenticate"] == "Bearer"
    rows = await _audit(app, request_id)
    assert [(row.resource_type, row.outcome) for row in rows] == [
        ("/v1/patients", "unauthenticated")
    ]
    q = await anon_client.get("/v1/patients", params={"q": "a\x00b", "limit": "zero"})
    assert q.status_code == 401


async def _audit(app: FastAPI, request_id: str) -> list[AuditEvent]:
    async with app.state.session_factory() as db:
        return list(
            (await db.scalars(select(AuditEvent).where(AuditEvent.request_id == request_id))).all()
        )


async def test_a_500_closes_the_connection(backend: Backend) -> None:
    app = create_app(make_settings(backend.url))

    async def boom() -> None:
        raise RuntimeError("a bug")

    app.add_api_route("/v1/boom", boom)
    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            r = await c.get("/v1/boom")
    assert r.status_code == 500
    assert r.headers["connection"] == "close"
    assert r.headers["cache-control"] == "no-store"
    assert r.headers["content-type"] == "application/problem+json"


@pytest.fixture
async def proxied_app(backend: Backend) -> AsyncIterator[FastAPI]:
    app = create_app(make_settings(backend.url, trusted_proxies="10.0.0.0/8, 192.0.2.1"))
    async with LifespanManager(app):
        yield app


async def _address_seen(app: FastAPI, peer: str, forwarded_for: str | None) -> str | None:
    transport = httpx.ASGITransport(app=app, client=(peer, 5555))
    request_id = f"xff-{abs(hash((peer, forwarded_for)))}"[:40]
    headers = {"x-request-id": request_id}
    if forwarded_for is not None:
        headers["x-forwarded-for"] = forwarded_for
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        assert (await c.get("/v1/patients", headers=headers)).status_code == 401
    rows = await _audit(app, request_id)
    assert len(rows) == 1
    return rows[0].client_address


async def test_forwarded_for_only_from_trusted_proxies(proxied_app: FastAPI, app: FastAPI) -> None:
    assert await _address_seen(proxied_app, "10.1.1.1", "203.0.113.7") == "203.0.113.7"
    # the rightmost address that is not a trusted proxy; what a client wrote before it is not
    assert (
        await _address_seen(proxied_app, "10.1.1.1", "198.51.100.1, 203.0.113.8, 10.2.2.2")
        == "203.0.113.8"
    )
    assert await _address_seen(proxied_app, "192.0.2.1", "not-an-address") == "192.0.2.1"
    assert await _address_seen(proxied_app, "198.51.100.9", "203.0.113.7") == "198.51.100.9"
    # by default nobody is trusted, a local peer neither
    assert await _address_seen(app, "127.0.0.1", "203.0.113.7") == "127.0.0.1"


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ("abc-123_X.y", True),
        ("a" * 64, True),
        ("a" * 65, False),
        ("has space", False),
        ("inject\u2028line", False),
        ("semi;colon", False),
    ],
)
async def test_request_ids_are_kept_only_in_their_shape(
    anon_client: httpx.AsyncClient, sent: str, kept: bool
) -> None:
    r = await anon_client.get("/healthz", headers={"x-request-id": sent.encode("utf-8")})
    got = r.headers["x-request-id"]
    if kept:
        assert got == sent
    else:
        assert re.fullmatch(r"[0-9a-f]{32}", got)


def test_the_log_format_escapes_control_characters() -> None:
    formatter = EscapingFormatter("%(message)s")
    record = logging.LogRecord(
        "vigil.access", logging.INFO, __file__, 1, "%s %s", ("GET", "/v1/x\r\nFORGED 200"), None
    )
    assert formatter.format(record) == "GET /v1/x\\r\\nFORGED 200"


def _raw_get(port: int, target: str) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(f"GET {target} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    return data


def test_a_real_server_sends_no_banner_and_logs_no_forged_lines(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'vigil.db'}"
    migrate(url)
    with LiveServer(url, env={"VIGIL_LOG_LEVEL": "INFO"}, log_dir=tmp_path) as server:
        answer = _raw_get(server.port, "/v1/patients%0d%0aFORGED%20line")
        head = answer.split(b"\r\n\r\n", 1)[0].lower()
        assert b"\r\nserver:" not in head
        assert b"cache-control: no-store" in head
        assert _raw_get(server.port, "/healthz").startswith(b"HTTP/1.1 200")
    log = server.log_path.read_text()
    assert "/v1/patients\\r\\nFORGED line" in log
    assert not any(line.startswith("FORGED") for line in log.splitlines())


def test_log_lines_stay_one_line_through_the_app(app: FastAPI) -> None:
    handler = logging.getLogger("vigil").handlers[0]
    assert isinstance(handler.formatter, EscapingFormatter)
    assert isinstance(handler, logging.StreamHandler)
    stream = io.StringIO()
    old = handler.setStream(stream)
    try:
        logging.getLogger("vigil.test").warning("path %s", "/a\nB")
    finally:
        handler.setStream(old)
    assert stream.getvalue().count("\n") == 1


def test_a_bad_trusted_proxy_entry_stops_start_up() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="not an IP address or network"):
        make_settings("sqlite+aiosqlite:///:memory:", trusted_proxies="10.0.0.1, proxy.local")
