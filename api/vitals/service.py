"""Recording, listing and retracting vital-sign readings.

The hot path: one query for the session, one for stored BP partners (only when the batch has
blood pressure), one multi-row INSERT ... ON CONFLICT DO NOTHING, one look-up of duplicates.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import Select, bindparam, false, select, text, tuple_
from sqlalchemy.dialects import sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from api.alerts.service import raise_alerts_for_readings, resolve_alerts_for_observation
from api.audit import Audit
from api.clinical.phase import Phase, phase_labeler
from api.clinical.reading_time import too_early_problem
from api.clinical.vitals import VitalValueError, normalize
from api.config import clinic_zone, get_settings
from api.errors import Conflict, ValidationFailed, field_error
from api.live.publishers import publish_readings
from api.pagination import cut_page, keyset
from api.people import add_names
from api.retraction import retract_record
from api.sessions.repository import get_session
from api.types import range_problem
from models import Observation, TreatmentSession
from models.base import utcnow

_TABLE = Observation.__table__
_COLUMNS = [c.key for c in _TABLE.columns]


class Reading(Protocol):
    """One reading as an entry point received it (a ``ReadingInput``, or the REST body's item
    as validated)."""

    @property
    def code(self) -> str: ...
    @property
    def value(self) -> float: ...
    @property
    def unit(self) -> str: ...
    @property
    def measured_at(self) -> datetime: ...
    @property
    def external_id(self) -> str | None: ...
    @property
    def phase(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class ReadingInput:
    code: str
    value: float
    unit: str
    measured_at: datetime
    external_id: str | None = None
    phase: str | None = None


def check_batch_size(count: int) -> None:
    """A request may carry at most VIGIL_MAX_BATCH_OBSERVATIONS readings (422 otherwise)."""
    limit = get_settings().max_batch_observations
    if count > limit:
        raise ValidationFailed(
            [
                field_error(
                    ["body", "observations"],
                    f"at most {limit} readings per request (this one has {count}); "
                    "send the rest in further requests",
                )
            ]
        )


@dataclass(frozen=True, slots=True)
class ItemProblem:
    index: int
    field: str
    message: str


def with_phase(row: dict[str, Any], session: TreatmentSession) -> dict[str, Any]:
    return with_phases([row], session)[0]


# Phase member -> its plain value; on a 500-row page the enum's ``.value`` property showed.
_PHASE_VALUES = {phase: phase.value for phase in Phase}


def with_phases(rows: list[dict[str, Any]], session: TreatmentSession) -> list[dict[str, Any]]:
    """Each row (a reading of ``session``) with its phase, derived from the session timeline."""
    label = phase_labeler(session.dosing_started_at, session.dosing_ended_at)
    for row in rows:
        row["phase"] = _PHASE_VALUES[label(row["measured_at"])]
    return rows


def check_reading(
    session: TreatmentSession,
    index: int,
    item: Reading,
    *,
    source: str,
    recorded_by: str | None,
    recorded_at: datetime,
    phase_of: Callable[[datetime], Phase] | None = None,
) -> dict[str, Any] | list[ItemProblem]:
    """Validate one reading against the vital table and the session timeline; a new row or
    the problems with it. ``phase_of``: the session's :func:`phase_labeler`, when the caller
    checks many readings of it."""
    try:
        normalized = normalize(item.code, item.value, item.unit)
    except VitalValueError as err:
        return [ItemProblem(index, err.field, err.message)]
    problem = range_problem(item.measured_at) or too_early_problem(
        item.measured_at,
        checked_in_at=session.checked_in_at,
        scheduled_at=session.scheduled_at,
        tz=clinic_zone(),
    )
    if problem is not None:
        return [ItemProblem(index, "measured_at", problem)]
    if phase_of is None:
        phase_of = phase_labeler(session.dosing_started_at, session.dosing_ended_at)
    derived = phase_of(item.measured_at)
    if item.phase is not None and item.phase != derived.value:
        return [
            ItemProblem(
                index,
                "phase",
                f"phase {item.phase!r} contradicts the session timeline: a reading measured at "
                f"{item.measured_at.isoformat()} is {derived.value}",
            )
        ]
    return {
        "id": uuid.uuid4(),
        "session_id": session.id,
        "code": item.code,
        "value": normalized.value,
        "unit": normalized.unit,
        "original_value": normalized.original_value,
        "original_unit": normalized.original_unit,
        "measured_at": item.measured_at.astimezone(UTC),
        "status": "final",
        "external_id": item.external_id,
        "source": source,
        "recorded_by": recorded_by,
        "recorded_at": recorded_at,
        "retracted_at": None,
        "retracted_by": None,
        "retraction_reason": None,
    }


def after_end(session: TreatmentSession, measured_at: datetime) -> bool:
    return session.ended_at is not None and measured_at > session.ended_at


# The stored halves of blood-pressure readings at given times (built once: a single systolic or
# diastolic post runs it).
_BP_PARTNERS = select(Observation.code, Observation.value, Observation.measured_at).where(
    Observation.session_id == bindparam("session_id"),
    Observation.status == "final",
    Observation.code.in_(("systolic_bp", "diastolic_bp")),
    Observation.measured_at.in_(bindparam("times", expanding=True)),
)


async def bp_pair_problems(
    db: AsyncSession, session_id: uuid.UUID, rows: Sequence[tuple[int, dict[str, Any]]]
) -> list[ItemProblem]:
    """Systolic must exceed diastolic for one BP reading (same measured_at), whether the
    partner is in this batch or already stored."""
    bp = [(i, r) for i, r in rows if r["code"] in ("systolic_bp", "diastolic_bp")]
    if not bp:
        return []
    by_time: dict[tuple[uuid.UUID, datetime], dict[str, tuple[int | None, float]]] = {}
    codes_at: dict[datetime, set[str]] = {}
    for _, r in bp:
        codes_at.setdefault(r["measured_at"], set()).add(r["code"])
    # A stored partner only matters for a time the batch does not hold both halves of (the
    # batch's own values are the pair otherwise), so a batch of whole BP readings needs no query.
    lone = {t for t, codes in codes_at.items() if len(codes) < 2}
    stored = (
        await db.execute(_BP_PARTNERS, {"session_id": session_id, "times": sorted(lone)})
        if lone
        else ()
    )
    for code, value, measured_at in stored:
        by_time.setdefault((session_id, measured_at), {})[code] = (None, value)
    for i, r in bp:
        by_time.setdefault((r["session_id"], r["measured_at"]), {})[r["code"]] = (i, r["value"])
    problems = []
    for pair in by_time.values():
        if "systolic_bp" in pair and "diastolic_bp" in pair:
            (si, sys_v), (di, dia_v) = pair["systolic_bp"], pair["diastolic_bp"]
            if sys_v <= dia_v:
                index = si if si is not None else di
                if index is not None:
                    problems.append(
                        ItemProblem(
                            index,
                            "value",
                            f"systolic {sys_v:g} must be above diastolic {dia_v:g} for one "
                            "blood-pressure reading (same measured_at)",
                        )
                    )
    return problems


def _insert_ignoring_duplicates(insert: Any) -> Any:
    table = Observation.__table__
    return (
        insert(table)
        .on_conflict_do_nothing(index_elements=["source", "external_id"])
        .returning(table.c.id)
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


class StoredReadings(list[tuple[dict[str, Any], bool]]):
    """(row, is_new) for each distinct row stored, in order. ``new_json``: the new rows as the
    JSON array announced on the live streams (the API's own JSON for them), when that is one
    array."""

    new_json: bytes | None = None


async def store_readings(
    db: AsyncSession, session: TreatmentSession, rows: list[dict[str, Any]]
) -> StoredReadings:
    """Store checked rows of one session (every entry point: REST, push, HL7 v2, FHIR).

    Repeats of one external_id in ``rows`` are one reading; (row, is_new) comes back for each
    distinct row, in order (an already stored reading may belong to another session). New
    readings raise their alerts and are announced on the live streams.
    """
    stored = StoredReadings(await insert_readings(db, _dedupe_in_batch(rows)))
    new = await add_names(db, with_phases([r for r, is_new in stored if is_new], session))
    await raise_alerts_for_readings(db, session, new)
    published = publish_readings(db, session, new)
    if len(published) == 1:
        stored.new_json = published[0]
    return stored


async def record_vitals(
    db: AsyncSession, audit: Audit, session_id: str, items: Sequence[Reading]
) -> tuple[list[dict[str, Any]], bytes | None]:
    """SPEC §5: atomic — every item valid, or nothing stored (422 names each bad item).

    Returns the stored row for each item, in request order, and, when every item was a new
    reading, those rows' JSON array (already serialized for the live streams)."""
    # Locked until commit (see lock_sessions): the end, phase and BP-pair checks below stay
    # true until these readings are stored and their alerts raised.
    session = await get_session(db, session_id, for_update=True)
    late = (  # a session still open takes any time (the common case: no per-item check)
        [i for i, item in enumerate(items) if after_end(session, item.measured_at)]
        if session.ended_at is not None
        else []
    )
    if late:
        ended = session.ended_at.isoformat() if session.ended_at else ""
        raise Conflict(
            f"The session ended at {ended}; readings measured after that are not accepted "
            f"(items {late}).",
            items=late,
        )
    now = utcnow()
    phase_of = phase_labeler(session.dosing_started_at, session.dosing_ended_at)
    problems: list[ItemProblem] = []
    rows: list[tuple[int, dict[str, Any]]] = []
    for index, item in enumerate(items):
        checked = check_reading(
            session,
            index,
            item,
            source=audit.actor.source,
            recorded_by=audit.actor.id,
            recorded_at=now,
            phase_of=phase_of,
        )
        if isinstance(checked, list):
            problems.extend(checked)
        else:
            rows.append((index, checked))
    problems.extend(await bp_pair_problems(db, session.id, rows))
    if problems:
        raise ValidationFailed(
            [
                field_error(["body", "observations", p.index, p.field], p.message)
                for p in sorted(problems, key=lambda p: p.index)
            ]
        )
    stored = await store_readings(db, session, [r for _, r in rows])
    foreign = [r["external_id"] for r, _ in stored if r["session_id"] != session.id]
    if foreign:
        raise Conflict(
            f"external_id {foreign[0]!r} was already used for a reading of another session.",
            field="external_id",
        )
    new = [r for r, is_new in stored if is_new]
    audit.record(
        "create",
        "observation",
        new[0]["id"] if len(new) == 1 else None,
        patient_id=session.patient_id,
    )
    if len(new) == len(rows) and stored.new_json is not None:
        # Every item is a new reading, none repeated: the answer is the new rows, in order.
        return [r for r, _ in stored], stored.new_json
    # New rows got their phase and names in store_readings; rows stored before have none yet.
    earlier = [r for r, _ in stored if "phase" not in r]
    await add_names(db, earlier)
    return _in_request_order(
        rows, [r if "phase" in r else with_phase(r, session) for r, _ in stored]
    ), None


def _dedupe_in_batch(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The same external_id twice in one request is one reading."""
    seen: set[str] = set()
    out = []
    for r in rows:
        key = r["external_id"]
        if key is None or key not in seen:
            out.append(r)
            if key is not None:
                seen.add(key)
    return out


def _in_request_order(
    rows: list[tuple[int, dict[str, Any]]], stored: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Map every input item (in-batch repeats included) to its stored row."""
    by_ext = {r["external_id"]: r for r in stored if r["external_id"] is not None}
    by_id = {r["id"]: r for r in stored}
    return [
        by_ext[r["external_id"]] if r["external_id"] is not None else by_id[r["id"]]
        for _, r in rows
    ]


def _phase_filter(stmt: Select[Any], session: TreatmentSession, phase: str) -> Select[Any]:
    start, end = session.dosing_started_at, session.dosing_ended_at
    if phase == "pre":
        return stmt.where(Observation.measured_at < start) if start else stmt
    if start is None:
        return stmt.where(false())
    if phase == "intra":
        stmt = stmt.where(Observation.measured_at >= start)
        return stmt.where(Observation.measured_at < end) if end else stmt
    return stmt.where(Observation.measured_at >= end) if end else stmt.where(false())


async def list_vitals(
    db: AsyncSession,
    audit: Audit,
    session_id: str,
    *,
    phase: str | None,
    code: str | None,
    since: datetime | None,
    include_retracted: bool,
    limit: int,
    cursor: str | None,
) -> tuple[list[dict[str, Any]], str | None]:
    session = await get_session(db, session_id)
    stmt = vitals_page_query(
        session,
        phase=phase,
        code=code,
        since=since,
        include_retracted=include_retracted,
        limit=limit,
        cursor=cursor,
    )
    # On the session's connection, not through the ORM session: plain rows, without the ORM's
    # per-row loading machinery (a third of a 500-row page's time).
    result = await (await db.connection()).execute(stmt)
    keys = list(result.keys())
    rows, next_cursor = cut_page(
        [dict(zip(keys, r, strict=True)) for r in result],
        limit,
        lambda r: (r["measured_at"], r["id"]),
    )
    audit.record("read", "observation", None, patient_id=session.patient_id)
    return await add_names(db, with_phases(rows, session)), next_cursor


def vitals_page_query(
    session: TreatmentSession,
    *,
    phase: str | None = None,
    code: str | None = None,
    since: datetime | None = None,
    include_retracted: bool = False,
    limit: int = 50,
    cursor: str | None = None,
) -> Select[Any]:
    """One page of a session's timeline (one row more than ``limit``, to know if more follow).

    Served by ix_observations_session_measured; the bench checks the plan at 10M readings."""
    # Plain columns, not ORM entities: a 500-row page loaded as entities spent most of its time
    # in identity-map bookkeeping and attribute access, for rows that are only serialized.
    stmt: Select[Any] = select(*_TABLE.c).where(Observation.session_id == session.id)
    if not include_retracted:
        stmt = stmt.where(Observation.status == "final")
    if code is not None:
        stmt = stmt.where(Observation.code == code)
    if since is not None:
        stmt = stmt.where(Observation.measured_at >= since)
    if phase is not None:
        stmt = _phase_filter(stmt, session, phase)
    return keyset(
        stmt, cursor=cursor, limit=limit, sort=Observation.measured_at, tiebreak=Observation.id
    )


async def retract_observation(
    db: AsyncSession, audit: Audit, session_id: str, observation_id: str, reason: str
) -> dict[str, Any]:
    session = await get_session(db, session_id)
    observation = await retract_record(
        db,
        Observation,
        session,
        observation_id,
        noun="reading",
        actor_id=audit.actor.id,
        reason=reason,
    )
    await resolve_alerts_for_observation(db, session, observation.id)
    audit.record("retract", "observation", observation.id, patient_id=session.patient_id)
    row = with_phase({c: getattr(observation, c) for c in _COLUMNS}, session)
    await add_names(db, [row])
    publish_readings(db, session, [row])
    return row
