"""REST vitals: recording a batch atomically, listing a timeline, retracting a reading.

Recording goes through the readings pipeline (:mod:`api.readings.pipeline`), as every other
entry point does; this module only frames its outcomes as SPEC §5 answers them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from api.alerts.service import resolve_alerts_for_observation
from api.audit import Audit
from api.deps import app_settings
from api.errors import Conflict, ValidationFailed, field_error
from api.pagination import cut_page
from api.people import add_names
from api.readings import pipeline
from api.readings.check import Reading, check_batch_size, with_phase, with_phases
from api.readings.events import publish_readings
from api.retraction import retract_record
from api.sessions.repository import get_session, session_uuid
from api.vitals.repository import vitals_page_query
from models import Observation
from models.base import utcnow

__all__ = [
    "check_batch_size",
    "list_vitals",
    "record_vitals",
    "retract_observation",
]

_COLUMNS = [c.key for c in Observation.__table__.columns]


async def record_vitals(
    db: AsyncSession, audit: Audit, session_id: str, items: Sequence[Reading]
) -> tuple[list[dict[str, Any]], bytes | None]:
    """SPEC §5: atomic — every item valid, or nothing stored (422 names each bad item; 409 for
    readings measured after the session ended, or an external_id already used for a reading of
    another session).

    Returns the stored row for each item, in request order, and, when every item was a new
    reading, those rows' JSON array (already serialized for the live streams)."""
    sid = session_uuid(session_id)
    ingested = await pipeline.ingest(
        db,
        [pipeline.Item(index, item, sid) for index, item in enumerate(items)],
        source=audit.actor.source,
        recorded_by=audit.actor.id,
        recorded_at=utcnow(),
        atomic=True,
        clinic_thresholds=app_settings(audit.request).thresholds,
        session_ids=[sid],
    )
    session = ingested.sessions[sid]
    late = [o.index for o in ingested.failures(pipeline.Kind.after_end)]
    if late:
        ended = session.ended_at.isoformat() if session.ended_at else ""
        raise Conflict(
            f"The session ended at {ended}; readings measured after that are not accepted "
            f"(items {late}).",
            items=late,
        )
    problems = [
        o for o in ingested.failures(pipeline.Kind.invalid, pipeline.Kind.bad_pair) if o.blamed
    ]
    if problems:
        raise ValidationFailed(
            [
                field_error(["body", "observations", p.index, p.field or ""], p.message or "")
                for p in problems
            ]
        )
    foreign = ingested.failures(pipeline.Kind.foreign_external_id)
    if foreign:
        external_id = items[foreign[0].index].external_id
        raise Conflict(
            f"external_id {external_id!r} was already used for a reading of another session.",
            field="external_id",
        )
    outcomes = [ingested.outcomes[i] for i in range(len(items))]
    rows: list[dict[str, Any]] = [o.row for o in outcomes if o.row is not None]
    new = [o.row for o in outcomes if o.kind is pipeline.Kind.accepted and o.row is not None]
    audit.record(
        "create",
        "observation",
        new[0]["id"] if len(new) == 1 else None,
        patient_id=session.patient_id,
    )
    new_json = ingested.new_json.get(sid)
    if len(new) == len(items) and new_json is not None:
        # Every item is a new reading, none repeated: the answer is the new rows, in order.
        return rows, new_json
    # New rows got their phase and names when stored; rows stored before have none yet.
    earlier = list({id(r): r for r in rows if "phase" not in r}.values())
    await add_names(db, with_phases(earlier, session))
    return rows, None


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
