"""Deterministic races in one process, on PostgreSQL: one request is paused (an asyncio.Event
in a monkeypatched function) between its checks and its commit while another runs.

SQLite needs none of this (every transaction there is BEGIN IMMEDIATE, so writers are
serialized), and a request paused inside its transaction would block the other one outright.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import asyncpg
import pytest

from tests.conftest import Backend
from tests.live import asyncpg_dsn

T = TypeVar("T")

WAIT_SECONDS = 30  # a bound on waits that should end at once: a hung test fails instead


def needs_postgres(backend: Backend) -> None:
    if not backend.is_postgres:
        pytest.skip("a race between transactions: on SQLite every transaction is serialized")


@dataclass
class Pause:
    """The first call of the patched function waits (before or after the original runs) until
    :meth:`release`; ``entered`` is set when it starts waiting. Later calls run through."""

    entered: asyncio.Event = field(default_factory=asyncio.Event)
    released: asyncio.Event = field(default_factory=asyncio.Event)
    calls: int = 0

    def release(self) -> None:
        self.released.set()

    async def wait_entered(self) -> None:
        await asyncio.wait_for(self.entered.wait(), WAIT_SECONDS)

    async def _hold(self) -> None:
        self.entered.set()
        await asyncio.wait_for(self.released.wait(), WAIT_SECONDS)


def pause(monkeypatch: pytest.MonkeyPatch, module: Any, name: str, *, after: bool = False) -> Pause:
    """Patch the async function ``module.name`` (as the calling module sees it) to pause on its
    first call: before the original runs, or ``after`` it (holding whatever it locked)."""
    original: Callable[..., Awaitable[Any]] = getattr(module, name)
    state = Pause()

    async def paused(*args: Any, **kwargs: Any) -> Any:
        state.calls += 1
        first = state.calls == 1
        if first and not after:
            await state._hold()
        result = await original(*args, **kwargs)
        if first and after:
            await state._hold()
        return result

    monkeypatch.setattr(module, name, paused)
    return state


async def _someone_waits_for_a_lock(url: str) -> None:
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        # Polling a condition the database alone knows (no event to wait on), not a guess at
        # timing: it returns as soon as a backend waits for a lock.
        while True:
            waiting = await conn.fetchval(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            if waiting:
                return
            await asyncio.sleep(0.005)
    finally:
        await conn.close()


async def blocks_on_lock(backend: Backend, task: asyncio.Task[T]) -> bool:
    """True as soon as ``task`` (the only other request running) waits for a lock in the
    database; False if it finished first (it took no lock the paused request holds)."""
    probe = asyncio.create_task(_someone_waits_for_a_lock(backend.url))
    try:
        done, _ = await asyncio.wait(
            {task, probe}, timeout=WAIT_SECONDS, return_when=asyncio.FIRST_COMPLETED
        )
    finally:
        if not probe.done():
            probe.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await probe
    assert done, "neither finished nor waited for a lock"
    if probe in done:
        probe.result()  # re-raise a failed probe
        return not task.done()
    return False
