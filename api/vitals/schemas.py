from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Annotated, Any, Literal

import orjson
from pydantic import AfterValidator, ConfigDict, Field, StringConstraints

from api.types import Id, PastTimestamp, StrictModel
from api.vitals.identity import external_id_problem

Phase = Literal["pre", "intra", "post"]


def _exact_external_id(value: str) -> str:
    problem = external_id_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return value


#: Compared exactly (SPEC §5): whitespace around it is 422, never trimmed away.
ExternalId = Annotated[
    str,
    StringConstraints(strip_whitespace=False, min_length=1, max_length=200),
    AfterValidator(_exact_external_id),
]


class ObservationIn(StrictModel):
    code: str = Field(max_length=32, description="Vital-sign code, e.g. `systolic_bp`")
    value: float = Field(description="Numeric value in `unit`; NaN and infinities are invalid")
    unit: str = Field(max_length=32, description="UCUM unit; alternatives are converted")
    measured_at: PastTimestamp
    external_id: ExternalId | None = Field(
        default=None,
        description="Your id for the reading, unique per source and compared exactly (no "
        "leading or trailing whitespace). Without one, a device reading is identified by its "
        "device, code and measured_at.",
    )
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
    recorded_by_name: str | None = None
    recorded_at: datetime
    retracted_at: datetime | None = None
    retracted_by: str | None = None
    retracted_by_name: str | None = None
    retraction_reason: str | None = None


class ObservationList(StrictModel):
    items: list[ObservationRead]
    next_cursor: str | None = None


# Readings as plain rows (the vitals service's dicts) are serialized by orjson straight from
# the rows, not validated into models first: the rows are Vigil's own, built by the vitals
# service or read from the database, so validation would only re-check our own data (with the
# model's dump it was ~40% of the CPU of a 500-row timeline page; pydantic's serializer on
# the rows was still a sixth of it). The JSON is the model's: same keys, same values, same
# spellings (orjson writes floats, strings and UTC datetimes as pydantic does; a test compares
# the two on generated rows). Rows must hold exactly the model's fields: a missing one is an
# error, extra keys are left out.
_FIELDS = frozenset(ObservationRead.model_fields)
_FIELD_ORDER = tuple(ObservationRead.model_fields)


def _json_default(value: Any) -> str:
    # Ids read from PostgreSQL are asyncpg's UUID subclass; orjson writes only uuid.UUID itself.
    if isinstance(value, uuid.UUID):
        return str(value)
    raise TypeError(f"{type(value).__name__} in an observation row")


def _exact(rows: Sequence[Mapping[str, Any]]) -> Sequence[Mapping[str, Any]]:
    """``rows``, each with exactly the model's fields (extra keys dropped; a missing one raises)."""
    fixed: list[Mapping[str, Any]] | None = None
    for i, row in enumerate(rows):
        if row.keys() != _FIELDS:
            missing = _FIELDS - row.keys()
            if missing:
                raise ValueError(f"observation row without {sorted(missing)}")
            if fixed is None:
                fixed = list(rows[:i])
            fixed.append({k: row[k] for k in _FIELD_ORDER})
        elif fixed is not None:
            fixed.append(row)
    return rows if fixed is None else fixed


def _dumps(value: Any) -> bytes:
    return orjson.dumps(value, default=_json_default, option=orjson.OPT_UTC_Z)


def observation_page_json(rows: Sequence[Mapping[str, Any]], next_cursor: str | None) -> bytes:
    """``ObservationList`` JSON of complete observation rows."""
    return _dumps({"items": _exact(rows), "next_cursor": next_cursor})


def observation_page_json_of(items_json: bytes, next_cursor: str | None) -> bytes:
    """``ObservationList`` JSON around items already serialized by ``observations_json``
    (the same bytes as ``observation_page_json`` of those rows)."""
    return orjson.dumps({"items": orjson.Fragment(items_json), "next_cursor": next_cursor})


def observations_json(rows: Sequence[Mapping[str, Any]]) -> bytes:
    """A JSON array of ``ObservationRead`` from complete observation rows."""
    return _dumps(_exact(rows))
