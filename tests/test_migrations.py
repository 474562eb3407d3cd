"""The schema comes only from Alembic: no drift, reversible, and the app refuses a stale one."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from asgi_lifespan import LifespanManager

import models
from api.db import create_engine
from api.main import create_app
from api.readiness import alembic_config
from tests.conftest import (
    PG_SERVER_URL,
    make_settings,
    migrate,
)
from tests.live import create_database, drop_database

BACKENDS = ["sqlite"] + (["postgresql"] if PG_SERVER_URL else [])


@pytest.fixture(params=BACKENDS)
async def empty_url(request: pytest.FixtureRequest, tmp_path: object) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path}/m.db"
        return
    assert PG_SERVER_URL
    name = f"vigil_mig_{uuid.uuid4().hex[:10]}"
    url = await create_database(PG_SERVER_URL, name)
    yield url
    await drop_database(PG_SERVER_URL, name)


async def _diff(url: str) -> list[object]:
    engine = create_engine(make_settings(url))
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(
                lambda sync: compare_metadata(
                    MigrationContext.configure(sync, opts={"compare_type": True}),
                    models.Base.metadata,
                )
            )
    finally:
        await engine.dispose()


async def test_upgrade_downgrade_upgrade_without_drift(empty_url: str) -> None:
    await asyncio.to_thread(migrate, empty_url)
    assert await _diff(empty_url) == []
    await asyncio.to_thread(migrate, empty_url, "base", down=True)
    engine = create_engine(make_settings(empty_url))
    async with engine.connect() as conn:
        tables = await conn.run_sync(lambda sync: sync.dialect.get_table_names(sync))
    await engine.dispose()
    assert set(tables) <= {"alembic_version"}
    await asyncio.to_thread(migrate, empty_url)
    assert await _diff(empty_url) == []


async def test_alembic_check_is_clean(empty_url: str) -> None:
    await asyncio.to_thread(migrate, empty_url)
    config = alembic_config()
    config.attributes["database_url"] = empty_url
    config.attributes["configure_logger"] = False
    await asyncio.to_thread(command.check, config)


async def test_app_refuses_a_database_not_at_head(empty_url: str) -> None:
    await asyncio.to_thread(migrate, empty_url, "0001")
    app = create_app(make_settings(empty_url))
    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            ready = await c.get("/readyz")
            assert ready.status_code == 503
            assert "alembic upgrade head" in ready.json()["detail"]
            assert (await c.get("/healthz")).status_code == 200
            r = await c.get("/v1/patients")
            assert r.status_code == 503
            assert r.headers["content-type"] == "application/problem+json"
            await asyncio.to_thread(migrate, empty_url)
            assert (await c.get("/readyz")).status_code == 200


async def test_unreachable_database_is_503(tmp_path: object) -> None:
    app = create_app(make_settings("postgresql+asyncpg://postgres@127.0.0.1:1/nowhere"))
    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            r = await c.get("/readyz")
            assert r.status_code == 503
            assert "not reachable" in r.json()["detail"]
            assert (await c.get("/v1/sessions")).status_code == 503


async def test_concurrent_migrate_commands_both_succeed(empty_url: str) -> None:
    """Hosts started together may each run `vigil migrate`: one migrates, the others wait for
    it and then find nothing to do (an advisory lock). A SQLite file has only one host."""
    if not empty_url.startswith("postgresql"):
        pytest.skip("several hosts share only a PostgreSQL database")
    import os
    import sys

    from tests.live import ROOT

    env = {**os.environ, "DATABASE_URL": empty_url}
    env.pop("VIGIL_DATABASE_URL", None)
    runs = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "api.cli",
            "migrate",
            cwd=ROOT,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        for _ in range(3)
    ]
    outputs = await asyncio.gather(*(run.communicate() for run in runs))
    assert [run.returncode for run in runs] == [0, 0, 0], [o[0].decode()[-800:] for o in outputs]
    assert await _diff(empty_url) == []
