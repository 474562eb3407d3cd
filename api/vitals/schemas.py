from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import ConfigDict, Field

from api.types import Id, PastTimestamp, StrictModel

Phase = Literal["pre", "intra", "post"]


class ObservationIn(StrictModel):
    code: str = Field(max_length=32, description="Vital-sign code, e.g. `systolic_bp`")
    value: float = Field(description="Numeric value in `unit`; NaN and infinities are invalid")
    unit: str = Field(max_length=32, description="UCUM unit; alternatives are converted")
    measured_at: PastTimestamp
    external_id: str | None = Field(default=None, min_length=1, max_length=200)
    phase: Phase | None = Field(default=None, description="Checked against the timeline")


class ObservationBatch(StrictModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "observations": [
                        {
                            "code": "systolic_bp",
                            "value": 128,
                            "unit": "mm[Hg]",
                            "measured_at": "2026-12-01T14:02:00Z",
                        },
                        {
                            "code": "diastolic_bp",
                            "value": 82,
                            "unit": "mm[Hg]",
                            "measured_at": "2026-12-01T14:02:00Z",
                        },
                        {
                            "code": "temperature",
                            "value": 98.6,
                            "unit": "[degF]",
                            "measured_at": "2026-12-01T14:02:00Z",
                            "external_id": "nurse-tab-7:991",
                        },
                    ]
                }
            ]
        }
    )

    observations: list[ObservationIn] = Field(min_length=1, max_length=1000)


class RetractRequest(StrictModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"reason": "cuff on wrong patient"}]})

    reason: str = Field(min_length=1, max_length=2000)


class ObservationRead(StrictModel):
    model_config = ConfigDict(extra="ignore")

    id: Id
    session_id: Id
    code: str
    value: float
    unit: str
    original_value: float
    original_unit: str
    measured_at: datetime
    phase: Phase
    status: Literal["final", "entered-in-error"]
    external_id: str | None
    source: str
    recorded_by: str | None
    recorded_at: datetime
    retracted_at: datetime | None = None
    retracted_by: str | None = None
    retraction_reason: str | None = None


class ObservationList(StrictModel):
    items: list[ObservationRead]
    next_cursor: str | None = None
