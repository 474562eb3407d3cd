"""A patient's medication list (SPEC §11): every change a new version, all kept; the REMS
form reads the version in force at a session."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from api.audit import Audit
from api.errors import Conflict
from api.etag import check_if_match
from api.medications.schemas import MedicationListPut
from api.pagination import cut_page, keyset
from api.patients.service import get_patient
from models import MedicationListVersion


def _read(patient_id: uuid.UUID, row: MedicationListVersion | None) -> dict[str, Any]:
    if row is None:
        return {
            "patient_id": patient_id,
            "version": 0,
            "items": [],
            "recorded_by": None,
            "recorded_at": None,
        }
    return {
        "patient_id": row.patient_id,
        "version": row.version,
        "items": row.items,
        "recorded_by": row.recorded_by,
        "recorded_at": row.recorded_at,
    }


async def _latest(
    db: AsyncSession, patient_id: uuid.UUID, *, at: datetime | None = None
) -> MedicationListVersion | None:
    stmt = select(MedicationListVersion).where(MedicationListVersion.patient_id == patient_id)
    if at is not None:
        stmt = stmt.where(MedicationListVersion.recorded_at < at)
    return await db.scalar(stmt.order_by(MedicationListVersion.version.desc()).limit(1))


async def read_list(db: AsyncSession, audit: Audit, patient_id: str) -> dict[str, Any]:
    patient = await get_patient(db, patient_id)
    row = await _latest(db, patient.id)
    audit.record("read", "medication_list", row.id if row else None, patient_id=patient.id)
    return _read(patient.id, row)


async def put_list(
    db: AsyncSession, audit: Audit, patient_id: str, body: MedicationListPut, if_match: str | None
) -> dict[str, Any]:
    patient = await get_patient(db, patient_id)
    current = await _latest(db, patient.id)
    version = current.version if current else 0
    check_if_match(if_match, version)
    row = MedicationListVersion(
        patient_id=patient.id,
        version=version + 1,
        items=[i.model_dump(by_alias=True) for i in body.items],
        recorded_by=audit.actor.id,
    )
    db.add(row)
    try:
        async with db.begin_nested():
            await db.flush()
    except IntegrityError:
        raise Conflict(
            "The medication list was changed by someone else at the same time; reload it."
        ) from None
    audit.record("update", "medication_list", row.id, patient_id=patient.id)
    return _read(patient.id, row)


async def list_history(
    db: AsyncSession, audit: Audit, patient_id: str, *, limit: int, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    """Every version, newest first; keyset on (version, id) descending."""
    patient = await get_patient(db, patient_id)
    stmt = keyset(
        select(MedicationListVersion).where(MedicationListVersion.patient_id == patient.id),
        cursor=cursor,
        limit=limit,
        sort=MedicationListVersion.version,
        tiebreak=MedicationListVersion.id,
        descending=True,
        kind=int,
    )
    rows, next_cursor = cut_page(list(await db.scalars(stmt)), limit, lambda r: (r.version, r.id))
    audit.record("read", "medication_list", None, patient_id=patient.id)
    return [_read(patient.id, r) for r in rows], next_cursor


async def medication_list_as_of(
    db: AsyncSession, patient_id: uuid.UUID, at: datetime
) -> list[dict[str, Any]] | None:
    """The items of the last version recorded before ``at`` (None: no list by then)."""
    row = await _latest(db, patient_id, at=at)
    return list(row.items) if row is not None else None


async def current_medication_list(
    db: AsyncSession, patient_id: uuid.UUID
) -> MedicationListVersion | None:
    return await _latest(db, patient_id)
