"""Statements of the readings pipeline: insert with de-duplication, stored BP halves, the lock
that keeps the two halves of one blood pressure whole.

The hot path: one multi-row INSERT ... ON CONFLICT DO NOTHING, a look-up of duplicates only
when there are some, stored BP partners only for a BP half whose partner is not in the batch.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam, delete, select, text, tuple_
from sqlalchemy.dialects import sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from api.clinical.bp import BP_CODES
from models import Observation

_TABLE = Observation.__table__

# The stored halves of blood-pressure readings at given times (built once: a single systolic or
# diastolic post runs it).
_BP_HALVES = select(Observation.code, Observation.value, Observation.measured_at).where(
    Observation.session_id == bindparam("session_id"),
    Observation.status == "final",
    Observation.code.in_(sorted(BP_CODES)),
    Observation.measured_at.in_(bindparam("times", expanding=True)),
)


async def stored_bp_halves(
    db: AsyncSession, session_id: uuid.UUID, times: Iterable[datetime]
) -> list[tuple[str, float, datetime]]:
    """(code, value, measured_at) of the session's stored BP halves at ``times``."""
    result = await db.execute(_BP_HALVES, {"session_id": session_id, "times": sorted(times)})
    return [(code, value, at) for code, value, at in result]


# pg_advisory_xact_lock(int4, int4): its own key space, apart from the single-bigint key of the
# live-event id lock (migration 0005). The first key says "one BP reading"; the second is a hash
# of (session, measured_at): a collision only makes two BP readings wait for each other.
_BP_LOCK_CLASS = 0x42505052  # "BPPR"
# One statement however many keys: the keys sorted (OFFSET 0 keeps the sorted subquery from
# being flattened into the outer one), each locked in that order.
_BP_LOCK = text(
    """
    SELECT count(pg_advisory_xact_lock(CAST(:class AS integer), k))
    FROM (SELECT k FROM unnest(CAST(:keys AS integer[])) AS k ORDER BY k OFFSET 0) AS sorted_keys
    """
)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def bp_lock_key(session_id: uuid.UUID, measured_at: datetime) -> int:
    """The lock of one BP reading: the same for any spelling of one instant. (The offset from
    the epoch, not ``astimezone``: a time at the calendar's edge is refused by the checks after
    the lock, and must not overflow before them.)"""
    since = measured_at - _EPOCH
    moment = f"{since.days}:{since.seconds}:{since.microseconds}".encode()
    digest = hashlib.blake2b(session_id.bytes + moment, digest_size=4).digest()
    return int.from_bytes(digest, "big", signed=True)


async def lock_bp_readings(
    db: AsyncSession, readings: Iterable[tuple[uuid.UUID, datetime]]
) -> None:
    """Lock each (session, measured_at) of a BP half until commit, in key order (two requests
    cannot each hold a key the other waits for), in one statement. PostgreSQL only: on SQLite
    every writer is alone already (BEGIN IMMEDIATE)."""
    if db.get_bind().dialect.name != "postgresql":
        return
    keys = sorted({bp_lock_key(sid, at) for sid, at in readings})
    if keys:
        await db.execute(_BP_LOCK, {"class": _BP_LOCK_CLASS, "keys": keys})


def _insert_ignoring_duplicates(insert: Any) -> Any:
    return (
        insert(_TABLE)
        .on_conflict_do_nothing(index_elements=["source", "external_id"])
        .returning(_TABLE.c.id)
    )


# PostgreSQL: the batch's columns as arrays, the rows rebuilt by unnest() inside the server: one
# statement and one execution however many readings (a multi-row VALUES or an executemany is
# parsed, planned or executed per row). What every row of one call shares (one session, one
# sender, one request time) is sent once, not once per row. Element types are plain text, not
# varchar(n): a CAST to varchar(n) would truncate, while text is length-checked on insert.
_PG_SHARED = ("session_id", "status", "source", "recorded_by", "recorded_at")
_PG_ARRAYS = (
    "id",
    "code",
    "value",
    "unit",
    "original_value",
    "original_unit",
    "measured_at",
    "external_id",
)
_PG_INSERT = text(
    """
    INSERT INTO observations (id, code, value, unit, original_value, original_unit, measured_at,
        external_id, session_id, status, source, recorded_by, recorded_at)
    SELECT r.*, CAST(:session_id AS uuid), CAST(:status AS text), CAST(:source AS text),
        CAST(:recorded_by AS text), CAST(:recorded_at AS timestamptz)
    FROM unnest(
        CAST(:id AS uuid[]), CAST(:code AS text[]), CAST(:value AS float8[]),
        CAST(:unit AS text[]), CAST(:original_value AS float8[]),
        CAST(:original_unit AS text[]), CAST(:measured_at AS timestamptz[]),
        CAST(:external_id AS text[])
    ) AS r
    ON CONFLICT (source, external_id) DO NOTHING
    RETURNING id
    """
).columns(_TABLE.c.id)
_SQLITE_INSERT = _insert_ignoring_duplicates(sqlite.insert)


async def _insert_new(db: AsyncSession, rows: list[dict[str, Any]]) -> set[uuid.UUID]:
    """Insert ``rows``, skipping any whose (source, external_id) is stored; the ids inserted."""
    if db.get_bind().dialect.name == "postgresql":
        groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
        for r in rows:  # every caller sends one group; stay correct if one ever does not
            groups.setdefault(tuple(r[k] for k in _PG_SHARED), []).append(r)
        inserted: set[uuid.UUID] = set()
        for shared, group in groups.items():
            params = dict(zip(_PG_SHARED, shared, strict=True))
            params.update({k: [r[k] for r in group] for k in _PG_ARRAYS})
            inserted.update(r[0] for r in await db.execute(_PG_INSERT, params))
        return inserted
    # SQLite: one cached statement with a list of rows (insertmanyvalues: one multi-row INSERT
    # per round trip; a .values(rows) statement would be compiled afresh for every request).
    return {r[0] for r in await db.execute(_SQLITE_INSERT, rows)}


async def insert_readings(
    db: AsyncSession, rows: list[dict[str, Any]]
) -> list[tuple[dict[str, Any], bool]]:
    """Insert new rows; a (source, external_id) already stored is answered with the stored row.

    De-duplication is the database's unique constraint (ON CONFLICT DO NOTHING), so concurrent
    retries of the same reading can never store it twice. Returns (row, is_new) in input order.
    """
    if not rows:
        return []
    inserted = await _insert_new(db, rows)
    if len(inserted) == len(rows):
        return [(r, True) for r in rows]
    keys = [(r["source"], r["external_id"]) for r in rows if r["id"] not in inserted]
    existing = {
        (o["source"], o["external_id"]): dict(o)
        for o in (
            await db.execute(
                select(*_TABLE.c).where(
                    tuple_(Observation.source, Observation.external_id).in_(keys)
                )
            )
        ).mappings()
    }
    return [
        (r, True) if r["id"] in inserted else (existing[(r["source"], r["external_id"])], False)
        for r in rows
    ]


async def delete_inserted(db: AsyncSession, ids: Iterable[uuid.UUID]) -> None:
    """Take back rows this transaction has just inserted (nothing refers to them yet): an
    atomic call that found one of its external ids taken by another session stores nothing."""
    await db.execute(
        delete(Observation)
        .where(Observation.id.in_(list(ids)))
        .execution_options(synchronize_session=False)
    )
