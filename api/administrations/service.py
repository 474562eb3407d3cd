"""Doses given in a session and their waste: the controlled-substance record (SPEC §6).

Rules are pure functions in :mod:`api.clinical.administration`; this module loads the session
(locked, so two doses recorded at once cannot both slip under the planned dose), applies them
and stores the row.
"""

from __future__ import annotations

import uuid
from datetime import tzinfo
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from api.administrations.schemas import AdministrationCreate
from api.audit import Audit
from api.clinical.administration import (
    ESKETAMINE_DEVICE_MG,
    AdministrationRuleError,
    check_esketamine_devices,
    check_volumes,
    check_waste,
    exceeds_planned_dose,
)
from api.deps import Actor
from api.errors import Conflict, Forbidden, ValidationFailed, field_error
from api.pagination import cut_page, keyset
from api.retraction import retract_record
from api.sessions.service import OVERRIDE_ROLES, get_session, session_revision
from api.types import parse_id
from models import Administration, TreatmentSession, User

# A dose is given once dosing has started: the dosing transition is where the pre-dose gate is
# checked, and the reading phases and alerts count from its time. A dose recorded while the
# patient is only checked in would bypass the gate and leave the readings after it unwatched.
DOSING_STATUSES = ("dosing", "monitoring")
WITNESS_ROLES = frozenset({"nurse", "clinician"})
_COLUMNS = [c.key for c in Administration.__table__.columns]


def administration_dict(row: Administration) -> dict[str, Any]:
    return {c: getattr(row, c) for c in _COLUMNS}


async def witness_problem(db: AsyncSession, witness_id: str, actor: Actor) -> str | None:
    """Why ``witness_id`` cannot witness ``actor``'s waste, or None: it must name another person
    who is an active nurse or clinician."""
    uid = parse_id(witness_id)
    witness = await db.get(User, uid) if uid is not None else None
    if witness is None:
        return f"{witness_id!r} is not a member of staff."
    if str(witness.id) == actor.id:
        return "The waste witness must be a different person from the one who gave the dose."
    if witness.role not in WITNESS_ROLES:
        return (
            f"The waste witness must be a nurse or clinician; {witness.display_name} is "
            f"{witness.role}."
        )
    if witness.disabled:
        return f"{witness.display_name}'s account is disabled; another witness is needed."
    return None


async def given_mg(db: AsyncSession, session_id: uuid.UUID) -> float:
    """The session's total given: what the planned-dose ceiling is checked against. A retracted
    (entered-in-error) dose was never given and does not count."""
    total = await db.scalar(
        select(func.coalesce(func.sum(Administration.dose_mg), 0.0)).where(
            Administration.session_id == session_id, Administration.not_retracted()
        )
    )
    return float(total or 0.0)


def _rule_error(err: AdministrationRuleError) -> ValidationFailed:
    return ValidationFailed([field_error(["body", err.field], err.message)])


async def record_administration(
    db: AsyncSession,
    audit: Audit,
    session_id: str,
    body: AdministrationCreate,
    *,
    clinic_tz: tzinfo,
) -> dict[str, Any]:
    session = await get_session(db, session_id, for_update=True)
    if session.status not in DOSING_STATUSES:
        hint = (
            " Start dosing first (POST /transitions with to=dosing and the time dosing began): "
            "that checks the pre-dose vitals."
            if session.status in ("scheduled", "checked_in")
            else ""
        )
        raise Conflict(
            f"A dose can be recorded only for a session that is dosing or monitoring; this one "
            f"is {session.status}.{hint}",
            session_status=session.status,
        )
    revision = await session_revision(db, session)
    for field, given, in_plan in (
        ("medication", body.medication, revision.medication),
        ("route", body.route, revision.route),
    ):
        if given != in_plan:
            raise Conflict(
                f"The session's dosing plan (revision {revision.revision}) is for "
                f"{revision.medication} by {revision.route}; {field} {given!r} does not match it.",
                field=field,
            )
    _check_fields(session, body, clinic_tz)
    nasal_spray = body.medication == "esketamine" and body.route == "intranasal"
    try:
        if nasal_spray:
            check_esketamine_devices(body.dose_mg, body.devices)
        elif body.devices is not None:
            raise AdministrationRuleError(
                "devices_not_applicable",
                "devices",
                "devices are counted only for esketamine nasal spray.",
            )
        check_volumes(
            dose_mg=body.dose_mg,
            concentration_mg_per_ml=body.concentration_mg_per_ml,
            volume_drawn_ml=body.volume_drawn_ml,
            volume_administered_ml=body.volume_administered_ml,
            wasted_mg=body.wasted_mg,
        )
        check_waste(
            wasted_mg=body.wasted_mg,
            witness_id=body.waste_witness_id,
            administered_by=audit.actor.id,
        )
    except AdministrationRuleError as err:
        raise _rule_error(err) from None
    witness_id = None
    if body.waste_witness_id is not None:
        problem = await witness_problem(db, body.waste_witness_id, audit.actor)
        if problem:
            raise ValidationFailed([field_error(["body", "waste_witness_id"], problem)])
        witness_id = str(parse_id(body.waste_witness_id))  # the canonical spelling of the id

    already = await given_mg(db, session.id)
    planned = session.planned_dose_mg or 0.0
    over = exceeds_planned_dose(
        already_given_mg=already, this_dose_mg=body.dose_mg, planned_dose_mg=planned
    )
    if over:
        # Refused attempts to exceed the plan stay on the patient's audit trail.
        if not body.override_reason:
            audit.record(
                "create",
                "administration",
                None,
                patient_id=session.patient_id,
                detail="above the planned dose without override",
            )
            remaining = max(0.0, round(planned - already, 1))
            raise Conflict(
                f"{body.dose_mg:g} mg would bring the session total to "
                f"{already + body.dose_mg:g} mg, above the planned dose of {planned:g} mg "
                f"({remaining:g} mg remaining). A clinician may give it with override_reason.",
                planned_dose_mg=planned,
                already_given_mg=already,
                remaining_mg=remaining,
            )
        if audit.actor.role not in OVERRIDE_ROLES:
            audit.record(
                "override",
                "administration",
                None,
                patient_id=session.patient_id,
                detail="dose override by a role that may not override",
            )
            raise Forbidden("Only a clinician may give more than the planned dose.")

    devices = body.devices
    if nasal_spray and devices is None:
        devices = round(body.dose_mg / ESKETAMINE_DEVICE_MG)
    row = Administration(
        session_id=session.id,
        medication=body.medication,
        route=body.route,
        dose_mg=body.dose_mg,
        started_at=body.started_at,
        ended_at=body.ended_at,
        lot_number=body.lot_number,
        expiry_date=body.expiry_date,
        concentration_mg_per_ml=body.concentration_mg_per_ml,
        volume_drawn_ml=body.volume_drawn_ml,
        volume_administered_ml=body.volume_administered_ml,
        wasted_mg=body.wasted_mg,
        waste_witness_id=witness_id,
        devices=devices,
        exceeds_planned_dose=over,
        override_reason=body.override_reason,
        administered_by=audit.actor.id,
    )
    db.add(row)
    await db.flush()
    audit.record("create", "administration", row.id, patient_id=session.patient_id)
    if over:
        audit.record("override", "administration", row.id, patient_id=session.patient_id)
    return administration_dict(row)


def _check_fields(session: TreatmentSession, body: AdministrationCreate, clinic_tz: tzinfo) -> None:
    errors = []
    started, ended = session.dosing_started_at, session.dosing_ended_at
    if started is not None and body.started_at < started:
        errors.append(
            field_error(
                ["body", "started_at"],
                f"the dose cannot start before dosing started ({started.isoformat()}); if it "
                "did, the session's dosing start is wrong",
            )
        )
    if ended is not None and body.started_at > ended:
        errors.append(
            field_error(
                ["body", "started_at"],
                f"dosing ended at {ended.isoformat()}; a dose started after that would not be "
                "monitored from its start",
            )
        )
    if body.ended_at is not None and body.ended_at < body.started_at:
        errors.append(field_error(["body", "ended_at"], "ended_at is before started_at"))
    # A lot expires at the end of its expiry date where the clinic is, not in UTC.
    given_on = body.started_at.astimezone(clinic_tz).date()
    if body.expiry_date is not None and body.expiry_date < given_on:
        errors.append(
            field_error(
                ["body", "expiry_date"],
                f"lot {body.lot_number} expired on {body.expiry_date.isoformat()}, before the "
                "dose was given: do not administer expired stock",
            )
        )
    if errors:
        raise ValidationFailed(errors)


async def list_administrations(
    db: AsyncSession,
    audit: Audit,
    session_id: str,
    *,
    include_retracted: bool,
    limit: int,
    cursor: str | None,
) -> dict[str, Any]:
    session = await get_session(db, session_id)
    stmt = select(Administration).where(Administration.session_id == session.id)
    if not include_retracted:
        stmt = stmt.where(Administration.not_retracted())
    stmt = keyset(
        stmt, cursor=cursor, limit=limit, sort=Administration.started_at, tiebreak=Administration.id
    )
    rows, next_cursor = cut_page(
        list(await db.scalars(stmt)), limit, lambda r: (r.started_at, r.id)
    )
    audit.record("read", "administration", None, patient_id=session.patient_id)
    return {
        "items": [administration_dict(r) for r in rows],
        "next_cursor": next_cursor,
        "planned_dose_mg": session.planned_dose_mg,
        "total_given_mg": await given_mg(db, session.id),
    }


async def administrations_for_session(
    db: AsyncSession, session_id: uuid.UUID, *, include_retracted: bool
) -> list[dict[str, Any]]:
    """The session's doses in order: all of them for the record, only those that count
    (``include_retracted=False``) for anything computed from them (the REMS form)."""
    stmt = select(Administration).where(Administration.session_id == session_id)
    if not include_retracted:
        stmt = stmt.where(Administration.not_retracted())
    rows = await db.scalars(stmt.order_by(Administration.started_at, Administration.id))
    return [administration_dict(r) for r in rows]


async def retract_administration(
    db: AsyncSession, audit: Audit, session_id: str, administration_id: str, reason: str
) -> dict[str, Any]:
    """SPEC §1: a mistaken dose is retracted, never deleted. It stays in the record and the
    controlled-substance log (with its status) and stops counting toward the session total.

    The session is locked as recording a dose locks it, so a dose recorded at the same moment
    sees the total either with this one or without it, never in between."""
    session = await get_session(db, session_id, for_update=True)
    row = await retract_record(
        db,
        Administration,
        session,
        administration_id,
        noun="administration",
        actor_id=audit.actor.id,
        reason=reason,
    )
    audit.record("retract", "administration", row.id, patient_id=session.patient_id)
    # No live event: the streams carry readings, alerts and session status only (SPEC §8).
    return administration_dict(row)
