from __future__ import annotations

from datetime import date, datetime

from pydantic import Field

from api.clinical.controlled_substances import WITNESS_STATUSES
from api.errors import ValidationFailed, field_error
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
    container: str | None
    ndc: str | None
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
    patient_address: str | None
    session_id: Id
    administered_by: str
    administered_by_name: str | None
    waste_witness_id: str | None
    waste_witness_name: str | None
    witness_status: str | None = Field(
        description="`pending` (the witness has not confirmed), `witnessed`, `not_confirmed` "
        "(recorded before witnesses confirmed waste); null without waste"
    )
    witnessed_at: datetime | None
    exceeds_planned_dose: bool
    override_reason: str | None
    recorded_at: datetime
    status: RecordStatus = Field(
        description="`entered-in-error`: the dose was retracted; listed all the same"
    )
    retracted_at: datetime | None
    retracted_by: str | None
    retracted_by_name: str | None
    retraction_reason: str | None


class ControlledSubstanceLog(ReadModel):
    items: list[ControlledSubstanceEntry]
    next_cursor: str | None


def parse_witness_statuses(value: str | None) -> list[str] | None:
    """``pending,witnessed`` → the statuses; 422 naming any other word."""
    if value is None:
        return None
    statuses = [v.strip() for v in value.split(",") if v.strip()]
    wrong = [v for v in statuses if v not in WITNESS_STATUSES]
    if wrong or not statuses:
        raise ValidationFailed(
            [
                field_error(
                    ["query", "witness_status"],
                    f"witness_status takes {', '.join(WITNESS_STATUSES)} (comma-separated); "
                    f"not {', '.join(wrong) or 'empty'}",
                )
            ]
        )
    return statuses
