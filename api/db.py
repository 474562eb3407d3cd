"""Engine, session factory and the one transaction each request runs in."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated, Any, TypeVar

import orjson
from fastapi import Depends, Request
from sqlalchemy import event
from sqlalchemy.exc import InvalidatePoolError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import GenericFunction
from sqlalchemy.types import String

from api.config import Settings


def json_dumps(value: Any) -> str:
    """JSON columns (live-event payloads, thresholds, overrides) with orjson: several times
    faster than the standard library on the ingest path, where every reading becomes a live
    event. Non-string keys are written as strings, as ``json.dumps`` does.

    An integer beyond 64 bits (orjson refuses those) can arrive in a raw item kept for the
    quarantine: such a document is written by the standard library, which has no such limit,
    so what a sender sent is kept rather than answered with a 500."""
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError as exc:
        if "64-bit" not in str(exc):
            raise
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def sqlite_json_loads(value: str | bytes | int | float) -> Any:
    """JSON columns read back on SQLite. A column declared JSON has NUMERIC affinity there, so
    a value stored as the text ``5`` or ``1.5`` (a JSON document that is a bare number, e.g. a
    quarantined device item) comes back as the number itself, not as JSON text."""
    if isinstance(value, int | float):
        return value
    return orjson.loads(value)


class unicode_lower(GenericFunction[str]):
    """``lower()`` that lowercases every letter, not only ASCII ones, on both databases.

    PostgreSQL's ``lower()`` follows the database's ctype (a UTF-8 locale lowercases ``Á``);
    SQLite's built-in ``lower()`` knows ASCII only, so on SQLite this compiles to
    ``vigil_lower()``, which :func:`_configure_sqlite` registers on every connection. It has
    its own name rather than replacing ``lower`` so that no other tool opening the file gets a
    different ``lower()`` silently; it is used in queries only, never in the schema.
    """

    type = String()
    inherit_cache = True


@compiles(unicode_lower)
def _unicode_lower_default(element: unicode_lower, compiler: SQLCompiler, **kw: Any) -> str:
    return f"lower({compiler.process(element.clauses, **kw)})"


@compiles(unicode_lower, "sqlite")
def _unicode_lower_sqlite(element: unicode_lower, compiler: SQLCompiler, **kw: Any) -> str:
    return f"vigil_lower({compiler.process(element.clauses, **kw)})"


def _sqlite_lower(value: object) -> object:
    return value.lower() if isinstance(value, str) else value


def create_engine(settings: Settings) -> AsyncEngine:
    url = settings.database_url
    if url.startswith("sqlite"):
        if ":///./" in url:
            from pathlib import Path

            Path(url.split(":///", 1)[1]).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(
            url,
            connect_args={"timeout": 30},
            hide_parameters=True,
            json_serializer=json_dumps,
            json_deserializer=sqlite_json_loads,
        )
        _configure_sqlite(engine)
        return engine
    engine = create_async_engine(
        url,
        json_serializer=json_dumps,
        json_deserializer=orjson.loads,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_timeout=settings.db_pool_timeout,
        connect_args={"timeout": settings.db_connect_timeout},
        pool_recycle=1800,
        # Bound values are patient data: keep them out of error messages and so out of logs.
        hide_parameters=True,
    )
    _ping_on_checkout(engine)
    return engine


def _ping_on_checkout(engine: AsyncEngine) -> None:
    """Check every pooled connection before a request uses it, in one round trip.

    This is ``pool_pre_ping``: a connection PostgreSQL closed while it sat in the pool (a
    restart, a failover, an idle timeout) is replaced before the request meets it (the pool
    tries a fresh connection, after discarding every connection opened before, on
    InvalidatePoolError). SQLAlchemy's own ping on asyncpg is three round trips (BEGIN, an
    empty query, ROLLBACK; the transaction is for PgBouncer's transaction mode); a
    simple-protocol ``SELECT 1`` is one, and is safe there too (it prepares nothing).
    """

    @event.listens_for(engine.sync_engine, "checkout")
    def _ping(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        try:
            dbapi_connection.run_async(lambda connection: connection.execute("SELECT 1"))
        except Exception as err:
            raise InvalidatePoolError("the pooled connection failed its ping") from err


def _configure_sqlite(engine: AsyncEngine) -> None:
    """Foreign keys on, WAL, write transactions that take the lock up front, and a Unicode
    ``vigil_lower()`` (see :class:`unicode_lower`).

    SQLite upgrades a read lock to a write lock lazily and fails at once (no busy wait) when two
    transactions race that upgrade; ``BEGIN IMMEDIATE`` serializes writers instead, which is what
    a single-node embedded database should do.
    """

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()
        dbapi_connection.create_function("vigil_lower", 1, _sqlite_lower, deterministic=True)

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


async def get_db(request: Request) -> AsyncIterator[AsyncSession]:
    """The request's transaction: committed after the endpoint returns and before the response
    is sent (``scope="function"``), rolled back on any error."""
    factory: async_sessionmaker[AsyncSession] = request.app.state.session_factory
    async with factory() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise


DbSession = Annotated[AsyncSession, Depends(get_db, scope="function")]


T = TypeVar("T")

# Reads that a cancelled stream left running: referenced until they finish.
_DETACHED: set[asyncio.Task[Any]] = set()


async def detached_read(
    factory: async_sessionmaker[AsyncSession],
    work: Callable[[AsyncSession], Awaitable[T]],
) -> T:
    """Run ``work`` in a short transaction of its own that always ends, even when the stream
    awaiting it is cancelled (the client reset the connection, or stopped reading and was
    dropped).

    A stream is cancelled at whatever ``await`` it is in. Cancelled inside a database call, it
    used to leave that connection in its transaction: on SQLite a ``BEGIN IMMEDIATE`` holds
    the database's write lock, so every write waited out the 30 s busy timeout and answered
    503 until the abandoned connection was garbage-collected (issue 22); on PostgreSQL the
    pool lost the connection. So the read runs as a task of its own, shielded: a cancelled
    stream stops waiting for it, the read still finishes, rolls back and returns its
    connection. A stream holds no transaction between events: each read opens and ends one.
    """

    async def run() -> T:
        async with factory() as db:
            try:
                return await work(db)
            finally:
                await db.rollback()

    task = asyncio.create_task(run())
    _DETACHED.add(task)
    task.add_done_callback(_finished)
    return await asyncio.shield(task)


def _finished(task: asyncio.Task[Any]) -> None:
    _DETACHED.discard(task)
    if not task.cancelled():
        task.exception()  # retrieved here too: the stream that wanted it may be gone
