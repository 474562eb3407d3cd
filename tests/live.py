"""Live Vigil servers and throwaway PostgreSQL instances, for fault, scale-out tests and the bench.

Everything here runs real processes on 127.0.0.1 only: ``vigil serve`` (uvicorn) as a process
group that can be killed with SIGKILL, and PostgreSQL clusters created with ``initdb`` in a
temporary directory (as the ``postgres`` user when running as root) so stopping them can never
hurt the machine's own cluster.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx

from tests.factories import ago, create_session, start_dosing

ROOT = Path(__file__).resolve().parent.parent


def _pg_bin() -> Path:
    """The newest installed PostgreSQL's binaries (Debian layout), or VIGIL_PG_BIN."""
    if os.environ.get("VIGIL_PG_BIN"):
        return Path(os.environ["VIGIL_PG_BIN"])
    versions = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
    )
    return versions[-1] if versions else Path("/usr/lib/postgresql/15/bin")


PG_BIN = _pg_bin()
SECRET_KEY = "live-test-secret-key-shared-by-every-process-0123456789"
ADMIN_PASSWORD = "live-admin-password-0123456789"
STAFF_PASSWORD = "live-staff-password-0123456789"


def free_port() -> int:
    return free_ports(1)[0]


def free_ports(count: int) -> list[int]:
    """``count`` distinct ports free right now (the sockets are held open together)."""
    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [int(s.getsockname()[1]) for s in sockets]


def asyncpg_dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


def database_url(server_url: str, name: str) -> str:
    """``server_url`` with database ``name`` (query options such as ``?host=`` kept)."""
    from sqlalchemy.engine import make_url

    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


async def create_database(server_url: str, name: str) -> str:
    import asyncpg

    conn = await asyncpg.connect(asyncpg_dsn(server_url))
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return database_url(server_url, name)


async def drop_database(server_url: str, name: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(asyncpg_dsn(server_url))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


def migrate(url: str) -> None:
    """``vigil migrate``, exactly as an operator runs it before a rollout."""
    subprocess.run(
        [sys.executable, "-m", "api.cli", "migrate"],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": url},
        check=True,
        capture_output=True,
    )


def server_env(url: str, **extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "VIGIL_SECRET_KEY": SECRET_KEY,
        "VIGIL_BOOTSTRAP_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "VIGIL_LOG_LEVEL": "WARNING",
        # no vitals_overdue scan unless a test asks for it (tests/scaleout/test_vitals_overdue.py)
        "VIGIL_VITALS_SCAN_SECONDS": "0",
    }
    env.pop("VIGIL_DATABASE_URL", None)
    env.update(extra)
    return env


class LiveServer:
    """``python -m api.cli serve`` on a free port, in its own process group."""

    def __init__(
        self,
        url: str,
        *,
        workers: int = 1,
        port: int | None = None,
        env: Mapping[str, str] | None = None,
        log_dir: Path | None = None,
    ) -> None:
        self.url = url
        self.workers = workers
        self.port = port or free_port()
        self.env = server_env(url, **(env or {}))
        self.log_path = (log_dir or Path(tempfile.gettempdir())) / f"vigil-live-{self.port}.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, *, timeout: float = 30.0) -> LiveServer:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "api.cli",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--workers",
                str(self.workers),
            ],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {self.log_tail()}")
            try:
                if httpx.get(f"{self.base_url}/readyz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise TimeoutError(f"server not ready in {timeout}s: {self.log_tail()}")

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def kill(self) -> None:
        """SIGKILL the whole process group: no shutdown, no flush, like a power cut."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)
        self.process = None

    def stop(self) -> None:
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.kill()
        self.process = None

    def __enter__(self) -> LiveServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _as_postgres_user() -> list[str]:
    return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


def throwaway_postgres_available() -> bool:
    if not (PG_BIN / "initdb").exists():
        return False
    return os.geteuid() != 0 or shutil.which("runuser") is not None


class ThrowawayPostgres:
    """A private PostgreSQL cluster in a temp dir on a free port; stopping it hurts nothing."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="vigil-pg-"))
        self.port = free_port()
        self.data = self.dir / "data"
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres")

    @property
    def server_url(self) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"

    def _pg_ctl(self, *args: str) -> None:
        subprocess.run(
            [*_as_postgres_user(), str(PG_BIN / "pg_ctl"), "-D", str(self.data), *args],
            check=True,
            capture_output=True,
        )

    def init(self) -> ThrowawayPostgres:
        subprocess.run(
            [
                *_as_postgres_user(),
                str(PG_BIN / "initdb"),
                "-D",
                str(self.data),
                "-A",
                "trust",
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--no-sync",
            ],
            check=True,
            capture_output=True,
        )
        return self

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c max_connections=60"
        )
        self._pg_ctl("-o", options, "-l", str(self.dir / "log"), "-w", "-t", "30", "start")

    def stop(self, mode: str = "fast") -> None:
        self._pg_ctl("-m", mode, "-w", "-t", "30", "stop")

    def destroy(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self.stop("immediate")
        shutil.rmtree(self.dir, ignore_errors=True)


# --- acting as a client ------------------------------------------------------------------------


async def staff_headers(
    client: httpx.AsyncClient, role: str = "clinician", *, admin_password: str = ADMIN_PASSWORD
) -> dict[str, str]:
    """Bearer headers for a staff user of ``role`` when the server has staff login; else none.

    The user is created by the bootstrap admin (``VIGIL_BOOTSTRAP_ADMIN_PASSWORD``)."""
    probe = await client.post("/v1/auth/token", data={})
    if probe.status_code == 404:
        return {}  # no staff login in this build: requests act as the development clinician
    admin = await _token(client, "admin", admin_password)
    username = f"{role}-{uuid.uuid4().hex[:8]}"
    r = await client.post(
        "/v1/users",
        json={
            "username": username,
            "password": STAFF_PASSWORD,
            "role": role,
            "display_name": f"Live {role}",
        },
        headers={"Authorization": f"Bearer {admin}"},
    )
    r.raise_for_status()
    return {"Authorization": f"Bearer {await _token(client, username, STAFF_PASSWORD)}"}


async def _token(client: httpx.AsyncClient, username: str, password: str) -> str:
    r = await client.post(
        "/v1/auth/token",
        data={"grant_type": "password", "username": username, "password": password},
    )
    r.raise_for_status()
    return str(r.json()["access_token"])


async def wait_until(predicate: Any, seconds: float, interval: float = 0.1) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if await predicate():
            return True
        await asyncio.sleep(interval)
    return False


async def dosing_session(client: httpx.AsyncClient, *, minutes_ago: float = 60) -> dict[str, Any]:
    """A session checked in, pre-dose vitals recorded, dosing since ``minutes_ago``.

    ``client`` carries a clinician's credentials (plans are a clinician's to write)."""
    session = await create_session(client)
    return await start_dosing(client, session["id"], ago(minutes_ago))
