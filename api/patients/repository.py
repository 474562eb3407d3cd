"""Queries on patients."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import String, literal, or_, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from api.db import unicode_lower
from api.pagination import decode_cursor, encode_cursor
from models import Patient
from models.base import utcnow


async def patient_by_id(db: AsyncSession, patient_id: uuid.UUID | None) -> Patient | None:
    return await db.get(Patient, patient_id) if patient_id is not None else None


async def update_if_version(
    db: AsyncSession, patient: Patient, changes: dict[str, Any], *, by: str
) -> bool:
    """Write ``changes`` and the next version, only if the row is still at ``patient.version``
    (False: changed at the same time)."""
    result = await db.execute(
        update(Patient)
        .where(Patient.id == patient.id, Patient.version == patient.version)
        .values(**changes, version=patient.version + 1, updated_at=utcnow(), updated_by=by)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def _contains(q: str) -> str:
    """A LIKE pattern matching ``q`` anywhere, its own ``%``, ``_`` and ``\\`` taken literally."""
    escaped = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


async def search_patients(
    db: AsyncSession, *, q: str | None, limit: int, cursor: str | None
) -> tuple[list[Patient], str | None]:
    """Case-insensitive (every letter, not only ASCII) on both databases: the column and the
    query go through the same SQL ``unicode_lower``; keyset on (family, given, id) lowered,
    the cursor holding the keys exactly as the database computed them."""
    family = unicode_lower(Patient.family_name)
    given = unicode_lower(Patient.given_name)
    stmt = (
        select(Patient, family.label("family_key"), given.label("given_key"))
        .order_by(family, given, Patient.id)
        .limit(limit + 1)
    )
    if q and q.strip():
        like = unicode_lower(literal(_contains(q.strip()), String()))
        stmt = stmt.where(
            or_(
                family.like(like, escape="\\"),
                given.like(like, escape="\\"),
                unicode_lower(Patient.mrn).like(like, escape="\\"),
            )
        )
    if cursor:
        last_family, last_given, last_id = decode_cursor(cursor, (str, str, uuid.UUID))
        stmt = stmt.where(
            tuple_(family, given, Patient.id) > tuple_(last_family, last_given, last_id)
        )
    rows = list((await db.execute(stmt)).all())
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        next_cursor = encode_cursor(last.family_key, last.given_key, last.Patient.id)
    return [row.Patient for row in rows], next_cursor
