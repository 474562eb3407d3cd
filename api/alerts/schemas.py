from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import ConfigDict, Field

from api.people import PersonName
from api.types import Id, ReadModel, StrictModel

AlertStatus = Literal["open", "acknowledged", "resolved"]
AlertSeverity = Literal["warning", "critical"]


class AcknowledgeRequest(StrictModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{}, {"note": "Patient repositioned, SpO2 back to 97% on recheck"}]
        }
    )

    note: str | None = Field(
        default=None,
        min_length=1,
        max_length=2000,
        description="What was done; required (at least 10 characters) for a critical alert",
    )


class AlertRead(ReadModel):
    id: Id
    session_id: Id | None = Field(
        description="null for a patient's alert raised between sessions (SPEC §12)"
    )
    patient_id: Id
    location: str | None
    kind: str
    severity: AlertSeverity
    status: AlertStatus
    observation_id: Id | None
    assessment_id: Id | None
    adverse_event_id: Id | None = None
    message: str
    vital: str | None
    value: float | None
    limit: float | None
    created_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    acknowledged_by_name: PersonName
    acknowledge_note: str | None
    resolved_at: datetime | None
    resolved_by: str | None = None
    resolved_by_name: PersonName
    resolution: str | None
    gap_started_at: datetime | None = Field(
        default=None, description="vitals_overdue: when the gap without a blood pressure began"
    )
