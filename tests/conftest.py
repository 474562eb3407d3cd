"""Test harness: every database test runs on each configured backend.

SQLite always; PostgreSQL too when ``VIGIL_TEST_DATABASE_URL`` is set (a server URL such as
``postgresql+asyncpg://postgres@127.0.0.1:5432/postgres``: a fresh database is created per run).
The schema is built by the real Alembic migrations, never by ``create_all``.

On PostgreSQL the migrations run as the server URL's role (the owner) and everything else (the
app under test) as a restricted application role made for the run with ``vigil db
grant-app-role``'s grants, as in production: it may only INSERT and SELECT audit rows.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
import pytest
from alembic import command
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

from api.config import Settings, get_settings
from api.main import create_app
from api.readiness import alembic_config
from api.security import passwords
from tests.factories import fixed_instant
from tests.live import create_database, drop_database

PG_SERVER_URL = os.environ.get("VIGIL_TEST_DATABASE_URL")
BACKENDS = ["sqlite"] + (["postgresql"] if PG_SERVER_URL else [])


@dataclass
class Backend:
    name: str
    url: str  # what the app connects with (on PostgreSQL the restricted application role)
    owner_url: str = ""  # the role that owns the schema and runs migrations

    def __post_init__(self) -> None:
        self.owner_url = self.owner_url or self.url

    @property
    def is_postgres(self) -> bool:
        return self.name == "postgresql"


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
    url = await create_database(PG_SERVER_URL, name)
    await asyncio.to_thread(migrate, url)
    role = f"{name}_app"
    app_url = await create_app_role(url, role)
    yield Backend("postgresql", app_url, owner_url=url)
    await drop_database(PG_SERVER_URL, name)
    await drop_role(PG_SERVER_URL, role)


async def create_app_role(owner_url: str, role: str) -> str:
    """``vigil db grant-app-role`` for ``role`` on the database of ``owner_url``; the URL the
    app connects with as that role (the test server trusts local connections)."""
    from sqlalchemy.engine import make_url

    from api.db import create_engine
    from api.db_roles import grant_app_role

    engine = create_engine(make_settings(owner_url))
    try:
        async with engine.begin() as conn:
            await grant_app_role(conn, role)
    finally:
        await engine.dispose()
    return make_url(owner_url).set(username=role, password=None).render_as_string(False)


async def drop_role(server_url: str, role: str) -> None:
    import asyncpg

    from tests.live import asyncpg_dsn

    conn = await asyncpg.connect(asyncpg_dsn(server_url))
    try:
        await conn.execute(f'DROP ROLE IF EXISTS "{role}"')
    finally:
        await conn.close()


# Argon2id at a small cost for the apps the tests run in this process: the recommended one
# (64 MiB, 3 passes) takes about 0.3 s a hash or check on these shared cores, and the suite logs
# in and creates staff hundreds of times. Same algorithm, same code paths, same answers; the
# servers the live tests start (tests/live.py) keep the production cost.
_TEST_HASHER = PasswordHash((Argon2Hasher(time_cost=1, memory_cost=1024, parallelism=1),))


@pytest.fixture(scope="session", autouse=True)
def _cheap_password_hashing() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(passwords, "_hasher", lambda: _TEST_HASHER)
        passwords._dummy_hash.cache_clear()
        yield
    passwords._dummy_hash.cache_clear()


ADMIN_PASSWORD = "admin-password-for-tests"
STAFF_PASSWORD = "staff-password-for-tests"


def make_settings(url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": url,
        "environment": "test",
        "secret_key": "test-secret-key-that-is-long-enough-0123456789",
        "bootstrap_admin_password": ADMIN_PASSWORD,
        "log_level": "WARNING",
        # the vitals_overdue scan would raise alerts in tests' back-dated sessions at random
        # moments; tests that need it run it themselves (tests/api/test_vitals_overdue.py)
        "vitals_scan_seconds": 0,
        **overrides,
    }
    return Settings(**values)


@pytest.fixture(scope="session")
async def app(backend: Backend) -> AsyncIterator[FastAPI]:
    application = create_app(make_settings(backend.url))
    async with LifespanManager(application):
        yield application


@dataclass
class Staff:
    """The people (and one integration client) every test can act as."""

    tokens: dict[str, str]
    ids: dict[str, str]
    api_key: str
    integration_client_id: str


def _client(app: FastAPI, token: str | None = None) -> httpx.AsyncClient:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://vigil.test", headers=headers
    )


async def login(client: httpx.AsyncClient, username: str, password: str) -> httpx.Response:
    return await client.post(
        "/v1/auth/token",
        data={"grant_type": "password", "username": username, "password": password},
    )


async def create_staff(
    admin: httpx.AsyncClient, role: str, username: str | None = None
) -> tuple[str, str]:
    """Create a user with ``role`` through the API; returns (id, token)."""
    username = username or f"{role}-{uuid.uuid4().hex[:8]}"
    r = await admin.post(
        "/v1/users",
        json={
            "username": username,
            "password": STAFF_PASSWORD,
            "role": role,
            "display_name": username,
        },
    )
    assert r.status_code == 201, r.text
    token = (await login(admin, username, STAFF_PASSWORD)).json()["access_token"]
    return r.json()["id"], token


@pytest.fixture(scope="session")
async def staff(app: FastAPI) -> AsyncIterator[Staff]:
    async with _client(app) as anon:
        r = await login(anon, "admin", ADMIN_PASSWORD)
        assert r.status_code == 200, r.text
        admin_token = r.json()["access_token"]
    async with _client(app, admin_token) as admin:
        me = (await admin.get("/v1/users/me")).json()
        ids, tokens = {"admin": me["id"]}, {"admin": admin_token}
        for role in ("clinician", "nurse", "nurse2", "clinician2"):
            ids[role], tokens[role] = await create_staff(admin, role.rstrip("2"))
        r = await admin.post("/v1/integration-clients", json={"name": "test gateway"})
        assert r.status_code == 201, r.text
        yield Staff(
            tokens=tokens,
            ids=ids,
            api_key=r.json()["api_key"],
            integration_client_id=r.json()["id"],
        )


@pytest.fixture(scope="session")
async def client(app: FastAPI, staff: Staff) -> AsyncIterator[httpx.AsyncClient]:
    """A clinician: may do everything clinical."""
    async with _client(app, staff.tokens["clinician"]) as c:
        yield c


@pytest.fixture(scope="session")
async def nurse_client(app: FastAPI, staff: Staff) -> AsyncIterator[httpx.AsyncClient]:
    async with _client(app, staff.tokens["nurse"]) as c:
        yield c


@pytest.fixture(scope="session")
async def admin_client(app: FastAPI, staff: Staff) -> AsyncIterator[httpx.AsyncClient]:
    async with _client(app, staff.tokens["admin"]) as c:
        yield c


@pytest.fixture(scope="session")
async def integration_client(app: FastAPI, staff: Staff) -> AsyncIterator[httpx.AsyncClient]:
    """An integration client's API key: may push readings and nothing else."""
    async with _client(app, staff.api_key) as c:
        yield c


@pytest.fixture(scope="session")
async def anon_client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with _client(app) as c:
        yield c


@pytest.fixture(autouse=True)
def instant() -> Iterator[datetime]:
    """The test's one reading of the clock: ``tests.factories.now()`` (and ``ago``) return it
    for the whole test, its function-scoped fixtures included (autouse fixtures run first), so
    times a test builds never drift apart on a loaded machine. The server keeps its own clock,
    which runs ahead of this instant by the test's duration: tests keep their times well inside
    its bounds ("not in the future", the 12-hour rule), or fix the server's clock where it is
    injectable (the overdue scanner's ``clock``)."""
    with fixed_instant() as at:
        yield at


@pytest.fixture(autouse=True)
def _settings_cache() -> Iterator[None]:
    yield
    get_settings.cache_clear()
