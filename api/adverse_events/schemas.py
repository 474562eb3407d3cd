from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import ConfigDict, Field

from api.types import Id, PastTimestamp, ReadModel, RecordStatus, StrictModel

AdverseEventKind = Literal[
    "nausea",
    "vomiting",
    "headache",
    "dizziness",
    "hypertension",
    "hypotension",
    "tachycardia",
    "bradycardia",
    "respiratory_depression",
    "oxygen_desaturation",
    "excessive_sedation",
    "dissociation_distress",
    "emergence_reaction",
    "anxiety_agitation",
    "allergic_reaction",
    "other",
]
AdverseEventSeverity = Literal["mild", "moderate", "severe", "life_threatening"]


class AdverseEventCreate(StrictModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "kind": "nausea",
                    "severity": "mild",
                    "onset_at": "2026-12-01T14:30:00Z",
                    "action_taken": "ondansetron 4 mg IV",
                }
            ]
        }
    )

    kind: AdverseEventKind
    severity: AdverseEventSeverity
    onset_at: PastTimestamp
    resolved_at: PastTimestamp | None = None
    action_taken: str | None = Field(default=None, max_length=2000)
    note: str | None = Field(default=None, min_length=1, max_length=2000)


class ResolveRequest(StrictModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{}, {"resolved_at": "2026-12-01T15:10:00Z"}]}
    )

    resolved_at: PastTimestamp | None = None


class AdverseEventRead(ReadModel):
    id: Id
    session_id: Id
    patient_id: Id
    kind: AdverseEventKind
    severity: AdverseEventSeverity
    onset_at: datetime
    resolved_at: datetime | None
    action_taken: str | None
    note: str | None
    recorded_by: str | None
    recorded_at: datetime
    alert_id: Id | None = None
    status: RecordStatus
    retracted_at: datetime | None = None
    retracted_by: str | None = None
    retraction_reason: str | None = None
