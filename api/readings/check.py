"""Checking one reading against the vital table and its session's timeline (no I/O).

What a reading is as an entry point received it, what is wrong with it, and the row it becomes.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from api.clinical.phase import Phase, phase_labeler
from api.clinical.reading_time import too_early_problem
from api.clinical.vitals import VitalValueError, normalize
from api.config import clinic_zone, get_settings
from api.errors import ValidationFailed, field_error
from api.types import range_problem
from models import TreatmentSession


class Reading(Protocol):
    """One reading as an entry point received it (a ``ReadingInput``, or the REST body's item
    as validated)."""

    @property
    def code(self) -> str: ...
    @property
    def value(self) -> float: ...
    @property
    def unit(self) -> str: ...
    @property
    def measured_at(self) -> datetime: ...
    @property
    def external_id(self) -> str | None: ...
    @property
    def phase(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class ReadingInput:
    code: str
    value: float
    unit: str
    measured_at: datetime
    external_id: str | None = None
    phase: str | None = None


def check_batch_size(count: int) -> None:
    """A request may carry at most VIGIL_MAX_BATCH_OBSERVATIONS readings (422 otherwise)."""
    limit = get_settings().max_batch_observations
    if count > limit:
        raise ValidationFailed(
            [
                field_error(
                    ["body", "observations"],
                    f"at most {limit} readings per request (this one has {count}); "
                    "send the rest in further requests",
                )
            ]
        )


@dataclass(frozen=True, slots=True)
class ItemProblem:
    index: int
    field: str
    message: str


# Phase member -> its plain value; on a 500-row page the enum's ``.value`` property showed.
_PHASE_VALUES = {phase: phase.value for phase in Phase}


def with_phase(row: dict[str, Any], session: TreatmentSession) -> dict[str, Any]:
    return with_phases([row], session)[0]


def with_phases(rows: list[dict[str, Any]], session: TreatmentSession) -> list[dict[str, Any]]:
    """Each row (a reading of ``session``) with its phase, derived from the session timeline."""
    label = phase_labeler(session.dosing_started_at, session.dosing_ended_at)
    for row in rows:
        row["phase"] = _PHASE_VALUES[label(row["measured_at"])]
    return rows


def after_end(session: TreatmentSession, measured_at: datetime) -> bool:
    """A reading measured after its session ended (SPEC §4: refused, 409 on REST and FHIR)."""
    return session.ended_at is not None and measured_at > session.ended_at


def check_reading(
    session: TreatmentSession,
    index: int,
    item: Reading,
    *,
    source: str,
    recorded_by: str | None,
    recorded_at: datetime,
    phase_of: Callable[[datetime], Phase] | None = None,
) -> dict[str, Any] | ItemProblem:
    """Validate one reading against the vital table and the session timeline (units, range,
    the 12-hour rule, a phase the client claims); the new row, or the problem with it.
    ``phase_of``: the session's :func:`phase_labeler`, when the caller checks many readings."""
    try:
        normalized = normalize(item.code, item.value, item.unit)
    except VitalValueError as err:
        return ItemProblem(index, err.field, err.message)
    problem = range_problem(item.measured_at) or too_early_problem(
        item.measured_at,
        checked_in_at=session.checked_in_at,
        scheduled_at=session.scheduled_at,
        tz=clinic_zone(),
    )
    if problem is not None:
        return ItemProblem(index, "measured_at", problem)
    if phase_of is None:
        phase_of = phase_labeler(session.dosing_started_at, session.dosing_ended_at)
    derived = phase_of(item.measured_at)
    if item.phase is not None and item.phase != derived.value:
        return ItemProblem(
            index,
            "phase",
            f"phase {item.phase!r} contradicts the session timeline: a reading measured at "
            f"{item.measured_at.isoformat()} is {derived.value}",
        )
    return {
        "id": uuid.uuid4(),
        "session_id": session.id,
        "code": item.code,
        "value": normalized.value,
        "unit": normalized.unit,
        "original_value": normalized.original_value,
        "original_unit": normalized.original_unit,
        "measured_at": item.measured_at.astimezone(UTC),
        "status": "final",
        "external_id": item.external_id,
        "source": source,
        "recorded_by": recorded_by,
        "recorded_at": recorded_at,
        "retracted_at": None,
        "retracted_by": None,
        "retraction_reason": None,
    }
