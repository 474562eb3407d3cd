from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from fastapi.openapi.models import Example
from pydantic import ConfigDict, Field

from api.people import PersonName
from api.types import (
    CalendarDate,
    Id,
    PastTimestamp,
    ReadModel,
    RecordStatus,
    SafetyReason,
    StrictModel,
)

Medication = Literal["ketamine", "esketamine"]
Route = Literal["iv_infusion", "im", "intranasal", "sublingual", "oral"]

_Mg = Field(gt=0, le=2000, allow_inf_nan=False)


class AdministrationCreate(StrictModel):
    """One dose given (and its waste). Amounts in mg; volumes in mL."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "medication": "ketamine",
                    "route": "iv_infusion",
                    "dose_mg": 36,
                    "started_at": "2026-12-01T14:05:00Z",
                    "ended_at": "2026-12-01T14:45:00Z",
                    "lot_number": "KET-24-0917",
                    "expiry_date": "2027-06-30",
                    "concentration_mg_per_ml": 10,
                    "volume_drawn_ml": 5,
                    "volume_administered_ml": 3.6,
                    "wasted_mg": 14,
                    "waste_witness_id": "7d5f5a0c-3b7e-4d55-a0d5-3a8e1c2f9b11",
                },
                {
                    "medication": "esketamine",
                    "route": "intranasal",
                    "dose_mg": 56,
                    "devices": 2,
                    "started_at": "2026-12-01T14:05:00Z",
                    "lot_number": "SPR-77812",
                    "expiry_date": "2027-03-31",
                },
            ]
        }
    )

    medication: Medication
    route: Route
    dose_mg: float = _Mg
    started_at: PastTimestamp
    lot_number: str = Field(min_length=1, max_length=64)
    ended_at: PastTimestamp | None = None
    expiry_date: CalendarDate | None = None
    concentration_mg_per_ml: float | None = Field(default=None, gt=0, le=1000, allow_inf_nan=False)
    volume_drawn_ml: float | None = Field(default=None, gt=0, le=1000, allow_inf_nan=False)
    volume_administered_ml: float | None = Field(default=None, ge=0, le=1000, allow_inf_nan=False)
    wasted_mg: float | None = Field(default=None, ge=0, le=2000, allow_inf_nan=False)
    waste_witness_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        description="The nurse or clinician who watched the waste: their id or username. "
        "They confirm it themselves (POST .../witness)",
    )
    devices: int | None = Field(default=None, ge=1, le=10)
    ndc: str | None = Field(
        default=None,
        pattern=r"^[0-9][0-9-]{8,12}[0-9]$",
        description="National Drug Code of the product, e.g. 50458-028-02",
    )
    container: str | None = Field(
        default=None, min_length=1, max_length=200, examples=["10 mL vial, 50 mg/mL"]
    )
    override_reason: SafetyReason | None = Field(
        default=None,
        description="A clinician's reason for a session total above the computed dose (never "
        "above max_dose_mg); from anyone else 403",
    )


class WitnessAttest(StrictModel):
    """The named witness confirms, signed in as themselves, that they watched the waste."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"attest": True}]})

    attest: Literal[True]


class WitnessRequest(StrictModel):
    """Another witness for waste still pending: their id or username."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"witness": "jlee"}]})

    witness: str = Field(min_length=1, max_length=64)


class AdministrationRead(ReadModel):
    id: Id
    session_id: Id
    medication: Medication
    route: Route
    dose_mg: float
    started_at: datetime
    ended_at: datetime | None
    lot_number: str
    expiry_date: date | None
    concentration_mg_per_ml: float | None
    volume_drawn_ml: float | None
    volume_administered_ml: float | None
    wasted_mg: float | None
    waste_witness_id: str | None
    waste_witness_name: str | None = None
    witness_status: Literal["pending", "witnessed", "not_confirmed"] | None = Field(
        default=None,
        description="Waste only: `pending` until the witness confirms it, `witnessed` then; "
        "`not_confirmed` for waste recorded before witnesses confirmed it",
    )
    witnessed_at: datetime | None = None
    waste_witness_id_name: PersonName
    devices: int | None
    ndc: str | None = None
    container: str | None = None
    exceeds_planned_dose: bool
    override_reason: str | None
    administered_by: str
    administered_by_name: PersonName
    recorded_at: datetime
    status: RecordStatus = Field(
        description="`entered-in-error` once retracted: kept on record, no longer counted"
    )
    retracted_at: datetime | None = None
    retracted_by: str | None = None
    retracted_by_name: PersonName
    retraction_reason: str | None = None


class AdministrationList(ReadModel):
    items: list[AdministrationRead]
    next_cursor: str | None = None
    planned_dose_mg: float | None = Field(description="The session's computed dose")
    total_given_mg: float = Field(
        description="Sum of the doses given in the session, retracted ones excluded"
    )


# The request body is the readings' ``RetractRequest``; these are its examples for a dose.
RETRACT_EXAMPLES: dict[str, Example] = {
    "mistyped": {
        "summary": "A dose typed wrong",
        "value": {"reason": "typed 400 mg for 40 mg; the 40 mg dose is recorded separately"},
    },
    "wrong_session": {
        "summary": "Recorded on the wrong patient's session",
        "value": {"reason": "recorded on chair-3's session, given at chair-4"},
    },
}
