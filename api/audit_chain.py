"""The audit trail as a hash chain, on both databases (SPEC §9 "Tamper-evident").

Every audit row gets the next ``seq``, the previous row's hash as ``prev_hash`` and its own
``hash``: SHA-256 over ``prev_hash`` and the row's content in one canonical JSON form. Changing
a row changes its hash; removing or inserting one breaks the link of the row after it;
``vigil audit verify`` (:func:`verify`) walks the chain and names the first broken row.

Appends from several processes must form one chain, so each transaction that appends locks the
one row of ``audit_chain_head`` (``SELECT ... FOR UPDATE`` on PostgreSQL, which waits and then
reads the holder's committed values; on SQLite ``BEGIN IMMEDIATE`` already makes each writer
the only one), links its rows after the head, and moves the head, all in the transaction that
commits them. The lock is taken just before COMMIT (``api.precommit``) and held through it.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import select, text, update
from sqlalchemy.engine import Connection

from models import AuditChainHead, AuditEvent

GENESIS = "0" * 64
HEAD_ID = 1

# The content a row's hash covers, in this order (with ``seq`` and ``prev_hash`` first).
CONTENT = (
    "id",
    "at",
    "actor_id",
    "role",
    "action",
    "resource_type",
    "resource_id",
    "patient_id",
    "client_address",
    "request_id",
    "outcome",
    "detail",
)


def _canonical(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def row_hash(seq: int, prev_hash: str, row: Mapping[str, Any]) -> str:
    """The hash of one audit row (its content, its place ``seq`` and the link ``prev_hash``)."""
    payload = [seq, prev_hash, *(_canonical(row.get(name)) for name in CONTENT)]
    return hashlib.sha256(orjson.dumps(payload)).hexdigest()


_LOCK_HEAD = (
    select(AuditChainHead.seq, AuditChainHead.hash)
    .where(AuditChainHead.id == HEAD_ID)
    .with_for_update()
)

# PostgreSQL: audited commits queue for the head in the lock manager first (a transaction
# advisory lock: waiters are granted in arrival order), then lock the row, in one round trip.
# Queued on the row lock alone, every audited writer of a busy clinic waits on the one hot
# tuple, where a waiter can be overtaken and each release wakes the queue to re-check the row:
# with 32 writers the p99 of single posts tripled (bench/README.md). FOR UPDATE still decides:
# it returns the head as last committed, whatever the plan read first. The (int4, int4) key
# space, with a class of its own (the BP readings' locks use another class there; the live-event
# id and migration locks use single bigint keys).
HEAD_QUEUE_CLASS = 0x41554454  # "AUDT"
_PG_LOCK_HEAD = text(
    """
    SELECT h.seq, h.hash
    FROM (SELECT pg_advisory_xact_lock(CAST(:class AS integer), :head_id)) AS queued,
        audit_chain_head AS h
    WHERE h.id = :head_id
    FOR UPDATE OF h
    """
).bindparams(**{"class": HEAD_QUEUE_CLASS, "head_id": HEAD_ID})


def lock_and_link(connection: Connection, rows: list[dict[str, Any]]) -> tuple[int, str]:
    """Lock the chain's head and give ``rows`` (audit values, in order) their ``seq``,
    ``prev_hash`` and ``hash``; returns the new head, which the caller writes with the rows
    (:func:`move_head`) in the same transaction."""
    lock = _PG_LOCK_HEAD if connection.dialect.name == "postgresql" else _LOCK_HEAD
    head = connection.execute(lock).first()
    if head is None:  # migration 0012 creates it; a database built otherwise starts here
        connection.execute(
            AuditChainHead.__table__.insert().values(id=HEAD_ID, seq=0, hash=GENESIS)  # type: ignore[attr-defined]
        )
        seq, prev = 0, GENESIS
    else:
        seq, prev = int(head.seq), str(head.hash)
    for row in rows:
        seq += 1
        row["seq"] = seq
        row["prev_hash"] = prev
        row["hash"] = prev = row_hash(seq, prev, row)
    return seq, prev


def move_head(connection: Connection, seq: int, hash_: str) -> None:
    connection.execute(
        update(AuditChainHead).where(AuditChainHead.id == HEAD_ID).values(seq=seq, hash=hash_)
    )


@dataclass(frozen=True)
class Break:
    """The first row where the chain does not hold, and why."""

    seq: int
    id: str | None
    reason: str

    def __str__(self) -> str:
        who = f" (id {self.id})" if self.id else ""
        return f"audit row {self.seq}{who}: {self.reason}"


@dataclass(frozen=True)
class Verdict:
    rows: int
    broken: Break | None


def check(rows: Iterable[Mapping[str, Any]], head: tuple[int, str] | None) -> Verdict:
    """Walk rows in ``seq`` order; the first break, if any (pure: no I/O)."""
    expected_seq, prev = 1, GENESIS
    count = 0
    for row in rows:
        count += 1
        seq, rid = int(row["seq"]), str(row["id"])
        if seq != expected_seq:
            return Verdict(
                count,
                Break(
                    expected_seq,
                    None,
                    f"missing: the chain jumps from row {expected_seq - 1} to row {seq} "
                    "(rows were removed)",
                ),
            )
        if row["prev_hash"] != prev:
            return Verdict(
                count,
                Break(
                    seq,
                    rid,
                    "its link to the row before does not match (a row before it was changed, "
                    "removed or inserted)",
                ),
            )
        if row_hash(seq, prev, row) != row["hash"]:
            return Verdict(count, Break(seq, rid, "its content does not match its hash (changed)"))
        prev = str(row["hash"])
        expected_seq += 1
    if head is not None and head[0] > expected_seq - 1:
        return Verdict(
            count,
            Break(
                expected_seq,
                None,
                f"missing: the chain's head says {head[0]} rows were appended, "
                f"only {expected_seq - 1} are there (the last rows were removed)",
            ),
        )
    return Verdict(count, None)


_COLUMNS = [getattr(AuditEvent, name) for name in ("seq", "prev_hash", "hash", *CONTENT)]


def _rows(connection: Connection, batch: int) -> Iterator[Any]:
    last = 0
    while True:
        page = (
            connection.execute(
                select(*_COLUMNS).where(AuditEvent.seq > last).order_by(AuditEvent.seq).limit(batch)
            )
            .mappings()
            .all()
        )
        if not page:
            return
        yield from page
        last = int(page[-1]["seq"])


def verify(connection: Connection, *, batch: int = 5000) -> Verdict:
    """Check the whole chain in the database behind ``connection``."""
    head = connection.execute(
        select(AuditChainHead.seq, AuditChainHead.hash).where(AuditChainHead.id == HEAD_ID)
    ).first()
    return check(_rows(connection, batch), (int(head.seq), str(head.hash)) if head else None)
