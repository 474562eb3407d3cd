from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Annotated, Any, Literal

import orjson
from pydantic import ConfigDict, Field, PlainSerializer, TypeAdapter
from typing_extensions import TypedDict

from api.types import Id, PastTimestamp, StrictModel

Phase = Literal["pre", "intra", "post"]


class ObservationIn(StrictModel):
    code: str = Field(max_length=32, description="Vital-sign code, e.g. `systolic_bp`")
    value: float = Field(description="Numeric value in `unit`; NaN and infinities are invalid")
    unit: str = Field(max_length=32, description="UCUM unit; alternatives are converted")
    measured_at: PastTimestamp
    external_id: str | None = Field(default=None, min_length=1, max_length=200)
    phase: Phase | None = Field(default=None, description="Checked against the timeline")


class ObservationBatch(StrictModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "observations": [
                        {
                            "code": "systolic_bp",
                            "value": 128,
                            "unit": "mm[Hg]",
                            "measured_at": "2026-12-01T14:02:00Z",
                        },
                        {
                            "code": "diastolic_bp",
                            "value": 82,
                            "unit": "mm[Hg]",
                            "measured_at": "2026-12-01T14:02:00Z",
                        },
                        {
                            "code": "temperature",
                            "value": 98.6,
                            "unit": "[degF]",
                            "measured_at": "2026-12-01T14:02:00Z",
                            "external_id": "nurse-tab-7:991",
                        },
                    ]
                }
            ]
        }
    )

    observations: list[ObservationIn] = Field(min_length=1, max_length=1000)


class RetractRequest(StrictModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"reason": "cuff on wrong patient"}]})

    reason: str = Field(min_length=1, max_length=2000)


class ObservationRead(StrictModel):
    model_config = ConfigDict(extra="ignore")

    id: Id
    session_id: Id
    code: str
    value: float
    unit: str
    original_value: float
    original_unit: str
    measured_at: datetime
    phase: Phase
    status: Literal["final", "entered-in-error"]
    external_id: str | None
    source: str
    recorded_by: str | None
    recorded_at: datetime
    retracted_at: datetime | None = None
    retracted_by: str | None = None
    retraction_reason: str | None = None


class ObservationList(StrictModel):
    items: list[ObservationRead]
    next_cursor: str | None = None


# Readings as plain rows (the vitals service's dicts): a TypedDict with ObservationRead's own
# fields. pydantic serializes a row through it with the same serializers as the model (the
# same JSON; keys outside the model are dropped) without validating it into a model first.
# The rows are Vigil's own, built by the vitals service or read from the database, so that
# validation only re-checked our own data: with the model's dump it was ~40% of the CPU of a
# 500-row timeline page. Rows must hold every field; the helpers below check that.
# Ids read from PostgreSQL are asyncpg's own UUID subclass, which pydantic's UUID serializer
# handles at half its speed; ``str`` of one is asyncpg's C code.
_DbId = Annotated[uuid.UUID, PlainSerializer(str, when_used="json")]
_ObservationRow: Any = TypedDict(  # type: ignore[misc]  # built from the model: one definition
    "_ObservationRow",
    {
        name: _DbId if f.annotation is uuid.UUID else f.annotation
        for name, f in ObservationRead.model_fields.items()
    },
)
_ObservationPage: Any = TypedDict(
    "_ObservationPage", {"items": list[_ObservationRow], "next_cursor": str | None}
)
_PAGE_JSON: TypeAdapter[Any] = TypeAdapter(_ObservationPage)
_ROWS_JSON: TypeAdapter[Any] = TypeAdapter(list[_ObservationRow])
_FIELDS = frozenset(ObservationRead.model_fields)


def _check_complete(rows: Sequence[Mapping[str, Any]]) -> None:
    for row in rows:
        if not row.keys() >= _FIELDS:
            raise ValueError(f"observation row without {sorted(_FIELDS - row.keys())}")


def observation_page_json(rows: Sequence[Mapping[str, Any]], next_cursor: str | None) -> bytes:
    """``ObservationList`` JSON of complete observation rows."""
    _check_complete(rows)
    return _PAGE_JSON.dump_json({"items": rows, "next_cursor": next_cursor})


def observation_page_json_of(items_json: bytes, next_cursor: str | None) -> bytes:
    """``ObservationList`` JSON around items already serialized by ``observations_json``
    (the same bytes as ``observation_page_json`` of those rows)."""
    return orjson.dumps({"items": orjson.Fragment(items_json), "next_cursor": next_cursor})


def observations_json(rows: Sequence[Mapping[str, Any]]) -> bytes:
    """A JSON array of ``ObservationRead`` from complete observation rows."""
    _check_complete(rows)
    return _ROWS_JSON.dump_json(rows)
