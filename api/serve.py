"""``vigil serve``: uvicorn, with one listening socket per worker process.

uvicorn's own multi-worker mode shares one listening socket among its workers, and whichever
worker wakes first accepts every connection that is waiting. Measured on this project's bench
machine: 8 keep-alive connections opened together all went to one of two workers in 6 of 15
trials, and 32 often split 30/2, so one core did the work while the other idled, for as long
as the connections lived (a proxy's upstream keep-alive pool has the same shape). Here every
worker binds its own socket with ``SO_REUSEPORT`` and the kernel spreads new connections across
them (by a hash of the client's address and port).

The supervisor starts the workers, starts a new one when one dies, and on SIGTERM or SIGINT
asks each to finish its requests and stop. Where ``SO_REUSEPORT`` does not spread connections
(it is Linux's behaviour), several workers fall back to uvicorn's shared socket.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import socket
import sys
import threading
from multiprocessing.process import BaseProcess
from typing import Any

import uvicorn
from uvicorn.config import STARTUP_FAILURE

APP = "api.asgi:app"
# Options every worker runs with. Vigil logs requests itself, without query strings.
SERVER_OPTIONS: dict[str, Any] = {
    "access_log": False,
    "proxy_headers": True,
    "log_level": "warning",
}
# How long a stopping worker gets to finish its requests before it is killed.
STOP_SECONDS = 30.0

log = logging.getLogger("vigil.serve")


def serve(host: str, port: int, workers: int) -> int:
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
        return Supervisor(host, port, workers).run()


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


def run_worker(host: str, port: int) -> None:
    """One worker process: its own socket in the port's group, one uvicorn server."""
    try:
        sock = _reuseport_socket(host, port)
    except OSError as err:
        log.error("worker cannot bind %s:%s: %s", host, port, err)
        sys.exit(STARTUP_FAILURE)
    server = uvicorn.Server(uvicorn.Config(APP, host=host, port=port, **SERVER_OPTIONS))
    server.run(sockets=[sock])
    if not server.started:
        sys.exit(STARTUP_FAILURE)


class Supervisor:
    def __init__(self, host: str, port: int, workers: int) -> None:
        self.host, self.port, self.count = host, port, workers
        self.context = multiprocessing.get_context("spawn")
        self.workers: list[BaseProcess] = []
        self.stopping = threading.Event()

    def _start(self) -> BaseProcess:
        worker = self.context.Process(target=run_worker, args=(self.host, self.port))
        worker.start()
        return worker

    def _stop(self, _signum: int, _frame: object) -> None:
        self.stopping.set()

    def run(self) -> int:
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, self._stop)
        status = 0
        self.workers = [self._start() for _ in range(self.count)]
        while not self.stopping.wait(0.5):
            for i, worker in enumerate(self.workers):
                if worker.is_alive():
                    continue
                if worker.exitcode == STARTUP_FAILURE:
                    # The app, its database or the socket is broken; every restart would fail
                    # the same way.
                    log.error("worker %s failed to start; stopping", worker.pid)
                    status = STARTUP_FAILURE
                    self.stopping.set()
                    break
                log.warning("worker %s exited (%s); starting another", worker.pid, worker.exitcode)
                self.workers[i] = self._start()
        log.info("stopping the workers")
        self._stop_workers()
        return status

    def _stop_workers(self) -> None:
        for worker in self.workers:
            if worker.is_alive():
                worker.terminate()  # SIGTERM: uvicorn finishes the requests in flight
        for worker in self.workers:
            worker.join(STOP_SECONDS)
            if worker.is_alive():
                worker.kill()
                worker.join()
