"""`vigil users create` makes a staff user who can then log in."""

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
