"""Waking the live streams of this process when new events may exist.

In-process: every stream waits on its own :class:`asyncio.Event`; :meth:`Notifier.wake` sets
them all (called after a commit that wrote events). Across processes (PostgreSQL): one
``LISTEN`` connection per process (:class:`PgListener`) turns each ``NOTIFY`` into a wake-up.
Streams then read the new rows from the ``live_events`` table themselves, so a lost wake-up
only delays an event until the stream's next poll; it never loses it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

log = logging.getLogger("vigil.live")

NOTIFY_CHANNEL = "vigil_live_events"


class Notifier:
    def __init__(self) -> None:
        self._waiters: set[asyncio.Event] = set()

    def subscribe(self) -> asyncio.Event:
        waiter = asyncio.Event()
        self._waiters.add(waiter)
        return waiter

    def unsubscribe(self, waiter: asyncio.Event) -> None:
        self._waiters.discard(waiter)

    def wake(self) -> None:
        for waiter in list(self._waiters):
            waiter.set()

    @property
    def listeners(self) -> int:
        return len(self._waiters)


notifier = Notifier()


class PgListener:
    """One dedicated asyncpg connection that LISTENs and wakes this process's streams.

    Reconnects with a back-off when the connection drops, and wakes every stream after a
    reconnect (notifications sent while it was away are not replayed by PostgreSQL).
    """

    def __init__(self, database_url: str) -> None:
        self._dsn = database_url.replace("postgresql+asyncpg://", "postgresql://", 1)
        self._task: asyncio.Task[None] | None = None
        self.connected = asyncio.Event()

    def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="vigil-live-listener")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None

    async def _run(self) -> None:
        import asyncpg

        delay = 0.5
        while True:
            connection: Any = None
            try:
                connection = await asyncpg.connect(self._dsn)
                lost = asyncio.Event()
                connection.add_termination_listener(lambda _c, lost=lost: lost.set())
                await connection.add_listener(NOTIFY_CHANNEL, self._on_notify)
                self.connected.set()
                notifier.wake()  # anything committed while we were not listening
                delay = 0.5
                await lost.wait()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # keep listening whatever happens to the connection
                log.warning("live listener connection failed: %s", type(exc).__name__)
            finally:
                self.connected.clear()
                if connection is not None:
                    with contextlib.suppress(Exception):
                        await asyncio.shield(connection.close(timeout=2))
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)

    @staticmethod
    def _on_notify(*_: Any) -> None:
        notifier.wake()
