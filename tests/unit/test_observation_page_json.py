"""Readings serialized from plain rows must be byte-for-byte the model's JSON."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import TypeAdapter

from api.vitals.schemas import (
    ObservationList,
    ObservationRead,
    observation_page_json,
    observation_page_json_of,
    observations_json,
)

MEASURED = datetime(2026, 11, 26, 10, 0, 0, 123456, tzinfo=UTC)


def row(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": uuid.uuid4(),
        "session_id": uuid.uuid4(),
        "code": "temperature",
        "value": 37.05,
        "unit": "Cel",
        "original_value": 98.69,
        "original_unit": "[degF]",
        "measured_at": MEASURED,
        "phase": "intra",
        "status": "final",
        "external_id": None,
        "source": "device:monitor-7",
        "recorded_by": None,
        "recorded_at": MEASURED.replace(microsecond=0) + timedelta(seconds=3),
        "retracted_at": None,
        "retracted_by": None,
        "retraction_reason": None,
    }
    return base | overrides


def test_rows_serialize_exactly_as_the_model_does() -> None:
    rows = [
        row(),
        row(value=128.0, code="systolic_bp", unit="mm[Hg]", external_id="nurse-tab:1"),
        row(
            status="entered-in-error",
            retracted_at=MEASURED + timedelta(minutes=5),
            retracted_by="0b6f9a43-2f7c-4f6e-9b1a-2f0e4c1d7a55",
            retraction_reason='cuff on wrong patient, "left" arm',
            phase="post",
        ),
        row(value=1e-7, original_value=12345678901234.5, phase="pre"),
    ]
    model = ObservationList.model_validate({"items": rows, "next_cursor": "abc"})
    assert observation_page_json(rows, "abc") == model.model_dump_json().encode()
    assert observation_page_json([], None) == ObservationList(items=[]).model_dump_json().encode()


def test_keys_outside_the_model_are_not_sent() -> None:
    extra = row() | {"patient_id": uuid.uuid4(), "internal": "x"}
    model = ObservationList.model_validate({"items": [extra]})
    assert observation_page_json([extra], None) == model.model_dump_json().encode()
    assert set(ObservationRead.model_fields) == set(row())


def test_a_list_of_rows_serializes_as_the_model_list() -> None:
    rows = [row(), row(phase="pre", external_id="hl7:MSG1:1")]
    expected = TypeAdapter(list[ObservationRead]).dump_json(
        TypeAdapter(list[ObservationRead]).validate_python(rows)
    )
    assert observations_json(rows) == expected


@pytest.mark.parametrize("next_cursor", [None, "abc", 'a"b\\c'])
def test_a_page_around_serialized_items_is_the_same_bytes(next_cursor: str | None) -> None:
    # A batch's answer reuses the JSON its live event was given (api/vitals/service.py).
    rows = [row(), row(code="heart_rate", value=72.0, unit="/min", external_id="mon:9")]
    assert observation_page_json_of(observations_json(rows), next_cursor) == (
        observation_page_json(rows, next_cursor)
    )
    assert observation_page_json_of(observations_json([]), None) == observation_page_json([], None)


def test_a_row_without_a_field_is_refused_not_sent_short() -> None:
    incomplete = row()
    del incomplete["phase"]
    with pytest.raises(ValueError, match="phase"):
        observations_json([row(), incomplete])
    with pytest.raises(ValueError, match="phase"):
        observation_page_json([incomplete], None)
