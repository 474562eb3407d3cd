from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import ConfigDict, Field

from api.types import Id, ReadModel, StrictModel

StaffRole = Literal["admin", "clinician", "nurse"]


class UserCreate(StrictModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "username": "nurse.kim",
                    "password": "correct horse battery",
                    "role": "nurse",
                    "display_name": "Kim Lee, RN",
                }
            ]
        }
    )

    username: str = Field(min_length=2, max_length=64, pattern=r"^[A-Za-z0-9._@-]+$")
    password: str = Field(min_length=12, max_length=1024)
    role: StaffRole
    display_name: str = Field(min_length=1, max_length=200)


class UserRead(ReadModel):
    id: Id
    username: str
    display_name: str
    role: StaffRole
    disabled: bool
    created_at: datetime
