from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import ConfigDict, Field

from api.types import Id, ReadModel, StrictModel

StaffRole = Literal["admin", "clinician", "nurse"]

Phone = Field(default=None, min_length=3, max_length=40, pattern=r"^\+?[0-9 ().\-/]{3,40}$")
Email = Field(default=None, min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")


class UserCreate(StrictModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "username": "nurse.kim",
                    "password": "violet staple orbit lantern",
                    "role": "nurse",
                    "display_name": "Kim Lee, RN",
                    "phone": "+1 555 0100",
                    "email": "kim.lee@clinic.example",
                }
            ]
        }
    )

    username: str = Field(min_length=2, max_length=64, pattern=r"^[A-Za-z0-9._@-]+$")
    password: str = Field(
        min_length=12,
        max_length=1024,
        description="At least 12 characters, not the username, not a common password.",
    )
    role: StaffRole
    display_name: str = Field(min_length=1, max_length=200)
    phone: str | None = Phone
    email: str | None = Email


class UserUpdate(StrictModel):
    """Fields left out stay as they are; a role change ends the user's tokens."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"role": "clinician", "phone": "+1 555 0101"}]}
    )

    role: StaffRole | None = None
    display_name: str | None = Field(default=None, min_length=1, max_length=200)
    phone: str | None = Phone
    email: str | None = Email


class PasswordChange(StrictModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"current": "violet staple orbit lantern", "new": "amber kettle drift"}]
        }
    )

    current: str = Field(min_length=1, max_length=1024)
    new: str = Field(min_length=1, max_length=1024)


class PasswordReset(StrictModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"password": "amber kettle drift quay"}]}
    )

    password: str = Field(min_length=1, max_length=1024)


class UserRead(ReadModel):
    id: Id
    username: str
    display_name: str
    role: StaffRole
    disabled: bool
    phone: str | None
    email: str | None
    locked_until: datetime | None = Field(
        description="Locked out from every address it has not logged in from, until then."
    )
    created_at: datetime


class StaffRead(ReadModel):
    id: Id
    username: str
    display_name: str
    role: StaffRole
    active: bool
