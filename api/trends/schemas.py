from __future__ import annotations

from datetime import datetime

from api.types import Id, ReadModel


class VitalTrendRow(ReadModel):
    session_id: Id
    scheduled_at: datetime
    status: str
    dosing_started_at: datetime | None
    pre_dose_last: float | None
    pre_dose_last_at: datetime | None
    intra_max: float | None
    intra_max_at: datetime | None
    post_last: float | None
    post_last_at: datetime | None


class ScoreTrendRow(ReadModel):
    """A score of a session, or one taken between sessions (``source`` clinic, phone or
    patient_reported; no session, plan or course baseline of its own: see the course)."""

    assessment_id: Id
    session_id: Id | None
    dosing_plan_id: Id | None
    scheduled_at: datetime | None
    source: str = "session"
    administered_at: datetime
    total: int
    band: str | None
    baseline_total: int | None
    change: int | None
    percent_change: float | None
    response: bool | None
    remission: bool | None


class TrendPage(ReadModel):
    patient_id: Id
    code: str | None = None
    unit: str | None = None
    instrument: str | None = None
    items: list[VitalTrendRow] | list[ScoreTrendRow]
    next_cursor: str | None
