from __future__ import annotations

import uuid

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from api.audit import Audit
from api.errors import Conflict, NotFound, ValidationFailed, field_error
from api.etag import check_if_match
from api.patients import repository
from api.patients.mrn import mrn_key
from api.patients.schemas import PatientCreate, PatientUpdate
from api.types import parse_id
from models import Patient


async def get_patient(db: AsyncSession, patient_id: str | uuid.UUID) -> Patient:
    pid = patient_id if isinstance(patient_id, uuid.UUID) else parse_id(patient_id)
    patient = await repository.patient_by_id(db, pid)
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
        if not await repository.update_if_version(db, patient, changes, by=audit.actor.id):
            raise Conflict("The patient was changed by someone else; reload and try again.")
        await db.refresh(patient)
    audit.record("update", "patient", patient.id, patient_id=patient.id)
    return patient


async def search_patients(
    db: AsyncSession, audit: Audit, *, q: str | None, limit: int, cursor: str | None
) -> tuple[list[Patient], str | None]:
    """By name or MRN, case-insensitive; every patient listed is audited as read."""
    patients, next_cursor = await repository.search_patients(db, q=q, limit=limit, cursor=cursor)
    for patient in patients:
        audit.record("read", "patient", patient.id, patient_id=patient.id)
    return patients, next_cursor
