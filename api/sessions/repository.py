"""Loading and locking treatment-session rows: the one place every domain reads a session from.

Below every service: it imports only the models, so a domain that needs a session (alerts,
administrations, readings, checklists...) does not import the session orchestrator.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, bindparam, false, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from api.errors import NotFound
from api.pagination import cut_page, keyset
from api.types import parse_id
from models import Observation, SessionTransition, TreatmentSession
from models.session import OPEN_STATUSES

# Built once: nearly every request reads its session, and building the statement and its cache
# key each time cost about as much as running it through SQLAlchemy.
_SESSION = (
    select(TreatmentSession)
    .where(TreatmentSession.id == bindparam("session_id"))
    .execution_options(populate_existing=True)
)
_SESSION_FOR_UPDATE = _SESSION.with_for_update()
_SESSION_FOR_SHARE = _SESSION.with_for_update(read=True)


def session_uuid(session_id: str | uuid.UUID) -> uuid.UUID:
    """The id a path names (404 when it cannot be one)."""
    sid = session_id if isinstance(session_id, uuid.UUID) else parse_id(session_id)
    if sid is None:
        raise NotFound(f"No session with id {session_id}.")
    return sid


async def get_session(
    db: AsyncSession,
    session_id: str | uuid.UUID,
    *,
    for_update: bool = False,
    for_share: bool = False,
) -> TreatmentSession:
    """The session row (404 when there is none); ``for_update``: locked against every other
    lock of it until commit; ``for_share``: locked against FOR UPDATE only (see
    :func:`share_sessions`)."""
    sid = session_uuid(session_id)
    stmt = _SESSION_FOR_UPDATE if for_update else _SESSION_FOR_SHARE if for_share else _SESSION
    session = await db.scalar(stmt, {"session_id": sid})
    if session is None:
        raise NotFound(f"No session with id {session_id}.")
    return session


def summary_readings_query(session_id: uuid.UUID) -> Select[str, float, datetime]:
    """The readings the vitals summary needs (served by ix_observations_session_measured)."""
    return (
        select(Observation.code, Observation.value, Observation.measured_at)
        .where(
            Observation.session_id == session_id,
            Observation.status == "final",
            Observation.code.in_(("systolic_bp", "diastolic_bp", "spo2")),
        )
        # ties at one measured_at: the reading recorded last comes last (and counts)
        .order_by(Observation.measured_at, Observation.recorded_at, Observation.id)
    )


async def summary_readings(
    db: AsyncSession, session_id: uuid.UUID
) -> list[tuple[str, float, datetime]]:
    return [(c, v, m) for c, v, m in await db.execute(summary_readings_query(session_id))]


async def session_transitions(db: AsyncSession, session_id: uuid.UUID) -> list[SessionTransition]:
    """The session's transitions in timeline order."""
    return list(
        (
            await db.scalars(
                select(SessionTransition)
                .where(SessionTransition.session_id == session_id)
                .order_by(SessionTransition.at, SessionTransition.recorded_at)
            )
        ).all()
    )


def _filtered(
    *,
    patient_id: str | None,
    status: list[str] | None,
    location: str | None,
    from_: datetime | None,
    to: datetime | None,
) -> Select[Any]:
    stmt = select(TreatmentSession)
    if patient_id is not None:
        pid = parse_id(patient_id)
        stmt = stmt.where(TreatmentSession.patient_id == pid) if pid else stmt.where(false())
    if status is not None:
        stmt = stmt.where(TreatmentSession.status.in_(status))
    if location is not None:
        stmt = stmt.where(TreatmentSession.location == location)
    if from_ is not None:
        stmt = stmt.where(TreatmentSession.scheduled_at >= from_)
    if to is not None:
        stmt = stmt.where(TreatmentSession.scheduled_at < to)
    return stmt


def history_query(*, limit: int, cursor: str | None, **filters: Any) -> Select[Any]:
    """One page of the session history / day board (one row more than ``limit``)."""
    return keyset(
        _filtered(**filters),
        cursor=cursor,
        limit=limit,
        sort=TreatmentSession.scheduled_at,
        tiebreak=TreatmentSession.id,
        descending=True,
    )


async def page_sessions(
    db: AsyncSession, *, limit: int, cursor: str | None, **filters: Any
) -> tuple[list[TreatmentSession], str | None]:
    """Newest ``scheduled_at`` first; keyset on (scheduled_at, id) descending."""
    return cut_page(
        list((await db.scalars(history_query(limit=limit, cursor=cursor, **filters))).all()),
        limit,
        lambda r: (r.scheduled_at, r.id),
    )


async def other_open_session(
    db: AsyncSession, session: TreatmentSession
) -> TreatmentSession | None:
    """Another session of the patient still open (checked in, dosing or monitoring)."""
    return await db.scalar(
        select(TreatmentSession)
        .where(
            TreatmentSession.patient_id == session.patient_id,
            TreatmentSession.id != session.id,
            TreatmentSession.status.in_(OPEN_STATUSES),
        )
        .limit(1)
    )


async def last_dosed_at(db: AsyncSession, session: TreatmentSession) -> datetime | None:
    """When the patient's last dosed session of this plan started dosing."""
    rows = await db.scalars(
        select(TreatmentSession.dosing_started_at)
        .where(
            TreatmentSession.patient_id == session.patient_id,
            TreatmentSession.plan_id == session.plan_id,
            TreatmentSession.id != session.id,
            TreatmentSession.dosing_started_at.is_not(None),
        )
        .order_by(TreatmentSession.dosing_started_at.desc())
        .limit(1)
    )
    return rows.first()


async def update_if_version(
    db: AsyncSession, session: TreatmentSession, values: dict[str, Any]
) -> bool:
    """Write ``values`` and the next version, only if the row is still at ``session.version``
    (False: changed at the same time). An IntegrityError (one open session per patient)
    propagates."""
    result = await db.execute(
        update(TreatmentSession)
        .where(TreatmentSession.id == session.id, TreatmentSession.version == session.version)
        .values(version=session.version + 1, **values)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


# The gated vitals (api.clinical.gates.GATE_VITALS) the gates look back at, over 24 hours.
_GATE_LOOKBACK = timedelta(hours=24)


def _gate_window(codes: Sequence[str], until: datetime) -> Any:
    return (
        Observation.status == "final",
        Observation.code.in_(codes),
        Observation.measured_at <= until,
        Observation.measured_at >= until - _GATE_LOOKBACK,
    )


async def gate_readings(
    db: AsyncSession, session_id: object, codes: Sequence[str], *, until: datetime
) -> list[tuple[str, float, datetime]]:
    """Non-retracted readings of ``codes`` of the 24 hours up to ``until`` as (code, value,
    measured_at). Two readings of one vital at one measured_at: the one recorded last comes
    last (the gate takes the later one in this order)."""
    rows = await db.execute(
        select(Observation.code, Observation.value, Observation.measured_at)
        .where(Observation.session_id == session_id, *_gate_window(codes, until))
        .order_by(Observation.measured_at, Observation.recorded_at, Observation.id)
    )
    return [(c, v, m) for c, v, m in rows]


async def gate_readings_of_sessions(
    db: AsyncSession, session_ids: Sequence[uuid.UUID], codes: Sequence[str], *, until: datetime
) -> dict[uuid.UUID, list[tuple[str, float, datetime]]]:
    """:func:`gate_readings` of many sessions in one query (every session present)."""
    out: dict[uuid.UUID, list[tuple[str, float, datetime]]] = {sid: [] for sid in session_ids}
    for sid, code, value, measured_at in await db.execute(
        select(Observation.session_id, Observation.code, Observation.value, Observation.measured_at)
        .where(Observation.session_id.in_(session_ids), *_gate_window(codes, until))
        .order_by(Observation.measured_at, Observation.recorded_at, Observation.id)
    ):
        out[sid].append((code, value, measured_at))
    return out


async def readings_since(
    db: AsyncSession, session_id: uuid.UUID, at: datetime
) -> list[tuple[uuid.UUID, str, float, datetime]]:
    """(id, code, value, measured_at) of the session's non-retracted readings measured at or
    after ``at``."""
    rows = await db.execute(
        select(Observation.id, Observation.code, Observation.value, Observation.measured_at).where(
            Observation.session_id == session_id,
            Observation.status == "final",
            Observation.measured_at >= at,
        )
    )
    return [(i, c, v, m) for i, c, v, m in rows]


async def share_sessions(
    db: AsyncSession, session_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, TreatmentSession]:
    """Lock the rows of the sessions a request stores readings to against changes of them, for
    the rest of its transaction, and re-read them: FOR SHARE, in id order.

    What the readings pipeline takes before it checks anything against a session (timeline,
    phase, end): a transition, an administration or the overdue scan of the session (FOR
    UPDATE, which conflicts with FOR SHARE) waits for the readings to commit, or the readings
    wait for it and then see its timeline. Readings of one session do not wait for each other
    (FOR SHARE does not conflict with FOR SHARE); the two halves of one blood pressure are kept
    whole by their own lock (``api.readings.repository.lock_bp_readings``). Nothing that holds
    this lock may update the session row (two holders would deadlock). Id order: two requests
    that each touch several sessions cannot deadlock against a transition. (SQLite: no row
    locks; every transaction there is BEGIN IMMEDIATE.)
    """
    return {sid: await get_session(db, sid, for_share=True) for sid in sorted(set(session_ids))}
