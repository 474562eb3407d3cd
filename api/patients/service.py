from __future__ import annotations

import uuid

from sqlalchemy import String, literal, or_, select, tuple_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from api.audit import Audit
from api.db import unicode_lower
from api.errors import Conflict, NotFound, ValidationFailed, field_error
from api.etag import check_if_match
from api.pagination import decode_cursor, encode_cursor
from api.patients.mrn import mrn_key
from api.patients.schemas import PatientCreate, PatientUpdate
from api.types import parse_id
from models import Patient
from models.base import utcnow


async def get_patient(db: AsyncSession, patient_id: str | uuid.UUID) -> Patient:
    pid = patient_id if isinstance(patient_id, uuid.UUID) else parse_id(patient_id)
    patient = await db.get(Patient, pid) if pid is not None else None
    if patient is None:
        raise NotFound(f"No patient with id {patient_id}.")
    return patient


async def create_patient(db: AsyncSession, audit: Audit, data: PatientCreate) -> Patient:
    patient = Patient(
        **data.model_dump(),
        mrn_key=mrn_key(data.mrn),
        created_by=audit.actor.id,
        updated_by=audit.actor.id,
    )
    db.add(patient)
    try:
        async with db.begin_nested():
            await db.flush()
    except IntegrityError:
        raise Conflict(
            f"A patient with MRN {data.mrn} already exists (MRNs are compared regardless of "
            "letter case); search for them instead of registering them again.",
            field="mrn",
        ) from None
    audit.record("create", "patient", patient.id, patient_id=patient.id)
    return patient


async def read_patient(db: AsyncSession, audit: Audit, patient_id: str) -> Patient:
    patient = await get_patient(db, patient_id)
    audit.record("read", "patient", patient.id, patient_id=patient.id)
    return patient


async def update_patient(
    db: AsyncSession, audit: Audit, patient_id: str, data: PatientUpdate, if_match: str | None
) -> Patient:
    patient = await get_patient(db, patient_id)
    check_if_match(if_match, patient.version)
    changes = data.model_dump(exclude_unset=True)
    for required in ("given_name", "family_name", "birth_date", "sex"):
        if required in changes and changes[required] is None:
            raise ValidationFailed([field_error(["body", required], "may not be null")])
    if changes:
        result = await db.execute(
            update(Patient)
            .where(Patient.id == patient.id, Patient.version == patient.version)
            .values(
                **changes,
                version=patient.version + 1,
                updated_at=utcnow(),
                updated_by=audit.actor.id,
            )
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            raise Conflict("The patient was changed by someone else; reload and try again.")
        await db.refresh(patient)
    audit.record("update", "patient", patient.id, patient_id=patient.id)
    return patient


def _contains(q: str) -> str:
    """A LIKE pattern matching ``q`` anywhere, its own ``%``, ``_`` and ``\\`` taken literally."""
    escaped = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


async def search_patients(
    db: AsyncSession, audit: Audit, *, q: str | None, limit: int, cursor: str | None
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
    patients = [row.Patient for row in rows]
    for patient in patients:
        audit.record("read", "patient", patient.id, patient_id=patient.id)
    return patients, next_cursor
