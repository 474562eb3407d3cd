"""A pooled connection that PostgreSQL closed is replaced before a request uses it (api/db.py)."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from api.db import create_engine
from tests.conftest import Backend, make_settings


async def test_a_pooled_connection_the_server_closed_is_replaced_before_use(
    backend: Backend,
) -> None:
    if not backend.is_postgres:
        pytest.skip("SQLite has no server to close a connection")
    engine = create_engine(make_settings(backend.url, db_pool_size=1, db_max_overflow=0))
    try:
        async with engine.connect() as conn:
            first = await conn.scalar(text("SELECT pg_backend_pid()"))
        async with engine.connect() as other:  # the pool's only connection, back again
            await other.execute(text("SELECT 1"))
        killer = create_engine(make_settings(backend.url))
        try:
            async with killer.connect() as conn:
                assert await conn.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
        finally:
            await killer.dispose()
        # Used without the ping, the dead connection fails the statement; pinged at checkout it
        # is replaced, and the statement runs on a new backend.
        async with engine.connect() as conn:
            second = await conn.scalar(text("SELECT pg_backend_pid()"))
        assert second != first
    finally:
        await engine.dispose()


async def test_the_default_pool_keeps_every_connection_it_opened(backend: Backend) -> None:
    # Load hovering above a pool's size must not close and reopen connections: SQLAlchemy closes
    # an overflow connection as soon as it comes back to a full pool, so the default has none,
    # and every connection opened for a burst stays for the next one.
    if not backend.is_postgres:
        pytest.skip("SQLite's pool is not a QueuePool")
    settings = make_settings(backend.url)
    engine = create_engine(settings)
    try:
        burst = settings.db_pool_size + settings.db_max_overflow  # as many as it may open
        stack = [await engine.connect() for _ in range(burst)]
        pids = {await conn.scalar(text("SELECT pg_backend_pid()")) for conn in stack}
        for conn in stack:
            await conn.close()
        assert engine.pool.checkedin() == burst  # type: ignore[attr-defined]
        again = [await engine.connect() for _ in range(burst)]
        assert {await conn.scalar(text("SELECT pg_backend_pid()")) for conn in again} == pids
        for conn in again:
            await conn.close()
    finally:
        await engine.dispose()
