from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import ConfigDict, Field

from api.types import Id, PastTimestamp, ReadModel, StrictModel


class RemsForm(ReadModel):
    """The form's fields (see `api.clinical.rems`); `missing` names what the record lacks."""

    session_id: Id
    patient_id: Id
    form: str
    form_version: str
    first_treatment: bool | None = Field(
        description="no earlier dosed session of the patient in Vigil"
    )
    patient: dict[str, Any]
    concomitant_medications: dict[str, bool | None] | None
    monitoring_provider: dict[str, str | None] | None
    healthcare_setting: dict[str, str | None] | None
    treatment_date: date | None
    dose_mg: float | None
    devices: int | None
    lot_number: str | None
    monitoring_minutes: int | None
    monitoring_at_least_120_minutes: bool | None
    minutes_until_ready: int | None
    vitals_acceptable_before_dosing: bool | None
    vitals_acceptable_before_completion: bool | None
    bp_before_dosing: dict[str, Any] | None
    bp_40_min: dict[str, Any] | None
    bp_before_completion: dict[str, Any] | None
    sedation: dict[str, Any]
    dissociation: dict[str, Any]
    respiratory_depression: dict[str, Any]
    adverse_events: list[dict[str, Any]] | None
    submission: dict[str, Any] | None = None
    missing: list[str]


class SubmissionCreate(StrictModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{}, {"submitted_at": "2026-12-02T09:00:00Z", "reference": "PMF-0001"}]
        }
    )

    submitted_at: PastTimestamp | None = None
    reference: str | None = Field(default=None, max_length=128)


class SubmissionRead(ReadModel):
    id: Id
    session_id: Id
    submitted_at: datetime
    reference: str | None
    form_version: str
    recorded_by: str | None
    recorded_at: datetime


FormStatus = Literal["due", "overdue", "submitted"]


class FormListItem(ReadModel):
    session_id: Id
    patient_id: Id
    patient_name: str
    mrn: str
    treatment_date: date
    due_by: date
    status: FormStatus
    submitted_at: datetime | None
    reference: str | None
