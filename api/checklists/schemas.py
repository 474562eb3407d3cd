from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import ConfigDict, Field, StrictBool

from api.types import Id, PastTimestamp, ReadModel, StrictModel


class Escort(StrictModel):
    name: str = Field(min_length=1, max_length=200)
    phone: str | None = Field(default=None, max_length=40)


class PreSessionChecklist(StrictModel):
    """Recorded while the session is checked in, replaceable until dosing starts; judged as of
    the dosing transition's `at` (SPEC §11)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "last_food_at": "2026-12-01T06:30:00-05:00",
                    "last_liquids_at": "2026-12-01T08:00:00-05:00",
                    "escort": {"name": "Luis Ruiz", "phone": "+1 555 0100"},
                    "no_driving_acknowledged": True,
                    "medication_changes": False,
                    "pregnancy_test": "negative",
                    "consent_confirmed": True,
                }
            ]
        }
    )

    last_food_at: PastTimestamp
    last_liquids_at: PastTimestamp
    escort: Escort | None
    no_driving_acknowledged: StrictBool
    medication_changes: StrictBool
    pregnancy_test: Literal["negative", "positive", "not_applicable", "declined"]
    consent_confirmed: StrictBool
    note: str | None = Field(default=None, max_length=2000)


class DischargeChecklist(StrictModel):
    """Recorded while the session is in monitoring (SPEC §11). `ready_at`: when the patient
    would have been fit to leave without a minimum monitoring time (the REMS form's "minutes
    until ready")."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "dissociation_resolved": True,
                    "escort_present": True,
                    "instructions_given": True,
                    "ready_at": "2026-12-01T11:10:00-05:00",
                }
            ]
        }
    )

    dissociation_resolved: StrictBool
    escort_present: StrictBool
    instructions_given: StrictBool
    ready_at: PastTimestamp
    note: str | None = Field(default=None, max_length=2000)


class ChecklistRead(ReadModel):
    session_id: Id
    kind: Literal["pre", "discharge"]
    content: dict[str, Any]
    version: int
    recorded_by: str | None
    recorded_at: datetime
