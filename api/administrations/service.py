"""Doses given in a session and their waste: the controlled-substance record (SPEC §6).

Rules are pure functions in :mod:`api.clinical.administration`; this module loads the session
(locked, so two doses recorded at once cannot both slip under the planned dose), applies them
and stores the row.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import tzinfo
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from api.administrations.schemas import AdministrationCreate
from api.audit import Audit
from api.clinical.administration import (
    ESKETAMINE_DEVICE_MG,
    AdministrationRuleError,
    DeviceRecord,
    check_device_interval,
    check_esketamine_devices,
    check_volumes,
    check_waste,
    exceeds_max_dose,
    exceeds_planned_dose,
)
from api.clinical.controlled_substances import (
    NOT_CONFIRMED,
    PENDING,
    WITNESSED,
    WasteRecord,
    unwitnessed_waste,
)
from api.clinical.gates import OVERRIDE_ROLES, Unmet
from api.clinical.labels import clinic_time
from api.errors import Conflict, Forbidden, NotFound, ValidationFailed, field_error
from api.pagination import cut_page, keyset
from api.people import find_staff
from api.plans.service import session_revision
from api.retraction import retract_record
from api.sessions.repository import get_session
from api.types import parse_id
from models import Administration, TreatmentSession, User
from models.base import utcnow
from models.retraction import FINAL

# A dose is given once dosing has started: the dosing transition is where the pre-dose gate is
# checked, and the reading phases and alerts count from its time. A dose recorded while the
# patient is only checked in would bypass the gate and leave the readings after it unwatched.
DOSING_STATUSES = ("dosing", "monitoring")
WITNESS_ROLES = frozenset({"nurse", "clinician"})
_COLUMNS = [c.key for c in Administration.__table__.columns]


async def staff_names(db: AsyncSession, ids: Iterable[str | None]) -> dict[str, str]:
    """Display names of the staff members ``ids`` name (ids that name no user are left out)."""
    uids = {uid for uid in (parse_id(i) for i in ids if i) if uid is not None}
    if not uids:
        return {}
    rows = await db.execute(select(User.id, User.display_name).where(User.id.in_(uids)))
    return {str(uid): name for uid, name in rows}


def administration_dict(row: Administration, names: dict[str, str]) -> dict[str, Any]:
    out = {c: getattr(row, c) for c in _COLUMNS}
    out["administered_by_name"] = names.get(row.administered_by)
    out["waste_witness_name"] = names.get(row.waste_witness_id or "")
    out["retracted_by_name"] = names.get(row.retracted_by or "")
    return out


async def administration_dicts(
    db: AsyncSession, rows: Sequence[Administration]
) -> list[dict[str, Any]]:
    """The records as returned, with the people they name by display name (SPEC §1)."""
    names = await staff_names(
        db, [i for r in rows for i in (r.administered_by, r.waste_witness_id, r.retracted_by)]
    )
    return [administration_dict(r, names) for r in rows]


async def resolve_witness(
    db: AsyncSession, person: str, administered_by: str, *, field: str = "waste_witness_id"
) -> User:
    """The witness ``person`` names (id or username), or 422 saying why they cannot witness
    waste of a dose ``administered_by`` gave: another active nurse or clinician."""
    witness = await find_staff(db, person)
    problem: str | None = None
    if witness is None:
        problem = (
            f"Nobody on staff has the id or username {person!r}: name the nurse or clinician "
            "who watched the waste by their username or id."
        )
    elif str(witness.id) == administered_by:
        problem = (
            f"{witness.display_name} gave this dose and cannot also witness its waste: name "
            "another nurse or clinician who watched it."
        )
    elif witness.role not in WITNESS_ROLES:
        problem = (
            f"{witness.display_name} is {'an' if witness.role == 'admin' else 'a'} "
            f"{witness.role} and cannot witness waste: name a nurse or clinician."
        )
    elif witness.disabled:
        problem = (
            f"{witness.display_name}'s account is disabled: name another nurse or clinician "
            "to witness the waste."
        )
    if problem is not None:
        raise ValidationFailed([field_error(["body", field], problem)])
    assert witness is not None
    return witness


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
    """422 naming the rule by its code, at the top and in its ``errors[]`` entry (SPEC §4)."""
    error = ValidationFailed([{**field_error(["body", err.field], err.message), "code": err.code}])
    error.extra["code"] = err.code
    return error


async def record_administration(
    db: AsyncSession,
    audit: Audit,
    session_id: str,
    body: AdministrationCreate,
    *,
    clinic_tz: tzinfo,
) -> dict[str, Any]:
    session = await get_session(db, session_id, for_update=True)
    if body.override_reason is not None and audit.actor.role not in OVERRIDE_ROLES:
        audit.record(
            "override",
            "administration",
            None,
            patient_id=session.patient_id,
            detail="dose override by a role that may not override",
        )
        raise Forbidden(
            "Only a clinician may give override_reason: leave it out, or ask a clinician to "
            "record the dose."
        )
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
        devices = body.devices
        if nasal_spray and devices is None:
            devices = round(body.dose_mg / ESKETAMINE_DEVICE_MG)
        if nasal_spray and devices:
            check_device_interval(
                devices=devices,
                started_at=body.started_at,
                ended_at=body.ended_at,
                others=await _device_records(db, session.id),
                tz=clinic_tz,
            )
    except AdministrationRuleError as err:
        raise _rule_error(err) from None
    witness_id = None
    if body.waste_witness_id is not None:
        witness = await resolve_witness(db, body.waste_witness_id, audit.actor.id)
        witness_id = str(witness.id)  # the canonical spelling of the id

    already = await given_mg(db, session.id)
    planned = session.planned_dose_mg or 0.0
    over = exceeds_planned_dose(
        already_given_mg=already, this_dose_mg=body.dose_mg, planned_dose_mg=planned
    )
    unmet = _ceiling_items(
        already=already,
        dose_mg=body.dose_mg,
        planned=planned,
        max_dose_mg=revision.max_dose_mg,
        over_planned=over,
    )
    if unmet and (body.override_reason is None or any(not u["overridable"] for u in unmet)):
        # Refused attempts to exceed the plan stay on the patient's audit trail.
        audit.record(
            "create",
            "administration",
            None,
            patient_id=session.patient_id,
            detail=f"refused: {', '.join(str(u['code']) for u in unmet)}",
        )
        remaining = max(0.0, round(planned - already, 1))
        raise Conflict(
            " ".join(str(u["message"]) for u in unmet),
            code=unmet[0]["code"],
            unmet=unmet,
            planned_dose_mg=planned,
            max_dose_mg=revision.max_dose_mg,
            already_given_mg=already,
            remaining_mg=remaining,
        )

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
        witness_status=PENDING if body.wasted_mg else None,
        devices=devices,
        ndc=body.ndc,
        container=body.container,
        exceeds_planned_dose=over,
        override_reason=body.override_reason,
        administered_by=audit.actor.id,
    )
    db.add(row)
    await db.flush()
    audit.record("create", "administration", row.id, patient_id=session.patient_id)
    if over:
        audit.record("override", "administration", row.id, patient_id=session.patient_id)
    return (await administration_dicts(db, [row]))[0]


def _ceiling_items(
    *, already: float, dose_mg: float, planned: float, max_dose_mg: float, over_planned: bool
) -> list[dict[str, Any]]:
    """The 409 ``unmet`` items of a dose above the session's ceilings: above the plan's
    ``max_dose_mg`` (never overridable) and above the computed dose (a clinician's
    ``override_reason`` passes it)."""
    total = round(already + dose_mg, 1)
    items: list[dict[str, Any]] = []
    if exceeds_max_dose(already_given_mg=already, this_dose_mg=dose_mg, max_dose_mg=max_dose_mg):
        items.append(
            {
                "code": "above_max_dose",
                "overridable": False,
                "max_dose_mg": max_dose_mg,
                "total_mg": total,
                "message": (
                    f"{dose_mg:g} mg would bring the session total to {total:g} mg, above the "
                    f"plan's maximum of {max_dose_mg:g} mg a session, which nobody may exceed "
                    f"({max(0.0, round(max_dose_mg - already, 1)):g} mg left under it)."
                ),
            }
        )
    if over_planned:
        remaining = max(0.0, round(planned - already, 1))
        items.append(
            {
                "code": "above_planned_dose",
                "overridable": True,
                "planned_dose_mg": planned,
                "total_mg": total,
                "message": (
                    f"{dose_mg:g} mg would bring the session total to {total:g} mg, above the "
                    f"planned dose of {planned:g} mg ({remaining:g} mg remaining). A clinician "
                    "may give it with override_reason."
                ),
            }
        )
    return items


async def _device_records(db: AsyncSession, session_id: uuid.UUID) -> list[DeviceRecord]:
    rows = await db.execute(
        select(Administration.started_at, Administration.ended_at).where(
            Administration.session_id == session_id,
            Administration.medication == "esketamine",
            Administration.route == "intranasal",
            Administration.not_retracted(),
        )
    )
    return [DeviceRecord(started_at=s, ended_at=e) for s, e in rows]


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
        "items": await administration_dicts(db, rows),
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
    return await administration_dicts(db, list(rows))


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
    return (await administration_dicts(db, [row]))[0]


async def _session_administration(
    db: AsyncSession, session: TreatmentSession, administration_id: str
) -> Administration:
    aid = parse_id(administration_id)
    row = (
        await db.scalar(
            select(Administration).where(
                Administration.id == aid, Administration.session_id == session.id
            )
        )
        if aid is not None
        else None
    )
    if row is None:
        raise NotFound(f"Session {session.id} has no administration {administration_id}.")
    return row


def _waste_state_problem(row: Administration, names: dict[str, str], tz: tzinfo) -> str | None:
    """Why this record has no waste waiting for a witness, or None."""
    if not row.wasted_mg or row.witness_status is None:
        return "This dose has no waste to witness."
    if row.status != FINAL:
        return "This dose was retracted (entered in error); its waste needs no witness."
    if row.witness_status == WITNESSED:
        who = names.get(row.waste_witness_id or "", "the witness")
        when = clinic_time(row.witnessed_at, tz) if row.witnessed_at else "earlier"
        return f"{who} already confirmed witnessing this waste ({when})."
    return None


async def confirm_witness(
    db: AsyncSession, audit: Audit, session_id: str, administration_id: str, *, clinic_tz: tzinfo
) -> dict[str, Any]:
    """SPEC §6: the named witness, signed in as themselves, confirms the waste (pending, or
    named before witnesses confirmed: not_confirmed). Anyone else: 403; twice: 409. The
    condition is in the UPDATE itself, so two confirmations at once store one."""
    session = await get_session(db, session_id, for_update=True)
    row = await _session_administration(db, session, administration_id)
    names = await staff_names(db, [row.administered_by, row.waste_witness_id])
    if row.wasted_mg and row.waste_witness_id != audit.actor.id:
        audit.record(
            "witness",
            "administration",
            row.id,
            patient_id=session.patient_id,
            detail="refused: not the named witness",
        )
        witness = names.get(row.waste_witness_id or "", "the named witness")
        raise Forbidden(
            f"{witness} was named to witness this waste: only {witness}, signed in as "
            "themselves, can confirm it. If someone else watched it, the person who gave the "
            "dose names them (PUT .../witness-request)."
        )
    problem = _waste_state_problem(row, names, clinic_tz)
    if problem is not None:
        raise Conflict(problem, witness_status=row.witness_status)
    result = await db.execute(
        update(Administration)
        .where(
            Administration.id == row.id,
            Administration.witness_status.in_((PENDING, NOT_CONFIRMED)),
            Administration.waste_witness_id == audit.actor.id,
            Administration.status == FINAL,
        )
        .values(witness_status=WITNESSED, witnessed_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict("The waste was confirmed or changed at the same time; reload it.")
    await db.refresh(row)
    audit.record("witness", "administration", row.id, patient_id=session.patient_id)
    return administration_dict(row, names)


async def request_witness(
    db: AsyncSession,
    audit: Audit,
    session_id: str,
    administration_id: str,
    person: str,
    *,
    clinic_tz: tzinfo,
) -> dict[str, Any]:
    """SPEC §6: while the waste is pending, the person who gave the dose names another witness
    (id or username); it stays pending until that person confirms it."""
    session = await get_session(db, session_id, for_update=True)
    row = await _session_administration(db, session, administration_id)
    names = await staff_names(db, [row.administered_by, row.waste_witness_id])
    if row.administered_by != audit.actor.id:
        giver = names.get(row.administered_by, "the person who gave the dose")
        raise Forbidden(f"Only {giver}, who gave this dose, may name another witness.")
    problem = _waste_state_problem(row, names, clinic_tz)
    if problem is None and row.witness_status != PENDING:
        problem = "Only waste still waiting for its witness can be given another witness."
    if problem is not None:
        raise Conflict(problem, witness_status=row.witness_status)
    witness = await resolve_witness(db, person, row.administered_by, field="witness")
    result = await db.execute(
        update(Administration)
        .where(Administration.id == row.id, Administration.witness_status == PENDING)
        .values(waste_witness_id=str(witness.id))
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict("The waste was confirmed or changed at the same time; reload it.")
    await db.refresh(row)
    audit.record(
        "update",
        "administration",
        row.id,
        patient_id=session.patient_id,
        detail="another waste witness named",
    )
    names[str(witness.id)] = witness.display_name
    return administration_dict(row, names)


async def unwitnessed_waste_for_session(
    db: AsyncSession, session_id: uuid.UUID, *, tz: tzinfo
) -> list[Unmet]:
    """The discharge gate's ``waste_unwitnessed`` items of the session (SPEC §4)."""
    rows = list(
        await db.scalars(
            select(Administration)
            .where(
                Administration.session_id == session_id,
                Administration.witness_status == PENDING,
                Administration.not_retracted(),
            )
            .order_by(Administration.started_at, Administration.id)
        )
    )
    names = await staff_names(
        db, [i for r in rows for i in (r.administered_by, r.waste_witness_id)]
    )
    return unwitnessed_waste(
        [
            WasteRecord(
                administration_id=str(r.id),
                medication=r.medication,
                wasted_mg=r.wasted_mg,
                started_at=r.started_at,
                witness_status=r.witness_status,
                witness_name=names.get(r.waste_witness_id or ""),
                administered_by_name=names.get(r.administered_by),
                retracted=r.status != FINAL,
            )
            for r in rows
        ],
        tz=tz,
    )
