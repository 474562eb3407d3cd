"""`vigil users create` makes a staff user who can then log in; `vigil events prune` trims
the live-event outbox and nothing else."""

from __future__ import annotations

import asyncio
import io

import httpx
import pytest
from asgi_lifespan import LifespanManager

from api.cli import main
from api.config import get_settings
from api.main import create_app
from tests.conftest import login, make_settings, migrate


def test_users_create_from_stdin_then_login(
    tmp_path: object, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/cli.db"
    migrate(url)
    monkeypatch.setenv("DATABASE_URL", url)
    get_settings.cache_clear()
    monkeypatch.setattr("sys.stdin", io.StringIO("a-long-cli-password\n"))
    assert main(["users", "create", "--username", "nurse.cli", "--role", "nurse"]) == 0
    assert "created nurse nurse.cli" in capsys.readouterr().out
    monkeypatch.setattr("sys.stdin", io.StringIO("a-long-cli-password\n"))
    assert main(["users", "create", "--username", "nurse.cli", "--role", "nurse"]) == 1
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert main(["users", "create", "--username", "other", "--role", "nurse"]) == 2

    async def can_log_in() -> int:
        app = create_app(make_settings(url, bootstrap_admin_password=None))
        async with LifespanManager(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
                return (await login(c, "nurse.cli", "a-long-cli-password")).status_code

    assert asyncio.run(can_log_in()) == 200


def test_events_prune_removes_only_old_live_events(
    tmp_path: object, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from datetime import timedelta

    from sqlalchemy import insert, select

    from api.db import create_engine
    from models import LiveEvent
    from models.base import utcnow

    url = f"sqlite+aiosqlite:///{tmp_path}/prune.db"
    migrate(url)
    monkeypatch.setenv("DATABASE_URL", url)
    get_settings.cache_clear()

    at = utcnow()  # one reading of the clock for the three ages

    async def seed_and_count(seed: bool) -> list[int]:
        engine = create_engine(get_settings())
        try:
            async with engine.begin() as conn:
                if seed:
                    await conn.execute(
                        insert(LiveEvent),
                        [
                            {"kind": "status", "payload": {}, "created_at": at - age}
                            for age in (timedelta(days=30), timedelta(days=8), timedelta(hours=1))
                        ],
                    )
                ids = (await conn.execute(select(LiveEvent.id).order_by(LiveEvent.id))).scalars()
                return list(ids)
        finally:
            await engine.dispose()

    before = asyncio.run(seed_and_count(True))
    assert main(["events", "prune", "--older-than-days", "7"]) == 0
    assert "removed 2 live events" in capsys.readouterr().out
    assert asyncio.run(seed_and_count(False)) == before[-1:]
    assert main(["events", "prune", "--older-than-days", "0"]) == 2
