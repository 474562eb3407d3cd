"""Test harness: every database test runs on each configured backend.

SQLite always; PostgreSQL too when ``VIGIL_TEST_DATABASE_URL`` is set (a server URL such as
``postgresql+asyncpg://postgres@127.0.0.1:5432/postgres``: a fresh database is created per run).
The schema is built by the real Alembic migrations, never by ``create_all``.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from alembic import command
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from api.config import Settings, get_settings
from api.main import create_app
from api.readiness import alembic_config

PG_SERVER_URL = os.environ.get("VIGIL_TEST_DATABASE_URL")
BACKENDS = ["sqlite"] + (["postgresql"] if PG_SERVER_URL else [])


@dataclass
class Backend:
    name: str
    url: str

    @property
    def is_postgres(self) -> bool:
        return self.name == "postgresql"


async def _create_pg_database(server_url: str, name: str) -> str:
    import asyncpg

    dsn = server_url.replace("postgresql+asyncpg://", "postgresql://")
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    base, _, _ = server_url.rpartition("/")
    return f"{base}/{name}"


async def _drop_pg_database(server_url: str, name: str) -> None:
    import asyncpg

    dsn = server_url.replace("postgresql+asyncpg://", "postgresql://")
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


def migrate(url: str, revision: str = "head", *, down: bool = False) -> None:
    config = alembic_config()
    config.attributes["database_url"] = url
    config.attributes["configure_logger"] = False
    if down:
        command.downgrade(config, revision)
    else:
        command.upgrade(config, revision)


@pytest.fixture(scope="session", params=BACKENDS)
async def backend(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Backend]:
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("db") / "vigil.db"
        url = f"sqlite+aiosqlite:///{path}"
        await asyncio.to_thread(migrate, url)
        yield Backend("sqlite", url)
        return
    assert PG_SERVER_URL
    name = f"vigil_test_{uuid.uuid4().hex[:10]}"
    url = await _create_pg_database(PG_SERVER_URL, name)
    await asyncio.to_thread(migrate, url)
    yield Backend("postgresql", url)
    await _drop_pg_database(PG_SERVER_URL, name)


def make_settings(url: str, **overrides: Any) -> Settings:
    return Settings(
        database_url=url,
        environment="test",
        secret_key="test-secret-key-that-is-long-enough-0123456789",
        log_level="WARNING",
        **overrides,
    )


@pytest.fixture(scope="session")
async def app(backend: Backend) -> AsyncIterator[FastAPI]:
    application = create_app(make_settings(backend.url))
    async with LifespanManager(application):
        yield application


@pytest.fixture(scope="session")
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://vigil.test") as c:
        yield c


@pytest.fixture(autouse=True)
def _settings_cache() -> Iterator[None]:
    yield
    get_settings.cache_clear()
