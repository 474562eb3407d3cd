"""The pre-session and discharge checklists of a session (SPEC §11), and the gate items they
and the screening give (rules in :mod:`api.clinical.checklist` and
:mod:`api.clinical.screening`)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from api.audit import Audit
from api.checklists import repository
from api.checklists.repository import get_checklist
from api.checklists.schemas import DischargeChecklist, PreSessionChecklist
from api.clinical.checklist import (
    discharge_checklist_unmet,
    npo_minutes,
    predose_checklist_unmet,
    pregnancy_test_problem,
)
from api.clinical.gates import Unmet
from api.errors import Conflict, ValidationFailed, field_error
from api.patients.service import get_patient
from api.screenings.service import childbearing_potential, clinic_zone, eligibility_unmet
from api.sessions.repository import get_session
from models import SessionChecklist, TreatmentSession

_TIMES = ("last_food_at", "last_liquids_at", "ready_at")


def checklist_dict(row: SessionChecklist) -> dict[str, Any]:
    return {c.key: getattr(row, c.key) for c in SessionChecklist.__table__.columns}


def _content(row: SessionChecklist | None) -> dict[str, Any] | None:
    """The stored checklist with its times as datetimes again (JSON keeps them as text)."""
    if row is None:
        return None
    content = dict(row.content)
    for key in _TIMES:
        if isinstance(content.get(key), str):
            content[key] = datetime.fromisoformat(content[key])
    return content


async def _store(
    db: AsyncSession, audit: Audit, session: TreatmentSession, kind: str, content: dict[str, Any]
) -> SessionChecklist:
    existing = await get_checklist(db, session.id, kind)
    if existing is None:
        row = SessionChecklist(
            session_id=session.id, kind=kind, content=content, recorded_by=audit.actor.id
        )
        db.add(row)
        try:
            async with db.begin_nested():
                await db.flush()
        except IntegrityError:
            raise Conflict("The checklist was recorded at the same time; reload it.") from None
        audit.record("create", f"{kind}_checklist", row.id, patient_id=session.patient_id)
        return row
    if not await repository.update_if_version(
        db, existing, content=content, recorded_by=audit.actor.id
    ):
        raise Conflict("The checklist was changed at the same time; reload it.")
    await db.refresh(existing)
    audit.record("update", f"{kind}_checklist", existing.id, patient_id=session.patient_id)
    return existing


async def put_checklist(
    db: AsyncSession, audit: Audit, session_id: str, body: PreSessionChecklist
) -> dict[str, Any]:
    session = await get_session(db, session_id, for_update=True)
    if session.status != "checked_in":
        raise Conflict(
            f"The pre-session checklist is recorded while the session is checked in; this one "
            f"is {session.status}.",
        )
    problem = pregnancy_test_problem(
        body.pregnancy_test,
        childbearing_potential=await childbearing_potential(db, session.patient_id),
    )
    if problem is not None:
        raise ValidationFailed([field_error(["body", "pregnancy_test"], problem)])
    row = await _store(db, audit, session, "pre", body.model_dump(mode="json"))
    return checklist_dict(row)


async def put_discharge_checklist(
    db: AsyncSession, audit: Audit, session_id: str, body: DischargeChecklist
) -> dict[str, Any]:
    session = await get_session(db, session_id, for_update=True)
    if session.status != "monitoring":
        raise Conflict(
            f"The discharge checklist is recorded while the session is in monitoring; this one "
            f"is {session.status}.",
        )
    if session.dosing_started_at is not None and body.ready_at < session.dosing_started_at:
        raise ValidationFailed(
            [field_error(["body", "ready_at"], "ready_at is before dosing started")]
        )
    row = await _store(db, audit, session, "discharge", body.model_dump(mode="json"))
    return checklist_dict(row)


async def checklists_for_record(db: AsyncSession, session_id: uuid.UUID) -> dict[str, Any]:
    pre = await get_checklist(db, session_id, "pre")
    discharge = await get_checklist(db, session_id, "discharge")
    return {
        "checklist": checklist_dict(pre) if pre else None,
        "discharge_checklist": checklist_dict(discharge) if discharge else None,
    }


async def discharge_ready_at(db: AsyncSession, session_id: uuid.UUID) -> datetime | None:
    content = _content(await get_checklist(db, session_id, "discharge"))
    ready = content.get("ready_at") if content else None
    return ready if isinstance(ready, datetime) else None


# -- gate items (SPEC §4): called from api.sessions.gates, one call per gate ------------------


async def predose_items(
    db: AsyncSession,
    session: TreatmentSession,
    medication: str,
    at: datetime,
    *,
    npo: Mapping[str, Mapping[str, int]],
) -> list[Unmet]:
    """The pre-dose gate's eligibility and checklist items as of ``at`` (``npo``: the clinic's
    fasting minutes per medication, from the app's settings)."""
    patient = await get_patient(db, session.patient_id)
    unmet = await eligibility_unmet(db, patient, medication=medication, for_what="dosing", as_of=at)
    food, liquids = npo_minutes(npo, medication)
    unmet += predose_checklist_unmet(
        _content(await get_checklist(db, session.id, "pre")),
        at=at,
        food_minutes=food,
        liquids_minutes=liquids,
        childbearing_potential=await childbearing_potential(db, patient.id),
        clinic_tz=clinic_zone(),
    )
    return unmet


async def discharge_items(db: AsyncSession, session: TreatmentSession) -> list[Unmet]:
    """The discharge gate's checklist items."""
    return discharge_checklist_unmet(_content(await get_checklist(db, session.id, "discharge")))


async def discharge_items_for_sessions(
    db: AsyncSession, session_ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[Unmet]]:
    """:func:`discharge_items` for many sessions in one query (the day board)."""
    rows = await repository.checklists_of_sessions(db, session_ids, "discharge")
    return {sid: discharge_checklist_unmet(_content(rows.get(sid))) for sid in session_ids}
