from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import ConfigDict, Field, field_validator

from api.types import CalendarDate, Id, ReadModel, StrictModel

Sex = Literal["female", "male", "other", "unknown"]

_EXAMPLE: dict[str, Any] = {
    "mrn": "A-10023",
    "given_name": "Ana",
    "family_name": "Ruiz",
    "birth_date": "1984-03-09",
    "sex": "female",
    "height_cm": 165,
}


def _birth_date_not_future(value: date | None) -> date | None:
    if value is not None and value > date.today():
        raise ValueError("birth_date is in the future")
    return value


class PatientCreate(StrictModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_EXAMPLE]})

    mrn: str = Field(min_length=1, max_length=64)
    given_name: str = Field(min_length=1, max_length=200)
    family_name: str = Field(min_length=1, max_length=200)
    birth_date: CalendarDate
    sex: Sex
    height_cm: float | None = Field(default=None, gt=30, lt=260, allow_inf_nan=False)
    address: str | None = Field(
        default=None,
        min_length=1,
        max_length=500,
        description="Postal address, one string (the controlled-substance log names it)",
    )

    _check_birth = field_validator("birth_date")(_birth_date_not_future)


class PatientUpdate(StrictModel):
    """Demographics only; fields left out stay as they are."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"family_name": "Ruiz-Ortega", "height_cm": 166}]}
    )

    given_name: str | None = Field(default=None, min_length=1, max_length=200)
    family_name: str | None = Field(default=None, min_length=1, max_length=200)
    birth_date: CalendarDate | None = None
    sex: Sex | None = None
    height_cm: float | None = Field(default=None, gt=30, lt=260, allow_inf_nan=False)
    address: str | None = Field(
        default=None, min_length=1, max_length=500, description="null clears it"
    )

    _check_birth = field_validator("birth_date")(_birth_date_not_future)


class PatientRead(ReadModel):
    id: Id
    mrn: str
    given_name: str
    family_name: str
    birth_date: CalendarDate
    sex: Sex
    height_cm: float | None
    address: str | None = None
    version: int
    created_at: datetime
    updated_at: datetime
