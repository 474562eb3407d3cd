"""``vigil serve``: uvicorn, with one listening socket per worker process.

uvicorn's own multi-worker mode shares one listening socket among its workers, and whichever
worker wakes first accepts every connection that is waiting. Measured on this project's bench
machine: 8 keep-alive connections opened together all went to one of two workers in 6 of 15
trials, and 32 often split 30/2, so one core did the work while the other idled, for as long
as the connections lived (a proxy's upstream keep-alive pool has the same shape). Here every
worker binds its own socket with ``SO_REUSEPORT`` and the kernel spreads new connections across
them (by a hash of the client's address and port). The hash is even only on average, so the
workers also even out their keep-alive connections among themselves (``api.balance``).

The supervisor starts the workers and replaces one that exits, or whose event loop has not
written its heartbeat for ``VIGIL_WORKER_TIMEOUT_SECONDS`` (a stuck worker keeps its socket and
so its share of new connections). On SIGTERM or SIGINT it asks each worker to finish its
requests and stop. On SIGHUP it replaces the workers one at a time with new ones (the code as
it is on disk now), each old worker stopping only once its replacement is ready; a replacement
that does not become ready (it fails to start, or its database is not at its code's migration
head) ends the restart, and the old workers go on serving. A worker whose supervisor is gone
(SIGKILL, the OOM killer) finishes its requests and stops too, as gunicorn's do: left running,
it would keep the port, serve old code, and make the next ``vigil serve`` refuse to start. Off
Linux, where ``SO_REUSEPORT`` does not spread connections, several workers fall back to
uvicorn's shared socket.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import MutableSequence
from ctypes import c_byte, c_double
from dataclasses import dataclass
from multiprocessing.process import BaseProcess
from typing import Any

import uvicorn
from uvicorn.config import STARTUP_FAILURE

from api.balance import Balancer
from api.balance import install as install_balancer

APP = "api.asgi:app"
# Options every worker runs with. Vigil logs requests itself, without query strings; it reads
# X-Forwarded-* itself, from VIGIL_TRUSTED_PROXIES only (api.proxies); and it sends no
# ``Server`` banner.
SERVER_OPTIONS: dict[str, Any] = {
    "access_log": False,
    "proxy_headers": False,
    "server_header": False,
    "log_level": "warning",
}
# How long a stopping worker gets to finish its requests before it is killed.
STOP_SECONDS = 30.0
# Every worker's event loop writes a heartbeat this often.
HEARTBEAT_SECONDS = 1.0
# How long a new worker has to start up before its heartbeat counts.
STARTUP_SECONDS = 60.0

log = logging.getLogger("vigil.serve")


def serve(host: str, port: int, workers: int, *, worker_timeout: float = 30.0) -> int:
    """Serve until stopped; the exit status."""
    if workers <= 1 or not sys.platform.startswith("linux"):
        log.info(
            "serving on http://%s:%s (%s)",
            host,
            port,
            f"{workers} workers" if workers > 1 else "one process",
        )
        uvicorn.run(APP, host=host, port=port, workers=workers, **SERVER_OPTIONS)
        return 0
    try:
        reserved = _reserve(host, port)
    except OSError as err:
        log.error("cannot listen on %s:%s: %s", host, port, err)
        return STARTUP_FAILURE
    with reserved:
        port = reserved.getsockname()[1]
        log.info("serving on http://%s:%s with %d workers", host, port, workers)
        return Supervisor(host, port, workers, worker_timeout).run()


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def _reserve(host: str, port: int) -> socket.socket:
    """A socket that holds the port for the workers' group (bound, never listening).

    A first bind without SO_REUSEPORT fails if anything listens there already, even an older
    Vigil whose SO_REUSEPORT sockets would otherwise share the port and its traffic.
    """
    with socket.socket(_family(host)) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((host, port))
        port = probe.getsockname()[1]
    return _reuseport_socket(host, port)


def _reuseport_socket(host: str, port: int) -> socket.socket:
    sock = socket.socket(_family(host))
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def run_worker(
    host: str,
    port: int,
    heartbeat: c_double,
    ready: c_byte,
    supervisor: int,
    connections: MutableSequence[int],
    slot: int,
) -> None:
    """One worker process: its own socket in the port's group, one uvicorn server, a
    heartbeat (and whether the app is ready) its event loop writes every second for the
    supervisor to watch, and its count of open connections in ``connections[slot]``, which
    the workers share to keep their connections even (``api.balance``)."""
    try:
        sock = _reuseport_socket(host, port)
    except OSError as err:
        log.error("worker cannot bind %s:%s: %s", host, port, err)
        sys.exit(STARTUP_FAILURE)
    config = uvicorn.Config(APP, host=host, port=port, **SERVER_OPTIONS)
    server = uvicorn.Server(config)
    balancer = Balancer(connections, slot, lambda: len(server.server_state.connections))
    install_balancer(balancer)
    with asyncio.Runner(loop_factory=config.get_loop_factory()) as runner:
        runner.run(_serve_with_heartbeat(server, sock, heartbeat, ready, supervisor, balancer))
    if not server.started:
        sys.exit(STARTUP_FAILURE)


async def _serve_with_heartbeat(
    server: uvicorn.Server,
    sock: socket.socket,
    heartbeat: c_double,
    ready: c_byte,
    supervisor: int,
    balancer: Balancer,
) -> None:
    async def beat() -> None:
        while True:
            if os.getppid() != supervisor:  # re-parented: the supervisor has died
                log.error("the supervisor (pid %s) is gone; this worker stops", supervisor)
                server.should_exit = True  # uvicorn finishes the requests in flight
                return
            if not server.started:
                await asyncio.sleep(0.05)
                continue
            balancer.publish()  # kept fresh by requests too; this covers a worker left idle
            heartbeat.value = time.monotonic()  # system-wide clock: comparable across processes
            ready.value = int(await _app_ready())
            await asyncio.sleep(HEARTBEAT_SECONDS)

    beating = asyncio.create_task(beat())
    try:
        await server.serve(sockets=[sock])
    finally:
        beating.cancel()


async def _app_ready() -> bool:
    """Is this worker's app ready (its database reachable and at its migration head)?"""
    from api.asgi import app  # the module uvicorn loaded: the same app object

    readiness = app.state.readiness
    return bool(readiness.ready or await readiness.recheck())


@dataclass
class Worker:
    process: BaseProcess
    heartbeat: c_double
    ready: c_byte

    @property
    def silent_for(self) -> float:
        return time.monotonic() - self.heartbeat.value

    @property
    def serving(self) -> bool:
        """Its server has started and its app is ready: it answers requests."""
        return bool(self.ready.value)


class Supervisor:
    """Starts the workers, replaces one that exits or stops answering, stops them all."""

    def __init__(self, host: str, port: int, workers: int, worker_timeout: float) -> None:
        self.host, self.port, self.count = host, port, workers
        self.worker_timeout = worker_timeout
        self.context = multiprocessing.get_context("spawn")
        self.workers: list[Worker] = []
        # Each worker's open connections, by its position in ``workers`` (api.balance).
        self.connections: MutableSequence[int] = self.context.Array("i", workers, lock=False)
        self.stopping = threading.Event()
        self.restart = threading.Event()

    def _start(self, slot: int) -> Worker:
        """A new worker for position ``slot`` of ``workers``."""
        self.connections[slot] = 0  # the connections counted there were the old worker's
        # Dated ahead: importing the app and starting it up may take a while before the
        # first beat, and a worker is not judged during that time.
        heartbeat = self.context.Value("d", time.monotonic() + STARTUP_SECONDS, lock=False)
        ready = self.context.Value("b", 0, lock=False)
        process = self.context.Process(
            target=run_worker,
            args=(self.host, self.port, heartbeat, ready, os.getpid(), self.connections, slot),
        )
        process.start()
        return Worker(process, heartbeat, ready)

    def _stop(self, _signum: int, _frame: object) -> None:
        self.stopping.set()

    def _restart(self, _signum: int, _frame: object) -> None:
        self.restart.set()

    def run(self) -> int:
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, self._stop)
        signal.signal(signal.SIGHUP, self._restart)
        status = 0
        self.workers = [self._start(slot) for slot in range(self.count)]
        while not self.stopping.wait(0.5):
            if self.restart.is_set():
                self.restart.clear()
                self._rolling_restart()
            for i, worker in enumerate(self.workers):
                process = worker.process
                if process.is_alive():
                    if worker.silent_for <= self.worker_timeout:
                        continue
                    # Its event loop is stuck (or the process is stopped): with a socket of its
                    # own it would go on being handed new connections that nobody serves.
                    log.error(
                        "worker %s has not answered for %.0f s; replacing it",
                        process.pid,
                        worker.silent_for,
                    )
                    process.kill()
                    process.join()
                elif process.exitcode == STARTUP_FAILURE:
                    # The app, its database or the socket is broken; every restart would fail
                    # the same way.
                    log.error("worker %s failed to start; stopping", process.pid)
                    status = STARTUP_FAILURE
                    self.stopping.set()
                    break
                else:
                    log.warning(
                        "worker %s exited (%s); starting another", process.pid, process.exitcode
                    )
                self.workers[i] = self._start(i)
        log.info("stopping the workers")
        _stop_all([w.process for w in self.workers])
        return status

    def _rolling_restart(self) -> None:
        """Replace each worker by a new one, starting the new one first: the port never lacks
        a worker, and new code that cannot start leaves the old workers serving."""
        log.info("restarting the workers one at a time")
        for i, old in enumerate(self.workers):
            new = self._start(i)
            deadline = time.monotonic() + STARTUP_SECONDS
            while not new.serving and new.process.is_alive() and time.monotonic() < deadline:
                if self.stopping.wait(0.1):
                    _stop_all([new.process])
                    return
            if not new.serving:
                log.error(
                    "a new worker did not become ready (%s); the restart is abandoned and the "
                    "running workers go on serving",
                    f"exit code {new.process.exitcode}"
                    if not new.process.is_alive()
                    else "its /readyz says why",
                )
                _stop_all([new.process])
                return
            self.workers[i] = new
            _stop_all([old.process])
        log.info("all workers restarted")


def _stop_all(processes: list[BaseProcess]) -> None:
    for process in processes:
        if process.is_alive():
            process.terminate()  # SIGTERM: uvicorn finishes the requests in flight
    for process in processes:
        process.join(STOP_SECONDS)
        if process.is_alive():
            process.kill()
            process.join()
