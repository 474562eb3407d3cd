from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import ConfigDict, Field

from api.types import Id, NotFutureTimestamp, ReadModel, StrictModel, Timestamp

SessionStatus = Literal[
    "scheduled", "checked_in", "dosing", "monitoring", "discharged", "cancelled", "transferred"
]


class SessionCreate(StrictModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "patient_id": "5f0c8f3e-8f0a-4a53-9d55-3f1f5f1c2b7a",
                    "dosing_plan_id": "0b6f4f0e-6c1c-4c2e-9a6e-6f0a3c1d2e4b",
                    "scheduled_at": "2026-12-01T09:00:00-05:00",
                    "location": "chair-3",
                }
            ]
        }
    )

    patient_id: str
    dosing_plan_id: str
    scheduled_at: Timestamp
    location: str | None = Field(default=None, max_length=64)
    responsible_clinician: str | None = Field(
        default=None,
        max_length=64,
        description="the clinician answerable for the session (id or username): the REMS "
        "form's monitoring provider",
    )


class TransitionRequest(StrictModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"to": "checked_in", "weight_kg": 72.5},
                {"to": "dosing", "at": "2026-12-01T14:05:00Z"},
                {"to": "dosing", "override_reason": "BP 146/92 reviewed, benefit outweighs risk"},
                {"to": "cancelled", "reason": "patient unwell"},
            ]
        }
    )

    to: SessionStatus
    # Never in the future, not even within §1's 2-minute tolerance for readings (SPEC §4).
    at: NotFutureTimestamp | None = Field(
        default=None,
        description="When the step happened (default now); may be in the past, never later "
        "than the server clock, and not before the previous step.",
    )
    reason: str | None = Field(default=None, min_length=1, max_length=2000)
    override_reason: str | None = Field(default=None, min_length=1, max_length=2000)
    weight_kg: float | None = Field(default=None, gt=1, le=400, allow_inf_nan=False)


class TransitionRead(ReadModel):
    from_status: str
    to_status: str
    at: datetime
    reason: str | None
    override_reason: str | None
    overridden: list[dict[str, Any]] | None
    recorded_by: str | None
    recorded_at: datetime


class SessionListItem(ReadModel):
    id: Id
    patient_id: Id
    dosing_plan_id: Id = Field(validation_alias="plan_id")
    plan_revision: int
    status: SessionStatus
    scheduled_at: datetime
    location: str | None
    responsible_clinician: str | None = None
    checked_in_at: datetime | None
    dosing_started_at: datetime | None
    dosing_ended_at: datetime | None
    ended_at: datetime | None
    weight_kg: float | None
    weight_basis: str | None
    basis_weight_kg: float | None
    dose_mg_per_kg: float | None
    planned_dose_mg: float | None
    uncapped_dose_mg: float | None
    dose_capped: bool
    version: int


class SessionRead(SessionListItem):
    """The whole record of one session."""

    medication: str
    route: str
    min_monitoring_minutes: int
    transitions: list[TransitionRead]
    administrations: list[dict[str, Any]]
    alert_counts: dict[str, int]
    vitals_summary: dict[str, Any]
    checklist: dict[str, Any] | None = None
    discharge_checklist: dict[str, Any] | None = None
    adverse_events: list[dict[str, Any]] = Field(default_factory=list)
    other_medications: list[dict[str, Any]] = Field(default_factory=list)
