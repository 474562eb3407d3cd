"""``vigil serve --workers N``: connections spread over the workers, a dead or stuck worker is
replaced, SIGTERM stops everything, workers stop when their supervisor is killed, a port in use
is refused (api/serve.py). Runs on each
backend."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from api.serve import STARTUP_SECONDS, Supervisor, Worker
from tests.conftest import BACKENDS
from tests.faults.conftest import pg_url  # noqa: F401  (fixture)
from tests.live import ROOT, LiveServer, migrate, server_env

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="SO_REUSEPORT spreading"),
]


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated database the server processes share."""
    if request.param == "postgresql":
        return str(request.getfixturevalue("pg_url"))
    url = f"sqlite+aiosqlite:///{tmp_path / 'vigil.db'}"
    migrate(url)
    return url


def workers_of(supervisor_pid: int) -> list[int]:
    """The supervisor's worker processes (not multiprocessing's resource tracker)."""
    children = Path(f"/proc/{supervisor_pid}/task/{supervisor_pid}/children").read_text().split()
    workers = []
    for pid in children:
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except FileNotFoundError:
            continue
        if b"spawn_main" in cmdline:
            workers.append(int(pid))
    return workers


ESTABLISHED, LISTEN = "01", "0A"  # /proc/net/tcp states


def server_sockets(pid: int, port: int, state: str = ESTABLISHED) -> int:
    """How many sockets on local ``port`` in ``state`` process ``pid`` holds (from /proc)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    count = 0
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local_port = int(fields[1].split(":")[1], 16)
        if local_port == port and fields[3] == state and fields[9] in inodes:
            count += 1
    return count


def wait_for(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


async def test_connections_opened_together_are_spread_over_the_workers(db_url: str) -> None:
    # uvicorn's shared socket gave every connection of such a burst to one worker in about
    # half the tries; with a socket per worker both get some, try after try.
    with LiveServer(db_url, workers=2) as server:
        assert server.process is not None
        workers = workers_of(server.process.pid)
        assert len(workers) == 2
        # /readyz answered from one worker; the other may still be starting up
        assert wait_for(lambda: all(server_sockets(w, server.port, LISTEN) for w in workers), 30)
        for _ in range(3):
            limits = httpx.Limits(max_connections=16, max_keepalive_connections=16)
            async with httpx.AsyncClient(base_url=server.base_url, limits=limits) as client:
                responses = await asyncio.gather(*(client.get("/healthz") for _ in range(16)))
                assert {r.status_code for r in responses} == {200}
                held = [server_sockets(pid, server.port) for pid in workers]
            # a worker over its share may have let one go already (api.balance)
            assert 14 <= sum(held) <= 16, held
            assert min(held) >= 1, held


class KeepAliveClient:
    """One HTTP/1.1 keep-alive connection that reopens itself when a response closes it, so
    that a test holds exactly as many connections as it has clients."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def get(self, path: str) -> tuple[int, bool]:
        """(status, whether the server closed the connection after it)."""
        if self.streams is None:
            self.streams = await asyncio.open_connection("127.0.0.1", self.port)
        reader, writer = self.streams
        writer.write(f"GET {path} HTTP/1.1\r\nHost: vigil\r\n\r\n".encode())
        head = (await reader.readuntil(b"\r\n\r\n")).decode().lower().split("\r\n")
        headers = dict(line.split(": ", 1) for line in head[1:] if ": " in line)
        await reader.readexactly(int(headers["content-length"]))
        closed = headers.get("connection") == "close"
        if closed:
            writer.close()
            self.streams = await asyncio.open_connection("127.0.0.1", self.port)
        return int(head[0].split()[1]), closed

    async def close(self) -> None:
        if self.streams is not None:
            self.streams[1].close()
            await self.streams[1].wait_closed()


async def test_keep_alive_connections_are_evened_out_over_the_workers(db_url: str) -> None:
    # The kernel's hash split 16 connections as unevenly as 12/4 in trials; a worker over its
    # share answers with Connection: close until the reconnections even the split out.
    with LiveServer(db_url, workers=2) as server:
        assert server.process is not None
        workers = workers_of(server.process.pid)
        assert wait_for(lambda: all(server_sockets(w, server.port, LISTEN) for w in workers), 30)

        def held() -> list[int]:
            return [server_sockets(pid, server.port) for pid in workers]

        # Three sets of connections: the hash alone splits 16 evenly one time in five.
        for _ in range(3):
            clients = [KeepAliveClient(server.port) for _ in range(16)]
            try:
                deadline = time.monotonic() + 30
                while time.monotonic() < deadline and held() != [8, 8]:
                    answers = await asyncio.gather(*(c.get("/healthz") for c in clients))
                    assert {status for status, _ in answers} == {200}
                    await asyncio.sleep(0.02)  # closed ones leave the server's socket table
                assert held() == [8, 8], server.log_tail()
                # Once even, no connection is let go any more.
                for _ in range(20):
                    answers = await asyncio.gather(*(c.get("/healthz") for c in clients))
                    assert answers == [(200, False)] * 16
            finally:
                await asyncio.gather(*(c.close() for c in clients))
            assert wait_for(lambda: held() == [0, 0], 10)


def test_a_worker_that_dies_is_replaced(db_url: str) -> None:
    with LiveServer(db_url, workers=2) as server:
        assert server.process is not None
        first = workers_of(server.process.pid)
        os.kill(first[0], signal.SIGKILL)
        pid = server.process.pid
        assert wait_for(lambda: len(set(workers_of(pid)) - {first[0]}) == 2, 30), server.log_tail()
        assert first[1] in workers_of(pid)
        server.wait_ready(30)
        assert "starting another" in server.log_tail()


def test_a_worker_that_stops_answering_is_replaced(db_url: str) -> None:
    # A stopped (or stuck) worker keeps its socket, so the kernel would go on handing it new
    # connections; its event loop's heartbeat stops, and the supervisor replaces it.
    with LiveServer(db_url, workers=2, env={"VIGIL_WORKER_TIMEOUT_SECONDS": "2"}) as server:
        assert server.process is not None
        pid = server.process.pid
        stuck, other = workers_of(pid)
        # both serving (so both have beaten: a worker is not judged before its first beat)
        assert wait_for(
            lambda: all(server_sockets(w, server.port, LISTEN) for w in (stuck, other)), 30
        )
        time.sleep(0.5)
        os.kill(stuck, signal.SIGSTOP)
        assert wait_for(lambda: stuck not in workers_of(pid) and len(workers_of(pid)) == 2, 30)
        assert other in workers_of(pid)  # the one that answered was left alone
        assert "has not answered for" in server.log_tail()
        server.wait_ready(30)


def test_sigterm_to_the_supervisor_stops_every_worker(db_url: str) -> None:
    server = LiveServer(db_url, workers=2).start()
    assert server.process is not None
    workers = workers_of(server.process.pid)
    server.process.send_signal(signal.SIGTERM)  # the supervisor alone, not its group
    try:
        assert server.process.wait(timeout=40) == 0
    finally:
        server.kill()
    assert wait_for(lambda: not any(Path(f"/proc/{w}").exists() for w in workers), 10)


def test_sighup_replaces_the_workers_without_a_gap(db_url: str) -> None:
    with LiveServer(db_url, workers=2) as server:
        assert server.process is not None
        pid = server.process.pid
        old = set(workers_of(pid))
        assert len(old) == 2
        refused: list[str] = []
        answered = [0]
        done = threading.Event()

        def poll() -> None:
            # A fresh connection each time, as a new client would open. A connection the kernel
            # queued on a worker's socket just as that worker closed it is reset (unless the
            # host sets tcp_migrate_req); its retry goes to a socket that is still open.
            while not done.is_set():
                for attempt in range(2):
                    try:
                        httpx.get(f"{server.base_url}/healthz", timeout=10).raise_for_status()
                        answered[0] += 1
                        break
                    except httpx.HTTPError as err:
                        if attempt:
                            refused.append(repr(err))
                time.sleep(0.02)

        poller = threading.Thread(target=poll)
        poller.start()
        try:
            os.kill(pid, signal.SIGHUP)
            replaced = wait_for(
                lambda: not old & set(workers_of(pid)) and len(workers_of(pid)) == 2, 90
            )
        finally:
            done.set()
            poller.join()
        assert replaced, server.log_tail()
        assert not refused, refused
        assert answered[0] > 10
        # An old worker leaves the list when it stops taking requests; it exits once its
        # background tasks (stream relay, the overdue-BP scan) have stopped: wait for that.
        assert wait_for(
            lambda: not any(Path(f"/proc/{w}").exists() and not exited(w) for w in old), 30
        )
        server.wait_ready(30)


@pytest.mark.parametrize("failure", ["exits at start-up", "never becomes ready"])
def test_new_code_that_does_not_become_ready_leaves_the_old_workers_serving(
    failure: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # "never becomes ready": e.g. new code whose migration was not run (its /readyz is 503).
    monkeypatch.setattr("api.serve.STARTUP_SECONDS", 2.0)
    supervisor = Supervisor("127.0.0.1", 0, 1, worker_timeout=30)
    context = supervisor.context

    def worker(target: Callable[..., object], *args: object, ready: bool = False) -> Worker:
        process = context.Process(target=target, args=args)
        process.start()
        return Worker(
            process,
            context.Value("d", time.monotonic() + STARTUP_SECONDS, lock=False),
            context.Value("b", int(ready), lock=False),
        )

    old = worker(time.sleep, 60, ready=True)
    supervisor.workers = [old]
    if failure == "exits at start-up":
        monkeypatch.setattr(supervisor, "_start", lambda slot: worker(sys.exit, 3))
    else:
        monkeypatch.setattr(supervisor, "_start", lambda slot: worker(time.sleep, 60))
    try:
        started = time.monotonic()
        supervisor._rolling_restart()
        assert supervisor.workers == [old]
        assert old.process.is_alive()
        assert time.monotonic() - started < 10
    finally:
        old.process.kill()
        old.process.join()


def exited(pid: int) -> bool:
    """``pid`` has ended (gone, or a zombie nobody has reaped yet)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def test_workers_stop_when_the_supervisor_is_killed(db_url: str) -> None:
    # Orphaned workers would keep the port (and serve the old code), so the next `vigil serve`
    # would refuse to start.
    server = LiveServer(db_url, workers=2).start()
    assert server.process is not None
    workers = workers_of(server.process.pid)
    assert len(workers) == 2
    server.process.send_signal(signal.SIGKILL)  # the supervisor alone, not its group
    try:
        server.process.wait(timeout=10)
        assert wait_for(lambda: all(exited(w) for w in workers), 20)
        with socket.socket() as probe:  # the port is free again
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(("127.0.0.1", server.port))
    finally:
        server.kill()


def test_a_port_already_in_use_is_refused(db_url: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "api.cli", "serve", "--port", str(port), "--workers", "2"],
            cwd=ROOT,
            env=server_env(db_url, VIGIL_HOST="127.0.0.1"),
            capture_output=True,
            timeout=60,
        )
    assert done.returncode == 3
    assert b"cannot listen on 127.0.0.1" in done.stderr
