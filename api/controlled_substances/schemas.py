from __future__ import annotations

from datetime import date, datetime

from pydantic import Field

from api.types import Id, ReadModel, RecordStatus


class ControlledSubstanceEntry(ReadModel):
    """One administration and its waste (21 CFR 1304.22(c)), retracted or not."""

    administration_id: Id
    administered_at: datetime
    ended_at: datetime | None
    substance: str
    dea_schedule: str
    dosage_form: str
    strength: str | None
    medication: str
    route: str
    lot_number: str
    expiry_date: date | None
    concentration_mg_per_ml: float | None
    devices: int | None
    volume_drawn_ml: float | None
    dose_mg: float
    dose_ml: float | None
    wasted_mg: float
    wasted_ml: float | None
    disposal: str | None
    patient_id: Id
    patient_mrn: str
    patient_name: str
    session_id: Id
    administered_by: str
    waste_witness_id: str | None
    exceeds_planned_dose: bool
    override_reason: str | None
    recorded_at: datetime
    status: RecordStatus = Field(
        description="`entered-in-error`: the dose was retracted; listed all the same"
    )
    retracted_at: datetime | None
    retracted_by: str | None
    retraction_reason: str | None


class ControlledSubstanceLog(ReadModel):
    items: list[ControlledSubstanceEntry]
    next_cursor: str | None
