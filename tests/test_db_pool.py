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
