"""Fault and scale-out tests run real server processes against PostgreSQL.

Each module marks itself ``slow`` and skips without ``VIGIL_TEST_DATABASE_URL``."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest

from tests.conftest import PG_SERVER_URL
from tests.live import create_database, drop_database, migrate

NEEDS_POSTGRES = pytest.mark.skipif(
    not PG_SERVER_URL, reason="needs PostgreSQL (VIGIL_TEST_DATABASE_URL)"
)


@pytest.fixture
async def pg_url() -> AsyncIterator[str]:
    """A fresh database on the configured PostgreSQL server, migrated by `vigil migrate`."""
    assert PG_SERVER_URL
    name = f"vigil_fault_{uuid.uuid4().hex[:10]}"
    url = await create_database(PG_SERVER_URL, name)
    try:
        await asyncio.to_thread(migrate, url)
        yield url
    finally:
        await drop_database(PG_SERVER_URL, name)
