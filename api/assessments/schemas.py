from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import ConfigDict, Field, StrictInt

from api.types import Id, PastTimestamp, ReadModel, StrictModel

InstrumentName = Literal["phq9", "gad7", "pcl5", "madrs", "ybocs", "cadss", "moaas", "rass"]


class AssessmentCreate(StrictModel):
    """Item scales send `items` (PHQ-9 9, GAD-7 7, PCL-5 20, MADRS 10, Y-BOCS 10, CADSS 23);
    MOAA/S (0–5) and RASS (−5..+4) send `score`. The server computes `total` and `band`."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "instrument": "phq9",
                    "items": [2, 2, 1, 2, 1, 1, 2, 1, 0],
                    "administered_at": "2026-12-01T13:50:00Z",
                },
                {"instrument": "moaas", "score": 5, "administered_at": "2026-12-01T15:40:00Z"},
                {"instrument": "rass", "score": -1, "administered_at": "2026-12-01T14:30:00Z"},
            ]
        }
    )

    instrument: InstrumentName
    items: list[StrictInt] | None = Field(default=None, max_length=50)
    score: StrictInt | None = None
    administered_at: PastTimestamp


class AssessmentRead(ReadModel):
    id: Id
    session_id: Id
    instrument: InstrumentName
    items: list[int] | None
    total: int
    band: str | None
    details: dict[str, Any]
    administered_at: datetime
    recorded_by: str | None
    recorded_at: datetime
    alert_id: Id | None = None


class AssessmentList(ReadModel):
    items: list[AssessmentRead]
    next_cursor: str | None = None
