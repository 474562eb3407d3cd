from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import ConfigDict, Field

from api.types import Id, PastTimestamp, ReadModel, RecordStatus, StrictModel


class SessionMedicationCreate(StrictModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "ondansetron",
                    "dose": 4,
                    "unit": "mg",
                    "route": "iv",
                    "given_at": "2026-12-01T14:35:00Z",
                    "reason": "nausea after the second device",
                    "controlled_schedule": None,
                }
            ]
        }
    )

    name: str = Field(min_length=1, max_length=200)
    dose: float = Field(gt=0, allow_inf_nan=False, strict=True)
    unit: str = Field(min_length=1, max_length=32)
    route: str = Field(min_length=1, max_length=64)
    given_at: PastTimestamp
    reason: str = Field(min_length=1, max_length=2000)
    controlled_schedule: Literal["II", "III", "IV", "V"] | None
    lot_number: str | None = Field(default=None, max_length=64)


class SessionMedicationRead(ReadModel):
    id: Id
    session_id: Id
    name: str
    dose: float
    unit: str
    route: str
    given_at: datetime
    reason: str
    controlled_schedule: str | None
    lot_number: str | None
    recorded_by: str | None
    recorded_at: datetime
    status: RecordStatus
    retracted_at: datetime | None = None
    retracted_by: str | None = None
    retraction_reason: str | None = None
