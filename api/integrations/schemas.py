from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import ConfigDict, Field

from api.types import Id, ReadModel, StrictModel

_ITEM_DOC = (
    "Readings shaped like `POST /v1/sessions/{id}/vitals` items (`code`, `value`, `unit`, "
    "`measured_at`, optional `external_id`, `phase`). Each is checked on its own: a bad item "
    "is rejected and quarantined, the others are stored."
)


class ObservationPush(StrictModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "device": "00A0370098006640",
                    "observations": [
                        {
                            "code": "heart_rate",
                            "value": 72,
                            "unit": "/min",
                            "measured_at": "2026-12-01T14:02:00Z",
                            "external_id": "vs900-6640:20261201140200:hr",
                        },
                        {
                            "code": "spo2",
                            "value": 98,
                            "unit": "%",
                            "measured_at": "2026-12-01T14:02:00Z",
                            "external_id": "vs900-6640:20261201140200:spo2",
                        },
                    ],
                }
            ]
        }
    )

    device: str = Field(
        min_length=1, max_length=64, description="Device identifier (EUI-64/serial)"
    )
    observations: list[Any] = Field(
        min_length=1,
        max_length=1000,
        description=_ITEM_DOC,
        json_schema_extra={"items": {"$ref": "#/components/schemas/ObservationIn"}},
    )


class ItemResult(StrictModel):
    index: int
    status: Literal["accepted", "duplicate", "rejected"]
    reason: str | None = Field(
        default=None,
        description="Why it was rejected: invalid, unknown_code, unit_mismatch, invalid_value, "
        "phase_mismatch, invalid_time (before 1970 or more than 12 hours before the session), "
        "invalid_bp_pair, unknown_device, not_routable (no session takes the reading at its "
        "time; the quarantine tells an administrator why)",
    )
    detail: str | None = None
    observation_id: Id | None = None
    session_id: Id | None = None


class PushResult(StrictModel):
    device: str
    accepted: int
    duplicates: int
    rejected: int
    results: list[ItemResult]


class QuarantineRead(ReadModel):
    id: Id
    received_at: datetime
    channel: str
    source: str
    device_identifier: str | None
    reason: str
    detail: str
    raw: Any
    message_control_id: str | None
    item_index: int | None
    session_id: Id | None
