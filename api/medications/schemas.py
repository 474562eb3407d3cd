from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import ConfigDict, Field

from api.types import Id, ReadModel, StrictModel

MedicationClass = Literal[
    "benzodiazepine",
    "sedative_hypnotic",
    "psychostimulant",
    "maoi",
    "opioid",
    "antidepressant",
    "mood_stabilizer",
    "antipsychotic",
    "other",
]


class MedicationItem(StrictModel):
    name: str = Field(min_length=1, max_length=200)
    class_: MedicationClass = Field(alias="class")
    dose: str | None = Field(default=None, max_length=200)

    model_config = ConfigDict(populate_by_name=True)


class MedicationListPut(StrictModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "items": [
                        {"name": "sertraline", "class": "antidepressant", "dose": "100 mg daily"},
                        {"name": "lorazepam", "class": "benzodiazepine", "dose": "0.5 mg prn"},
                    ]
                }
            ]
        }
    )

    items: list[MedicationItem] = Field(max_length=100)


class MedicationListRead(ReadModel):
    patient_id: Id
    version: int = Field(description="0: no list recorded yet")
    items: list[dict[str, str | None]]
    recorded_by: str | None
    recorded_at: datetime | None
