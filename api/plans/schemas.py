from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import ConfigDict, Field

from api.people import PersonName
from api.types import Id, ReadModel, SafetyReason, StrictModel

Medication = Literal["ketamine", "esketamine"]
Route = Literal["iv_infusion", "im", "intranasal", "sublingual", "oral"]
Indication = Literal["trd", "mdd_si", "anxiety", "ptsd", "ocd", "other"]
WeightBasis = Literal["actual", "ideal", "adjusted"]
CoursePhase = Literal["induction", "maintenance"]

_IV_EXAMPLE: dict[str, Any] = {
    "medication": "ketamine",
    "route": "iv_infusion",
    "indication": "trd",
    "dose_mg_per_kg": 0.5,
    "weight_basis": "actual",
    "max_dose_mg": 60,
    "infusion_minutes": 40,
    "min_monitoring_minutes": 60,
    "sessions_planned": 6,
    "schedule_note": "twice weekly induction",
    "thresholds": {"pre_systolic_max": 150},
}
_ESK_EXAMPLE: dict[str, Any] = {
    "medication": "esketamine",
    "route": "intranasal",
    "indication": "trd",
    "dose_mg": 56,
    "max_dose_mg": 84,
    "min_monitoring_minutes": 120,
}


class PlanContent(StrictModel):
    """One full revision of a dosing plan."""

    model_config = ConfigDict(json_schema_extra={"examples": [_IV_EXAMPLE, _ESK_EXAMPLE]})

    medication: Medication
    route: Route
    indication: Indication
    dose_mg_per_kg: float | None = Field(default=None, gt=0, le=10, allow_inf_nan=False)
    dose_mg: float | None = Field(default=None, gt=0, le=2000, allow_inf_nan=False)
    weight_basis: WeightBasis | None = None
    max_dose_mg: float = Field(gt=0, le=2000, allow_inf_nan=False)
    infusion_minutes: int | None = Field(default=None, ge=1, le=600)
    min_monitoring_minutes: int = Field(ge=0, le=1440)
    sessions_planned: int | None = Field(default=None, ge=1, le=500)
    schedule_note: str | None = Field(default=None, max_length=2000)
    course_phase: CoursePhase = Field(
        default="induction", description="induction (default) or maintenance (SPEC §12)"
    )
    min_interval_hours: float | None = Field(
        default=None,
        gt=0,
        le=8760,
        allow_inf_nan=False,
        description="The least time between two dosed sessions of this plan: checking in "
        "sooner is 409 interval_too_short unless a clinician overrides.",
    )
    thresholds: dict[str, float] | None = None
    above_usual_reason: SafetyReason | None = Field(
        default=None,
        description="Why the dose is above the usual range (SPEC §3); required then, "
        "otherwise left out",
    )
    thresholds_reason: SafetyReason | None = Field(
        default=None,
        description="Why a limit in `thresholds` is looser than the clinic's (SPEC §5)",
    )


class PlanRevisionCreate(PlanContent):
    """A new full revision; `reason` says why the plan changed."""

    reason: str | None = Field(default=None, max_length=2000)


class DiscontinueRequest(StrictModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"reason": "course completed"}]})

    reason: str = Field(min_length=1, max_length=2000)


class RevisionRead(ReadModel):
    plan_id: Id
    revision: int
    medication: str
    route: str
    indication: str
    dose_mg_per_kg: float | None
    dose_mg: float | None
    weight_basis: str | None
    max_dose_mg: float
    infusion_minutes: int | None
    min_monitoring_minutes: int
    sessions_planned: int | None
    schedule_note: str | None
    course_phase: CoursePhase
    min_interval_hours: float | None
    thresholds: dict[str, float]
    above_usual_reason: str | None = None
    thresholds_reason: str | None = None
    reason: str | None
    created_at: datetime
    created_by: str | None
    created_by_name: PersonName


class PlanRead(RevisionRead):
    """The plan with its current revision's content."""

    id: Id
    patient_id: Id
    status: Literal["active", "discontinued"]
    version: int
    discontinued_at: datetime | None
    discontinued_by: str | None
    discontinued_by_name: PersonName
    discontinue_reason: str | None
