"""A real Vigil server (``vigil serve``, uvicorn on a free loopback port) per backend, for the
browser tests and the live-stream lock test."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import BACKENDS, PG_SERVER_URL
from tests.live import LiveServer, create_database, drop_database, migrate


@dataclass
class Served:
    backend: str
    url: str
    server: LiveServer

    @property
    def base_url(self) -> str:
        return self.server.base_url


@pytest.fixture(scope="module", params=BACKENDS)
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    name = None
    if request.param == "postgresql":
        assert PG_SERVER_URL
        name = f"vigil_station_{uuid.uuid4().hex[:10]}"
        url = asyncio.run(create_database(PG_SERVER_URL, name))
    else:
        url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('station') / 'vigil.db'}"
    try:
        migrate(url)
        server = LiveServer(url, workers=1, log_dir=Path(tmp_path_factory.mktemp("logs")))
        server.start()
        try:
            yield Served(request.param, url, server)
        finally:
            server.stop()
    finally:
        if name is not None:
            assert PG_SERVER_URL
            asyncio.run(drop_database(PG_SERVER_URL, name))
