from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Literal

from sqlalchemy import ColumnElement, case, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from api.audit import Audit
from api.clinical.plan_rules import plan_problems
from api.config import Settings
from api.errors import Conflict, NotFound, ValidationFailed, coded_refusal, field_error
from api.etag import check_if_match
from api.pagination import cut_page, keyset
from api.patients.service import get_patient
from api.plans.schemas import DiscontinueRequest, PlanContent, PlanRead, RevisionRead
from api.screenings.service import require_eligible
from api.types import parse_id
from models import DosingPlan, DosingPlanRevision, TreatmentSession
from models.base import utcnow


def _validate(content: PlanContent, settings: Settings) -> dict[str, Any]:
    """The revision's columns, or 422 naming every rule it breaks: against the clinic's
    settings (usual dose ranges, least monitoring time, the thresholds in force)."""
    data = content.model_dump()
    if data["dose_mg_per_kg"] is not None and data["weight_basis"] is None:
        data["weight_basis"] = "actual"
    problems = plan_problems(
        data,
        dose_limits=settings.dose_limits,
        clinic_thresholds=settings.thresholds,
        ketamine_min_monitoring_minutes=settings.min_monitoring_minutes,
    )
    if problems:
        raise ValidationFailed(
            [field_error(["body", *field.split(".")], message) for field, message in problems]
        )
    data["thresholds"] = data["thresholds"] or {}
    return data


async def get_plan(
    db: AsyncSession, plan_id: str | uuid.UUID, *, lock: Literal["share", "update"] | None = None
) -> DosingPlan:
    """The plan; ``lock`` locks its row for the rest of the transaction (and re-reads it):
    "share" for a change that depends on the plan's status (a new session), "update" for a
    change of the plan itself (revise, discontinue). The two conflict, so a session is never
    created on a plan being discontinued at the same time."""
    pid = plan_id if isinstance(plan_id, uuid.UUID) else parse_id(plan_id)
    plan = (
        await db.get(
            DosingPlan,
            pid,
            with_for_update=None if lock is None else {"read": lock == "share"},
            populate_existing=lock is not None,
        )
        if pid is not None
        else None
    )
    if plan is None:
        raise NotFound(f"No dosing plan with id {plan_id}.")
    return plan


# Revision numbers are INTEGER columns: a larger number names nothing (and must not reach the
# driver, which rejects it with an error instead of finding no row).
_MAX_REVISION = 2**31 - 1


async def get_revision(db: AsyncSession, plan_id: uuid.UUID, revision: int) -> DosingPlanRevision:
    if not 1 <= revision <= _MAX_REVISION:
        raise NotFound(f"Dosing plan {plan_id} has no revision {revision}.")
    row = await db.scalar(
        select(DosingPlanRevision).where(
            DosingPlanRevision.plan_id == plan_id, DosingPlanRevision.revision == revision
        )
    )
    if row is None:
        raise NotFound(f"Dosing plan {plan_id} has no revision {revision}.")
    return row


@dataclass(frozen=True, slots=True)
class PinnedRevision:
    """What sessions read of the plan revision they pinned."""

    medication: str
    route: str
    min_monitoring_minutes: int
    thresholds: Mapping[str, float] | None


# A plan revision is never changed once written (a change is a new revision), so (plan,
# revision) always names the same content: it is kept per process, which saves the ingest path
# and every session record a query. Bounded: cleared when full.
_PINNED: dict[tuple[uuid.UUID, int], PinnedRevision] = {}
_PINNED_MAX = 10_000


async def pinned_revision(db: AsyncSession, plan_id: uuid.UUID, revision: int) -> PinnedRevision:
    key = (plan_id, revision)
    pinned = _PINNED.get(key)
    if pinned is None:
        row = await get_revision(db, plan_id, revision)
        pinned = PinnedRevision(
            medication=row.medication,
            route=row.route,
            min_monitoring_minutes=row.min_monitoring_minutes,
            thresholds=MappingProxyType(dict(row.thresholds)) if row.thresholds else None,
        )
        if len(_PINNED) >= _PINNED_MAX:
            _PINNED.clear()
        _PINNED[key] = pinned
    return pinned


def plan_read(plan: DosingPlan, revision: DosingPlanRevision) -> PlanRead:
    content = RevisionRead.model_validate(revision).model_dump()
    return PlanRead(
        **content,
        id=plan.id,
        patient_id=plan.patient_id,
        status=plan.status,
        version=plan.version,
        discontinued_at=plan.discontinued_at,
        discontinued_by=plan.discontinued_by,
        discontinue_reason=plan.discontinue_reason,
    )


async def create_plan(
    db: AsyncSession, audit: Audit, patient_id: str, content: PlanContent, *, settings: Settings
) -> PlanRead:
    patient = await get_patient(db, patient_id)
    data = _validate(content, settings)
    await require_eligible(db, patient, medication=data["medication"])
    plan = DosingPlan(patient_id=patient.id, created_by=audit.actor.id)
    db.add(plan)
    await db.flush()
    revision = DosingPlanRevision(plan_id=plan.id, revision=1, created_by=audit.actor.id, **data)
    db.add(revision)
    await db.flush()
    audit.record("create", "dosing_plan", plan.id, patient_id=patient.id)
    return plan_read(plan, revision)


async def read_plan(db: AsyncSession, audit: Audit, plan_id: str) -> PlanRead:
    plan = await get_plan(db, plan_id)
    revision = await get_revision(db, plan.id, plan.current_revision)
    audit.record("read", "dosing_plan", plan.id, patient_id=plan.patient_id)
    return plan_read(plan, revision)


async def list_revisions(
    db: AsyncSession, audit: Audit, plan_id: str, *, limit: int, cursor: str | None
) -> tuple[list[RevisionRead], str | None]:
    """Oldest revision first; keyset on (revision, id) (revision is unique per plan)."""
    plan = await get_plan(db, plan_id)
    stmt = keyset(
        select(DosingPlanRevision).where(DosingPlanRevision.plan_id == plan.id),
        cursor=cursor,
        limit=limit,
        sort=DosingPlanRevision.revision,
        tiebreak=DosingPlanRevision.id,
        kind=int,
    )
    rows, next_cursor = cut_page(list(await db.scalars(stmt)), limit, lambda r: (r.revision, r.id))
    audit.record("read", "dosing_plan", plan.id, patient_id=plan.patient_id)
    return [RevisionRead.model_validate(r) for r in rows], next_cursor


async def read_revision(db: AsyncSession, audit: Audit, plan_id: str, n: int) -> RevisionRead:
    plan = await get_plan(db, plan_id)
    revision = await get_revision(db, plan.id, n)
    audit.record("read", "dosing_plan", plan.id, patient_id=plan.patient_id)
    return RevisionRead.model_validate(revision)


async def _bump(db: AsyncSession, plan: DosingPlan, **values: Any) -> None:
    """Compare-and-swap on the plan's version: a concurrent change makes this a 409."""
    result = await db.execute(
        update(DosingPlan)
        .where(DosingPlan.id == plan.id, DosingPlan.version == plan.version)
        .values(version=plan.version + 1, **values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict("The plan was changed by someone else; reload and try again.")
    await db.refresh(plan)


async def revise_plan(
    db: AsyncSession,
    audit: Audit,
    plan_id: str,
    content: PlanContent,
    reason: str | None,
    if_match: str | None,
    *,
    settings: Settings,
) -> PlanRead:
    plan = await get_plan(db, plan_id, lock="update")
    check_if_match(if_match, plan.version)
    if plan.status != "active":
        raise coded_refusal(
            "plan_discontinued",
            "A discontinued plan cannot be revised: write a new plan for the patient.",
        )
    data = _validate(content, settings)
    previous = await get_revision(db, plan.id, plan.current_revision)
    changed = [
        field_error(
            ["body", name],
            f"a revision may not change the {name} ({getattr(previous, name)} in revision "
            f"{previous.revision}): discontinue this plan and write a new one",
        )
        for name in ("medication", "route")
        if data[name] != getattr(previous, name)
    ]
    if changed:
        raise ValidationFailed(changed)
    await require_eligible(
        db, await get_patient(db, plan.patient_id), medication=data["medication"]
    )
    number = plan.current_revision + 1
    await _bump(db, plan, current_revision=number)
    revision = DosingPlanRevision(
        plan_id=plan.id, revision=number, created_by=audit.actor.id, reason=reason, **data
    )
    db.add(revision)
    await db.flush()
    audit.record("update", "dosing_plan", plan.id, patient_id=plan.patient_id)
    return plan_read(plan, revision)


async def discontinue_plan(
    db: AsyncSession, audit: Audit, plan_id: str, body: DiscontinueRequest, if_match: str | None
) -> PlanRead:
    plan = await get_plan(db, plan_id, lock="update")
    check_if_match(if_match, plan.version)
    if plan.status != "active":
        raise Conflict("The plan is already discontinued.")
    await _bump(
        db,
        plan,
        status="discontinued",
        discontinued_at=utcnow(),
        discontinued_by=audit.actor.id,
        discontinue_reason=body.reason,
    )
    audit.record("discontinue", "dosing_plan", plan.id, patient_id=plan.patient_id)
    revision = await get_revision(db, plan.id, plan.current_revision)
    return plan_read(plan, revision)


async def list_patient_plans(
    db: AsyncSession, audit: Audit, patient_id: str, *, limit: int, cursor: str | None
) -> tuple[list[PlanRead], str | None]:
    """Newest plan first, each with its current revision; keyset on (created_at, id)."""
    patient = await get_patient(db, patient_id)
    stmt = keyset(
        select(DosingPlan, DosingPlanRevision)
        .join(
            DosingPlanRevision,
            (DosingPlanRevision.plan_id == DosingPlan.id)
            & (DosingPlanRevision.revision == DosingPlan.current_revision),
        )
        .where(DosingPlan.patient_id == patient.id),
        cursor=cursor,
        limit=limit,
        sort=DosingPlan.created_at,
        tiebreak=DosingPlan.id,
        descending=True,
    )
    rows, next_cursor = cut_page(
        list((await db.execute(stmt)).all()), limit, lambda r: (r[0].created_at, r[0].id)
    )
    audit.record("read", "dosing_plan", None, patient_id=patient.id)
    return [plan_read(plan, revision) for plan, revision in rows], next_cursor


async def revision_in_force(db: AsyncSession, session: TreatmentSession) -> int:
    """The number of the plan revision ``session`` uses (SPEC §3 "Which revision a session
    uses"): the one it pinned at check-in; before check-in the plan's current one (the session's
    ``plan_revision`` is then only the revision current when it was booked)."""
    if session.checked_in_at is not None:
        return session.plan_revision
    return (await get_plan(db, session.plan_id)).current_revision


def revision_in_force_sql() -> ColumnElement[int]:
    """:func:`revision_in_force` as SQL, for a query that joins the session to its plan."""
    return case(
        (TreatmentSession.checked_in_at.is_(None), DosingPlan.current_revision),
        else_=TreatmentSession.plan_revision,
    )


async def session_revision(db: AsyncSession, session: TreatmentSession) -> DosingPlanRevision:
    """The plan revision a session uses: pinned at check-in, before that the plan's current."""
    return await get_revision(db, session.plan_id, await revision_in_force(db, session))
