"""Start-up's bootstrap-admin step does not fail start-up when the database has just gone away
(a failed start-up makes `vigil serve` stop every worker)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from api.main import create_app
from api.security.bootstrap import bootstrap_admin
from tests.conftest import make_settings, migrate
from tests.live import free_port


async def test_a_database_gone_after_the_readiness_check_does_not_fail_start_up() -> None:
    # Nothing listens on this port: every connection is refused.
    app = create_app(make_settings(f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/x"))
    app.state.readiness.ready = True  # as if PostgreSQL answered the check just before
    await bootstrap_admin(app)  # logs a warning, does not raise
    await app.state.engine.dispose()


async def test_other_errors_still_fail_start_up(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/vigil.db"
    await asyncio.to_thread(migrate, url)
    app = create_app(make_settings(url, bootstrap_admin_password="short"))
    app.state.readiness.ready = True
    with pytest.raises(RuntimeError, match="VIGIL_BOOTSTRAP_ADMIN_PASSWORD"):
        await bootstrap_admin(app)
    await app.state.engine.dispose()
