from __future__ import annotations

from datetime import date
from typing import Any

from api.types import Id, ReadModel


class RemsForm(ReadModel):
    """The form's fields (see `api.clinical.rems`); `missing` names what the record lacks."""

    session_id: Id
    patient_id: Id
    form: str
    form_version: str
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
    adverse_events: list[str] | None
    missing: list[str]
