from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import ConfigDict, Field

from api.people import PersonName
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
        min_length=1,
        max_length=64,
        description="The clinician answerable for the session (id or username): an active "
        "clinician. It names the monitoring provider on the REMS form.",
    )


class RepinRequest(StrictModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{}, {"weight_kg": 78.2}]})

    weight_kg: float | None = Field(
        default=None,
        gt=1,
        le=400,
        allow_inf_nan=False,
        description="The weight to compute the dose from (default: the check-in weight).",
    )


DischargeType = Literal["regular", "against_advice"]


class TransitionRequest(StrictModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"to": "checked_in", "weight_kg": 72.5},
                {"to": "dosing", "at": "2026-12-01T14:05:00Z"},
                {"to": "dosing", "override_reason": "BP 146/92 reviewed, benefit outweighs risk"},
                {"to": "cancelled", "reason": "patient unwell"},
                {
                    "to": "discharged",
                    "discharge_type": "against_advice",
                    "reason": "patient insisted on leaving at 60 minutes; risks explained",
                },
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
    override_reason: str | None = Field(
        default=None,
        min_length=10,
        max_length=2000,
        description="A clinician's reason for passing the overridable unmet items (at least "
        "10 characters; from anyone else 403).",
    )
    weight_kg: float | None = Field(default=None, gt=1, le=400, allow_inf_nan=False)
    discharge_type: DischargeType | None = Field(
        default=None,
        description="`against_advice` (with a `reason`): the patient leaves before the "
        "discharge gate is met; every unmet item is recorded on the transition.",
    )


class TransitionRead(ReadModel):
    from_status: str
    to_status: str
    at: datetime
    reason: str | None
    override_reason: str | None
    overridden: list[dict[str, Any]] | None
    unmet: list[dict[str, Any]] | None
    recorded_by: str | None
    recorded_by_name: PersonName
    recorded_at: datetime


class SessionListItem(ReadModel):
    id: Id
    patient_id: Id
    dosing_plan_id: Id = Field(validation_alias="plan_id")
    plan_revision: int
    status: SessionStatus
    scheduled_at: datetime
    location: str | None
    responsible_clinician: Id | None = Field(
        default=None, validation_alias="responsible_clinician_id"
    )
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
    basis_limited_to_actual: bool = Field(
        default=False,
        description="An ideal/adjusted basis above the day's weight: the actual weight was used",
    )
    discharge_type: DischargeType | None
    version: int


class SessionRead(SessionListItem):
    """The whole record of one session."""

    pinned_revision: int | None = Field(
        description="The plan revision pinned at check-in; null before check-in (the session "
        "then shows the plan's current revision as `plan_revision`)."
    )
    baseline: dict[str, float | None] = Field(
        description="The pre-dose baseline frozen when dosing started: systolic_bp, "
        "diastolic_bp, heart_rate."
    )
    responsible_clinician: Id | None
    responsible_clinician_name: str | None
    medication: str
    route: str
    min_monitoring_minutes: int
    transitions: list[TransitionRead]
    administrations: list[dict[str, Any]]
    alert_counts: dict[str, int]
    vitals_due_at: datetime | None = Field(
        default=None,
        description="When the next blood pressure is due (SPEC §6); null outside dosing/monitoring",
    )
    vitals_summary: dict[str, Any]
    checklist: dict[str, Any] | None = None
    discharge_checklist: dict[str, Any] | None = None
    adverse_events: list[dict[str, Any]] = Field(default_factory=list)
    other_medications: list[dict[str, Any]] = Field(default_factory=list)
