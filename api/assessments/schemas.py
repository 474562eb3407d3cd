from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from fastapi.openapi.models import Example
from pydantic import ConfigDict, Field, StrictInt

from api.people import PersonName
from api.types import Id, PastTimestamp, ReadModel, RecordStatus, StrictModel

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


class PatientAssessmentCreate(AssessmentCreate):
    """An assessment between sessions (SPEC §12): `source` says how it was taken."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "instrument": "phq9",
                    "items": [1, 1, 1, 0, 1, 0, 1, 0, 0],
                    "administered_at": "2026-12-03T10:00:00Z",
                    "source": "phone",
                }
            ]
        }
    )

    source: Literal["clinic", "phone", "patient_reported"]


class AssessmentRead(ReadModel):
    id: Id
    session_id: Id | None
    patient_id: Id | None = None
    source: str | None = None
    instrument: InstrumentName
    items: list[int] | None
    total: int
    band: str | None
    details: dict[str, Any]
    administered_at: datetime
    recorded_by: str | None
    recorded_by_name: PersonName
    recorded_at: datetime
    alert_id: Id | None = None
    status: RecordStatus = Field(
        description="`entered-in-error` once retracted: kept on record, no longer counted"
    )
    retracted_at: datetime | None = None
    retracted_by: str | None = None
    retracted_by_name: PersonName
    retraction_reason: str | None = None


class AssessmentList(ReadModel):
    items: list[AssessmentRead]
    next_cursor: str | None = None


# The request body is the readings' ``RetractRequest``; these are its examples for a score.
RETRACT_EXAMPLES: dict[str, Example] = {
    "mistyped": {
        "summary": "An item typed wrong",
        "value": {"reason": "PHQ-9 item 9 typed as 2; the patient answered 0 (re-entered)"},
    },
    "wrong_patient": {
        "summary": "Recorded on the wrong patient's session",
        "value": {"reason": "MOAA/S recorded on chair-3's session, patient at chair-4"},
    },
}
