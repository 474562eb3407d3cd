from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, bindparam, false, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from api.alerts.service import alerts_after_transition
from api.audit import Audit
from api.clinical.dose import DoseInputMissing, compute_session_dose
from api.clinical.status_machine import (
    REASON_REQUIRED,
    allowed_next,
    infusion_ended_early,
    is_allowed,
)
from api.clinical.summary import SummaryReading, summarize_vitals
from api.devices.lifecycle import release_bindings_of_ended_session
from api.errors import Conflict, Forbidden, NotFound, ValidationFailed, field_error
from api.etag import check_if_match
from api.live.publishers import publish_status
from api.pagination import cut_page, keyset
from api.patients.service import get_patient
from api.plans.service import get_plan, get_revision, pinned_revision
from api.sessions import gates
from api.sessions.schemas import SessionCreate, TransitionRequest
from api.types import parse_id
from models import DosingPlanRevision, Observation, SessionTransition, TreatmentSession

OVERRIDE_ROLES = frozenset({"clinician"})


# Built once: nearly every request reads its session, and building the statement and its cache
# key each time cost about as much as running it through SQLAlchemy.
_SESSION = (
    select(TreatmentSession)
    .where(TreatmentSession.id == bindparam("session_id"))
    .execution_options(populate_existing=True)
)
_SESSION_FOR_UPDATE = _SESSION.with_for_update()


async def get_session(
    db: AsyncSession, session_id: str | uuid.UUID, *, for_update: bool = False
) -> TreatmentSession:
    sid = session_id if isinstance(session_id, uuid.UUID) else parse_id(session_id)
    if sid is None:
        raise NotFound(f"No session with id {session_id}.")
    stmt = _SESSION_FOR_UPDATE if for_update else _SESSION
    session = await db.scalar(stmt, {"session_id": sid})
    if session is None:
        raise NotFound(f"No session with id {session_id}.")
    return session


async def lock_sessions(
    db: AsyncSession, session_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, TreatmentSession]:
    """Lock the rows of the sessions a request stores readings to, for the rest of its
    transaction, and re-read them.

    Every path that stores readings takes this lock before it checks anything against the
    session (timeline, phase, end, BP partners): a transition or an administration of the
    session (which lock it the same way) waits for the readings to commit, or the readings wait
    for the transition and then see its timeline; two posts to one session are serialized.
    FOR UPDATE, the same strength as the transition's, so it conflicts with it. Locked in id
    order, so two requests that each touch several sessions cannot deadlock. (SQLite: a no-op;
    every transaction there is BEGIN IMMEDIATE.)
    """
    return {sid: await get_session(db, sid, for_update=True) for sid in sorted(set(session_ids))}


async def session_revision(db: AsyncSession, session: TreatmentSession) -> DosingPlanRevision:
    return await get_revision(db, session.plan_id, session.plan_revision)


async def create_session(db: AsyncSession, audit: Audit, body: SessionCreate) -> TreatmentSession:
    patient = await get_patient(db, body.patient_id)
    # Shared lock: a discontinue (FOR UPDATE) waits for this session to commit, or this
    # waits for the discontinue and then sees the plan discontinued (409).
    plan = await get_plan(db, body.dosing_plan_id, lock="share")
    if plan.patient_id != patient.id:
        raise Conflict("The dosing plan belongs to another patient.", field="dosing_plan_id")
    if plan.status != "active":
        raise Conflict("The dosing plan is discontinued and takes no new sessions.")
    session = TreatmentSession(
        patient_id=patient.id,
        plan_id=plan.id,
        plan_revision=plan.current_revision,
        scheduled_at=body.scheduled_at,
        location=body.location,
        responsible_clinician=await _responsible_clinician(db, body.responsible_clinician),
        created_by=audit.actor.id,
    )
    db.add(session)
    await db.flush()
    audit.record("create", "session", session.id, patient_id=patient.id)
    await publish_status(db, session)  # a new session appears on the live boards at once
    return session


async def _responsible_clinician(db: AsyncSession, ref: str | None) -> str | None:
    """The user id of the active clinician ``ref`` names (id or username); 422 otherwise."""
    if ref is None:
        return None
    from models import User

    uid = parse_id(ref)
    user = await db.get(User, uid) if uid is not None else None
    if user is None:
        user = await db.scalar(select(User).where(User.username == ref))
    if user is None or user.role != "clinician" or user.disabled:
        raise ValidationFailed(
            [field_error(["body", "responsible_clinician"], f"{ref!r} is not an active clinician")]
        )
    return str(user.id)


async def session_record(db: AsyncSession, session: TreatmentSession) -> dict[str, Any]:
    """Everything GET /v1/sessions/{id} returns, as plain data."""
    from api.sessions.record import extra_record_parts

    revision = await pinned_revision(db, session.plan_id, session.plan_revision)
    transitions = (
        await db.scalars(
            select(SessionTransition)
            .where(SessionTransition.session_id == session.id)
            .order_by(SessionTransition.at, SessionTransition.recorded_at)
        )
    ).all()
    readings = (await db.execute(summary_readings_query(session.id))).all()
    summary = summarize_vitals(
        [SummaryReading(code=c, value=v, measured_at=m) for c, v, m in readings],
        dosing_started_at=session.dosing_started_at,
        dosing_ended_at=session.dosing_ended_at,
        ended_at=session.ended_at,
    )
    record: dict[str, Any] = {
        **{c.key: getattr(session, c.key) for c in TreatmentSession.__table__.columns},
        "medication": revision.medication,
        "route": revision.route,
        "min_monitoring_minutes": revision.min_monitoring_minutes,
        "transitions": list(transitions),
        "vitals_summary": summary,
    }
    record.update(await extra_record_parts(db, session))
    return record


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


async def read_session(db: AsyncSession, audit: Audit, session_id: str) -> dict[str, Any]:
    session = await get_session(db, session_id)
    audit.record("read", "session", session.id, patient_id=session.patient_id)
    return await session_record(db, session)


def _list_query(
    *,
    patient_id: str | None,
    status: str | None,
    location: str | None,
    from_: datetime | None,
    to: datetime | None,
) -> Select[Any]:
    stmt = select(TreatmentSession)
    if patient_id is not None:
        pid = parse_id(patient_id)
        stmt = stmt.where(TreatmentSession.patient_id == pid) if pid else stmt.where(false())
    if status is not None:
        stmt = stmt.where(TreatmentSession.status == status)
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
        _list_query(**filters),
        cursor=cursor,
        limit=limit,
        sort=TreatmentSession.scheduled_at,
        tiebreak=TreatmentSession.id,
        descending=True,
    )


async def list_sessions(
    db: AsyncSession,
    audit: Audit,
    *,
    limit: int,
    cursor: str | None,
    **filters: Any,
) -> tuple[list[TreatmentSession], str | None]:
    """Newest ``scheduled_at`` first; keyset on (scheduled_at, id) descending."""
    rows, next_cursor = cut_page(
        list((await db.scalars(history_query(limit=limit, cursor=cursor, **filters))).all()),
        limit,
        lambda r: (r.scheduled_at, r.id),
    )
    for row in rows:
        audit.record("read", "session", row.id, patient_id=row.patient_id)
    return rows, next_cursor


def _last_timeline_at(session: TreatmentSession) -> datetime | None:
    stamps = [
        s
        for s in (
            session.checked_in_at,
            session.dosing_started_at,
            session.dosing_ended_at,
            session.ended_at,
        )
        if s is not None
    ]
    return max(stamps) if stamps else None


def _require_override_role(audit: Audit) -> None:
    if audit.actor.role not in OVERRIDE_ROLES:
        raise Forbidden("Only a clinician may override a safety gate.")


async def transition(
    db: AsyncSession, audit: Audit, session_id: str, body: TransitionRequest, if_match: str | None
) -> TreatmentSession:
    session = await get_session(db, session_id, for_update=True)
    check_if_match(if_match, session.version)
    current, target = session.status, body.to
    if not is_allowed(current, target):
        allowed = allowed_next(current)
        raise Conflict(
            f"A session that is {current} cannot move to {target}; allowed next: "
            f"{', '.join(allowed) or 'none (the session has ended)'}.",
            allowed=allowed,
        )
    at = body.at or datetime.now(UTC)
    previous = _last_timeline_at(session)
    if previous is not None and at < previous:
        raise Conflict(
            f"The transition time {at.isoformat()} is before the previous step "
            f"({previous.isoformat()}).",
            allowed=allowed_next(current),
        )
    if target in REASON_REQUIRED and not body.reason:
        raise ValidationFailed(
            [field_error(["body", "reason"], f"a reason is required to move to {target}")]
        )
    revision = await session_revision(db, session)
    values: dict[str, Any] = {"status": target}
    overridden: list[dict[str, object]] | None = None

    if target == "checked_in":
        patient = await get_patient(db, session.patient_id)
        try:
            dose = compute_session_dose(
                dose_mg_per_kg=revision.dose_mg_per_kg,
                dose_mg=revision.dose_mg,
                weight_basis=revision.weight_basis,
                max_dose_mg=revision.max_dose_mg,
                weight_kg=body.weight_kg,
                height_cm=patient.height_cm,
                sex=patient.sex,
            )
        except DoseInputMissing as missing:
            raise Conflict(
                missing.message, unmet=[{"code": missing.code, "message": missing.message}]
            ) from None
        values.update(
            checked_in_at=at,
            weight_kg=dose.weight_kg,
            weight_basis=dose.weight_basis,
            basis_weight_kg=dose.basis_weight_kg,
            dose_mg_per_kg=dose.dose_mg_per_kg,
            uncapped_dose_mg=dose.uncapped_dose_mg,
            planned_dose_mg=dose.planned_dose_mg,
            dose_capped=dose.capped,
        )
    elif target == "dosing":
        overridden = await _gate(
            body,
            audit,
            await gates.predose_unmet(db, session, revision, at),
            "Pre-dose checks are not met",
        )
        values["dosing_started_at"] = at
    elif target == "monitoring":
        started = session.dosing_started_at or at
        if (
            infusion_ended_early(
                route=revision.route,
                infusion_minutes=revision.infusion_minutes,
                dosing_minutes=(at - started).total_seconds() / 60,
            )
            and not body.reason
        ):
            raise ValidationFailed(
                [
                    field_error(
                        ["body", "reason"],
                        f"the infusion ran less than its planned {revision.infusion_minutes} "
                        "minutes: give a reason for ending it early",
                    )
                ]
            )
        values["dosing_ended_at"] = at
    elif target == "discharged":
        overridden = await _gate(
            body,
            audit,
            await gates.discharge_unmet(db, session, revision, at),
            "Discharge criteria are not met",
        )
        values["ended_at"] = at
    else:  # cancelled, transferred
        values["ended_at"] = at
        if current == "dosing":
            values["dosing_ended_at"] = at

    result = await db.execute(
        update(TreatmentSession)
        .where(TreatmentSession.id == session.id, TreatmentSession.version == session.version)
        .values(version=session.version + 1, **values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict(
            "The session was changed at the same time; reload and try again.",
            allowed=allowed_next(current),
        )
    db.add(
        SessionTransition(
            session_id=session.id,
            from_status=current,
            to_status=target,
            at=at,
            reason=body.reason,
            override_reason=body.override_reason if overridden else None,
            overridden=overridden,
            recorded_by=audit.actor.id,
        )
    )
    await db.flush()
    await db.refresh(session)
    await alerts_after_transition(db, session, target, at)
    await release_bindings_of_ended_session(db, session)
    await publish_status(db, session)
    audit.record("transition", "session", session.id, patient_id=session.patient_id)
    if overridden:
        audit.record("override", "session", session.id, patient_id=session.patient_id)
    return session


async def _gate(
    body: TransitionRequest, audit: Audit, unmet: list[Any], title: str
) -> list[dict[str, object]] | None:
    if not unmet:
        return None
    items = gates.as_dicts(unmet)
    if body.override_reason:
        _require_override_role(audit)
        # items marked not overridable (screening, checklist stops) pass no override
        if not any(u.get("overridable") is False for u in items):
            return items
    raise Conflict(
        f"{title}: " + "; ".join(str(u["message"]) for u in items),
        code=items[0]["code"],
        unmet=items,
    )


async def readiness(db: AsyncSession, audit: Audit, session_id: str) -> dict[str, Any]:
    session = await get_session(db, session_id)
    revision = await session_revision(db, session)
    now = datetime.now(UTC)
    dosing = gates.as_dicts(await gates.predose_unmet(db, session, revision, now))
    discharge = gates.as_dicts(await gates.discharge_unmet(db, session, revision, now))
    audit.record("read", "session", session.id, patient_id=session.patient_id)
    return {
        "dosing": {"ready": not dosing, "unmet": dosing},
        "discharge": {"ready": not discharge, "unmet": discharge},
    }
