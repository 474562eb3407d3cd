"""The controlled-substance log: every administration and its waste, oldest first, retracted
ones included (with their status)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api.administrations.service import staff_names
from api.audit import Audit
from api.clinical.administration import amount_ml
from api.clinical.controlled_substances import (
    DEA_SCHEDULE,
    disposal,
    dosage_form,
    strength,
    substance_name,
)
from api.pagination import cut_page, keyset
from models import Administration, Patient, TreatmentSession


def _entry(a: Administration, patient: Patient, names: dict[str, str]) -> dict[str, Any]:
    dose_ml = a.volume_administered_ml
    if dose_ml is None:
        dose_ml = amount_ml(a.dose_mg, a.concentration_mg_per_ml)
    wasted = a.wasted_mg or 0.0
    wasted_ml: float | None = amount_ml(wasted, a.concentration_mg_per_ml)
    if wasted_ml is None and a.volume_drawn_ml is not None and a.volume_administered_ml is not None:
        wasted_ml = round(max(0.0, a.volume_drawn_ml - a.volume_administered_ml), 2)
    return {
        "administration_id": a.id,
        "administered_at": a.started_at,
        "ended_at": a.ended_at,
        "substance": substance_name(a.medication),
        "dea_schedule": DEA_SCHEDULE,
        "dosage_form": dosage_form(a.medication, a.route),
        "strength": strength(a.medication, a.route, a.concentration_mg_per_ml),
        "container": a.container,
        "ndc": a.ndc,
        "medication": a.medication,
        "route": a.route,
        "lot_number": a.lot_number,
        "expiry_date": a.expiry_date,
        "concentration_mg_per_ml": a.concentration_mg_per_ml,
        "devices": a.devices,
        "volume_drawn_ml": a.volume_drawn_ml,
        "dose_mg": a.dose_mg,
        "dose_ml": dose_ml,
        "wasted_mg": wasted,
        "wasted_ml": wasted_ml,
        "disposal": disposal(wasted, a.witness_status),
        "patient_id": patient.id,
        "patient_mrn": patient.mrn,
        "patient_name": f"{patient.family_name}, {patient.given_name}",
        "patient_address": patient.address,
        "session_id": a.session_id,
        "administered_by": a.administered_by,
        "administered_by_name": names.get(a.administered_by),
        "waste_witness_id": a.waste_witness_id,
        "waste_witness_name": names.get(a.waste_witness_id or ""),
        "witness_status": a.witness_status,
        "witnessed_at": a.witnessed_at,
        "exceeds_planned_dose": a.exceeds_planned_dose,
        "override_reason": a.override_reason,
        "recorded_at": a.recorded_at,
        # A retracted dose is never hidden from the controlled-substance record: it is listed
        # with its status and who retracted it, when and why.
        "status": a.status,
        "retracted_at": a.retracted_at,
        "retracted_by": a.retracted_by,
        "retracted_by_name": names.get(a.retracted_by or ""),
        "retraction_reason": a.retraction_reason,
    }


async def controlled_substance_log(
    db: AsyncSession,
    audit: Audit,
    *,
    from_: datetime | None,
    to: datetime | None,
    lot: str | None,
    witness_status: Sequence[str] | None = None,
    limit: int,
    cursor: str | None,
) -> tuple[list[dict[str, Any]], str | None]:
    """Keyset on (started_at, id) ascending; ``from`` inclusive, ``to`` exclusive;
    ``witness_status`` keeps the records with one of those statuses."""
    stmt = (
        select(Administration, Patient)
        .join(TreatmentSession, TreatmentSession.id == Administration.session_id)
        .join(Patient, Patient.id == TreatmentSession.patient_id)
    )
    if from_ is not None:
        stmt = stmt.where(Administration.started_at >= from_)
    if to is not None:
        stmt = stmt.where(Administration.started_at < to)
    if lot is not None:
        stmt = stmt.where(Administration.lot_number == lot)
    if witness_status:
        stmt = stmt.where(Administration.witness_status.in_(witness_status))
    stmt = keyset(
        stmt, cursor=cursor, limit=limit, sort=Administration.started_at, tiebreak=Administration.id
    )
    rows, next_cursor = cut_page(
        list((await db.execute(stmt)).all()), limit, lambda r: (r[0].started_at, r[0].id)
    )
    for a, patient in rows:
        audit.record("read", "administration", a.id, patient_id=patient.id)
    names = await staff_names(
        db, [i for a, _ in rows for i in (a.administered_by, a.waste_witness_id, a.retracted_by)]
    )
    return [_entry(a, p, names) for a, p in rows], next_cursor
