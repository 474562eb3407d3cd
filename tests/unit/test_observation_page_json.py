"""Readings serialized from plain rows must be byte-for-byte the model's JSON."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import orjson
import pytest
from asyncpg.pgproto import pgproto
from hypothesis import given, settings
from hypothesis import strategies as st
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
        "recorded_by_name": None,
        "recorded_at": MEASURED.replace(microsecond=0) + timedelta(seconds=3),
        "retracted_at": None,
        "retracted_by": None,
        "retracted_by_name": None,
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


_offsets = st.sampled_from(
    [
        UTC,
        timezone(timedelta(0)),
        timezone(timedelta(hours=5, minutes=30)),
        timezone(-timedelta(hours=8)),
    ]
)
_times = st.builds(
    lambda dt, tz: dt.replace(tzinfo=tz),
    st.datetimes(min_value=datetime(1900, 1, 2), max_value=datetime(2200, 1, 1)),
    _offsets,
)
_floats = st.floats(allow_nan=False, allow_infinity=False)
# Request models strip surrounding whitespace (StrictModel), so stored text never has any.
_text = st.text().map(str.strip)
_ids = st.builds(lambda u, pg: pgproto.UUID(str(u)) if pg else u, st.uuids(), st.booleans())
_rows = st.fixed_dictionaries(
    {
        "id": _ids,
        "session_id": _ids,
        "code": _text,
        "value": _floats,
        "unit": _text,
        "original_value": _floats,
        "original_unit": _text,
        "measured_at": _times,
        "phase": st.sampled_from(["pre", "intra", "post"]),
        "status": st.sampled_from(["final", "entered-in-error"]),
        "external_id": st.none() | _text.filter(bool),
        "source": _text,
        "recorded_by": st.none() | _text,
        "recorded_by_name": st.none() | _text,
        "recorded_at": _times,
        "retracted_at": st.none() | _times,
        "retracted_by": st.none() | _text,
        "retracted_by_name": st.none() | _text,
        "retraction_reason": st.none() | _text,
    }
)


@settings(max_examples=300, deadline=None)
@given(rows=st.lists(_rows, max_size=5), cursor=st.none() | _text)
def test_generated_rows_serialize_as_the_model_does(
    rows: list[dict[str, Any]], cursor: str | None
) -> None:
    """orjson on the rows writes what pydantic writes for the model: every value the same,
    spelled the same (strings, datetimes and ids compared as text, floats to the bit)."""
    model = ObservationList.model_validate({"items": rows, "next_cursor": cursor})
    in_model_order = [{k: r[k] for k in ObservationRead.model_fields} for r in rows]
    assert observation_page_json(in_model_order, cursor) == model.model_dump_json().encode()
    shuffled = [dict(reversed(list(r.items()))) for r in rows]  # key order is not the model's
    assert orjson.loads(observations_json(shuffled)) == orjson.loads(
        TypeAdapter(list[ObservationRead]).dump_json(model.items)
    )
