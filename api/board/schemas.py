from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field

from api.types import Id


class BoardPatient(BaseModel):
    id: Id
    name: str
    given_name: str | None = None
    family_name: str | None = None
    mrn: str


class LatestVital(BaseModel):
    value: float
    unit: str
    measured_at: datetime


class OpenAlerts(BaseModel):
    critical: int = 0
    warning: int = 0


class DischargeReadiness(BaseModel):
    ready: bool
    first_unmet: str | None = Field(description="The first unmet item's message, as the gate says")
    unmet_count: int
    earliest_at: datetime | None = Field(
        description="When the minimum monitoring time is reached (when it is not yet)"
    )


class BoardSession(BaseModel):
    session_id: Id
    status: str
    location: str | None
    scheduled_at: datetime
    checked_in_at: datetime | None
    dosing_started_at: datetime | None
    ended_at: datetime | None
    version: int
    patient: BoardPatient
    medication: str
    route: str
    planned_dose_mg: float | None
    first_dose_at: datetime | None
    minutes_since_first_dose: int | None
    latest_vitals: dict[str, LatestVital] = Field(description="By vital code, the latest reading")
    limits: dict[str, float] = Field(
        description="The limits in force for the session (clinic settings, then the plan's)"
    )
    open_alerts: OpenAlerts
    discharge: DischargeReadiness | None = Field(
        description="Discharge readiness as of now (sessions in monitoring; null otherwise)"
    )
    vitals_due_at: datetime | None


class PatientAlert(BaseModel):
    id: Id
    kind: str
    severity: str
    status: str
    message: str
    created_at: datetime
    patient: BoardPatient


class Board(BaseModel):
    date: date
    time_zone: str
    generated_at: datetime
    sessions: list[BoardSession]
    patient_alerts: list[PatientAlert]
