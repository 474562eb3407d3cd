from __future__ import annotations

from datetime import datetime

from pydantic import ConfigDict, Field

from api.people import PersonName
from api.types import Id, ReadModel, StrictModel


class DeviceCreate(StrictModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"identifier": "00A0370098006640", "model": "Mindray VS-900", "location": "chair-3"}
            ]
        }
    )

    identifier: str = Field(
        min_length=1,
        max_length=64,
        description="EUI-64 (16 hex digits, separators allowed; stored upper-case without them) "
        "or serial number",
    )
    model: str | None = Field(default=None, max_length=200)
    location: str | None = Field(default=None, max_length=64)


class DeviceRead(ReadModel):
    id: Id
    identifier: str
    model: str | None
    location: str | None
    created_at: datetime
    created_by: str | None
    created_by_name: PersonName
    bound_session_id: Id | None = Field(
        default=None, description="The session the device is bound to now; null when free"
    )


class BindingCreate(StrictModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"device_id": "8c1f9a5e-2f8e-4a43-9d77-1b2a3c4d5e6f"}]}
    )

    device_id: str


class BindingRelease(StrictModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{}, {"reason": "monitor swapped for chair-4's"}]}
    )

    reason: str | None = Field(default=None, min_length=1, max_length=2000)


class BindingRead(ReadModel):
    id: Id
    device_id: Id
    device_identifier: str
    session_id: Id
    bound_at: datetime
    bound_by: str | None
    bound_by_name: PersonName
    released_at: datetime | None
    released_by: str | None
    released_by_name: PersonName
    release_reason: str | None
    active: bool = Field(description="Open: the device's readings go to this session")
