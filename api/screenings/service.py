"""Screenings of a patient, and the eligibility they give (rules in
:mod:`api.clinical.screening`). A screening is never changed: each one supersedes the last."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api.audit import Audit
from api.clinical import screening as rules
from api.clinical.gates import Unmet
from api.clinical.scoring import ScoringError, score_assessment
from api.config import get_settings
from api.errors import Conflict, NotFound, ValidationFailed, field_error
from api.pagination import cut_page, keyset
from api.patients.service import get_patient
from api.screenings.schemas import ScreeningCreate
from models import Patient, Screening


def clinic_zone() -> tzinfo:
    return ZoneInfo(get_settings().clinic_tz)


def clinic_today(now: datetime | None = None) -> date:
    return (now or datetime.now(UTC)).astimezone(clinic_zone()).date()


def patient_name(patient: Patient) -> str:
    return f"{patient.given_name} {patient.family_name}"


def _score_baseline(body: ScreeningCreate) -> list[dict[str, Any]]:
    scored: list[dict[str, Any]] = []
    errors = []
    for i, entry in enumerate(body.baseline or []):
        try:
            result = score_assessment(entry.instrument, items=entry.items, score=entry.score)
        except ScoringError as err:
            loc: list[str | int] = ["body", "baseline", i]
            loc += [int(p) if p.isdigit() else p for p in err.field.split(".")]
            errors.append(field_error(loc, err.message))
            continue
        scored.append(
            {
                "instrument": result.instrument,
                "items": list(entry.items) if entry.items is not None else None,
                "total": result.total,
                "band": result.band,
                "administered_at": entry.administered_at.isoformat(),
            }
        )
    if errors:
        raise ValidationFailed(errors)
    return scored


def _validate(body: ScreeningCreate) -> None:
    errors = []
    if body.decision != "eligible" and not body.decision_reason:
        errors.append(
            field_error(
                ["body", "decision_reason"],
                f"a reason is required for the decision {body.decision}",
            )
        )
    for item, why in rules.decision_problems(body.contraindications.model_dump(), body.decision):
        errors.append(field_error(["body", "contraindications", item], why))
    if errors:
        raise ValidationFailed(errors)


async def record_screening(
    db: AsyncSession, audit: Audit, patient_id: str, body: ScreeningCreate, *, valid_days: int
) -> dict[str, Any]:
    """``valid_days``: how long a screening holds unless it says (the app's
    ``screening_valid_days``)."""
    patient = await get_patient(db, patient_id)
    _validate(body)
    baseline = _score_baseline(body)
    screened_at = body.screened_at or datetime.now(UTC)
    valid_until = body.valid_until or (
        screened_at.astimezone(clinic_zone()).date() + timedelta(days=valid_days)
    )
    if valid_until < screened_at.astimezone(clinic_zone()).date():
        raise ValidationFailed(
            [field_error(["body", "valid_until"], "valid_until is before the screening date")]
        )
    treatments = [t.model_dump() for t in body.prior_treatments]
    row = Screening(
        patient_id=patient.id,
        screened_at=screened_at,
        indication=body.indication,
        diagnoses=[d.model_dump() for d in body.diagnoses],
        prior_treatments=treatments,
        failed_adequate_antidepressant_trials=rules.failed_adequate_antidepressant_trials(
            treatments
        ),
        meets_trd_criterion=rules.meets_trd_criterion(treatments),
        contraindications=body.contraindications.model_dump(),
        childbearing_potential=body.childbearing_potential,
        baseline=baseline,
        consent_signed_at=body.consent.signed_at,
        consent_document_version=body.consent.document_version,
        rems_enrolled_at=body.rems_enrollment.enrolled_at if body.rems_enrollment else None,
        rems_reference=body.rems_enrollment.reference if body.rems_enrollment else None,
        decision=body.decision,
        decision_reason=body.decision_reason,
        valid_until=valid_until,
        recorded_by=audit.actor.id,
    )
    db.add(row)
    await db.flush()
    audit.record("create", "screening", row.id, patient_id=patient.id)
    return await _read(db, row)


async def current_screening_row(db: AsyncSession, patient_id: uuid.UUID) -> Screening | None:
    return await db.scalar(
        select(Screening)
        .where(Screening.patient_id == patient_id)
        .order_by(Screening.screened_at.desc(), Screening.recorded_at.desc())
        .limit(1)
    )


async def rems_enrollment(db: AsyncSession, patient_id: uuid.UUID) -> dict[str, Any] | None:
    """The patient's REMS enrollment in force: the latest screening that records one (it
    stays with the patient until a later screening records a different one)."""
    row = await db.scalar(
        select(Screening)
        .where(Screening.patient_id == patient_id, Screening.rems_enrolled_at.is_not(None))
        .order_by(Screening.screened_at.desc(), Screening.recorded_at.desc())
        .limit(1)
    )
    if row is None or row.rems_enrolled_at is None:
        return None
    return {"enrolled_at": row.rems_enrolled_at, "reference": row.rems_reference}


async def _read(
    db: AsyncSession, row: Screening, *, current: Screening | None = None
) -> dict[str, Any]:
    current = current or await current_screening_row(db, row.patient_id)
    return {
        **{c.key: getattr(row, c.key) for c in Screening.__table__.columns},
        "consent": {
            "signed_at": row.consent_signed_at,
            "document_version": row.consent_document_version,
        },
        "rems_enrollment": (
            {"enrolled_at": row.rems_enrolled_at, "reference": row.rems_reference}
            if row.rems_enrolled_at is not None
            else None
        ),
        "patient_rems_enrollment": await rems_enrollment(db, row.patient_id),
        "expired": clinic_today() > row.valid_until,
        "current": current is not None and current.id == row.id,
    }


async def read_current(db: AsyncSession, audit: Audit, patient_id: str) -> dict[str, Any]:
    patient = await get_patient(db, patient_id)
    row = await current_screening_row(db, patient.id)
    audit.record("read", "screening", row.id if row else None, patient_id=patient.id)
    if row is None:
        raise NotFound(
            f"{patient_name(patient)} has no screening on record; a clinician records one with "
            f"POST /v1/patients/{patient.id}/screenings."
        )
    return await _read(db, row, current=row)


async def list_screenings(
    db: AsyncSession, audit: Audit, patient_id: str, *, limit: int, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    """Newest first; keyset on (screened_at, id) descending."""
    patient = await get_patient(db, patient_id)
    stmt = keyset(
        select(Screening).where(Screening.patient_id == patient.id),
        cursor=cursor,
        limit=limit,
        sort=Screening.screened_at,
        tiebreak=Screening.id,
        descending=True,
    )
    rows, next_cursor = cut_page(
        list(await db.scalars(stmt)), limit, lambda r: (r.screened_at, r.id)
    )
    audit.record("read", "screening", None, patient_id=patient.id)
    current = await current_screening_row(db, patient.id)
    return [await _read(db, r, current=current) for r in rows], next_cursor


async def eligibility_unmet(
    db: AsyncSession,
    patient: Patient,
    *,
    medication: str,
    for_what: str,
    as_of: datetime | None = None,
) -> list[Unmet]:
    """The screening items (SPEC §3 plans, §4 pre-dose gate) for ``patient`` as of the clinic
    day of ``as_of`` (default now)."""
    row = await current_screening_row(db, patient.id)
    status = (
        rules.ScreeningStatus(
            decision=row.decision,
            valid_until=row.valid_until,
            screened_on=row.screened_at.astimezone(clinic_zone()).date(),
        )
        if row is not None
        else None
    )
    enrolled = medication == "esketamine" and await rems_enrollment(db, patient.id) is not None
    return rules.eligibility_unmet(
        status,
        today=clinic_today(as_of),
        medication=medication,
        rems_enrolled=enrolled,
        patient_name=patient_name(patient),
        for_what=for_what,
    )


async def require_eligible(db: AsyncSession, patient: Patient, *, medication: str) -> None:
    """A new plan or revision: 409 with ``code`` and ``unmet`` unless the current screening
    allows it."""
    unmet = await eligibility_unmet(db, patient, medication=medication, for_what="a dosing plan")
    if unmet:
        items = [u.as_dict() for u in unmet]
        raise Conflict(" ".join(u.message for u in unmet), code=unmet[0].code, unmet=items)


async def childbearing_potential(db: AsyncSession, patient_id: uuid.UUID) -> bool:
    row = await current_screening_row(db, patient_id)
    return bool(row is not None and row.childbearing_potential)
