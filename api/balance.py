"""Keep-alive connections spread evenly over the workers of ``vigil serve --workers N``.

The kernel hands each new connection to one worker's ``SO_REUSEPORT`` socket by a hash of the
client's address and port (``api.serve``), and a keep-alive connection then stays with that
worker for as long as it lives. Hashing is even only on average: measured on the bench
machine, 8 connections opened together split 6/2 or 5/3 in half of 12 trials, and 32 split
as far as 20/12. Requests on the busier worker queue behind each other while the other worker
idles, for as long as the connections live (a device's, a front-end's, a proxy's upstream pool).

So each worker publishes how many connections it holds in its slot of an array it shares with
its siblings (the supervisor's), and a worker that holds more than its fair share (all the
workers' connections over the number of workers, rounded up) answers one request with
``Connection: close``. The client reads that whole response, and its next request opens a new
connection, which the kernel hashes afresh. Nothing is lost or repeated: the close is announced
in a complete response, not done to an idle connection a request may be racing into. A worker
lets at most one connection go per ``RELEASE_INTERVAL_SECONDS``, so that a burst of responses
does not shed many at once. Outside the supervisor (one process, the tests) nothing is
installed and the middleware passes every request through.
"""

from __future__ import annotations

import time
from collections.abc import Callable, MutableSequence
from dataclasses import dataclass, field

from starlette.types import ASGIApp, Message, Receive, Scope, Send

RELEASE_INTERVAL_SECONDS = 0.1


def over_fair_share(own: int, counts: list[int]) -> bool:
    """Does a worker holding ``own`` connections hold more than its fair share, when the
    workers hold ``counts`` (one per worker, its own included)?"""
    return own > -(-sum(counts) // len(counts))


@dataclass
class Balancer:
    """One worker's side: its slot in the shared counts and how it counts its connections."""

    counts: MutableSequence[int]
    index: int
    connections: Callable[[], int]
    interval: float = RELEASE_INTERVAL_SECONDS
    _next_release: float = field(default=0.0, init=False)

    def publish(self) -> int:
        own = self.connections()
        self.counts[self.index] = own
        return own

    def should_release(self, now: float) -> bool:
        """Should this response close its connection? Publishes this worker's count too."""
        own = self.publish()
        if now < self._next_release or not over_fair_share(own, list(self.counts)):
            return False
        self._next_release = now + self.interval
        return True


_balancer: Balancer | None = None


def install(balancer: Balancer | None) -> None:
    """Called by a ``vigil serve`` worker before it serves (None: uninstall)."""
    global _balancer
    _balancer = balancer


_CLOSE = (b"connection", b"close")


class ConnectionBalanceMiddleware:
    """``Connection: close`` on a response when this worker holds more than its share."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        balancer = _balancer
        if balancer is None or scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_balanced(message: Message) -> None:
            if (
                message["type"] == "http.response.start"
                and not _streaming(message)
                and balancer.should_release(time.monotonic())
            ):
                message = {**message, "headers": [*message.get("headers", ()), _CLOSE]}
            await send(message)

        await self.app(scope, receive, send_balanced)


def _streaming(message: Message) -> bool:
    """An event stream stays open for as long as its client listens: letting it go would
    not free its connection now."""
    return any(
        name.lower() == b"content-type" and value.startswith(b"text/event-stream")
        for name, value in message.get("headers", ())
    )
