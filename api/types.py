"""Request field types shared by every schema: strict numbers, RFC 3339 timestamps within
1970–9999, ids, calendar dates, comma-separated filters; the strict base of request bodies.

SPEC §1 "Strict types": a number is a JSON number (a numeric string or a boolean is 422), a
timestamp is an RFC 3339 string with an offset (a Unix number is 422), in query parameters
too; no timestamp before 1970-01-01 or after 9999-01-01. Request bodies inherit
:class:`StrictModel`, whose ``strict=True`` makes every number, boolean and string field strict;
the types below relax only what JSON cannot carry natively (ids, dates, timestamps), each by its
own rule. Query parameters use the same timestamp types.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Collection, Sequence
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Strict,
    StringConstraints,
    ValidationInfo,
    model_validator,
)

from api.clinical.future import future_problem as clinical_future_problem
from api.config import get_settings
from api.errors import ValidationFailed, field_error

# SPEC §1: the bounds of every timestamp Vigil accepts (and so ever stores).
EARLIEST_TIMESTAMP = datetime(1970, 1, 1, tzinfo=UTC)
LATEST_TIMESTAMP = datetime(9999, 1, 1, tzinfo=UTC)
# RFC 3339 date-time (§5.6): full date, "T", time with seconds, an optional fraction, and a
# mandatory offset.
_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})")


def range_problem(value: datetime) -> str | None:
    """SPEC §1: why an aware timestamp is outside 1970-01-01 – 9999-01-01, or None. The one bound
    for every entry point (REST, HL7 v2, FHIR, the column type)."""
    if value < EARLIEST_TIMESTAMP:
        return "timestamp is before 1970-01-01T00:00:00Z"
    if value > LATEST_TIMESTAMP:
        return "timestamp is after 9999-01-01T00:00:00Z"
    return None


def _rfc3339_text(value: Any) -> Any:
    """Only an RFC 3339 string (or, from Python callers, an aware datetime) is a timestamp."""
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and _RFC3339.fullmatch(value):
        return value
    if isinstance(value, str) and re.fullmatch(
        r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?", value
    ):
        raise ValueError(
            "timestamp has no offset: give it in RFC 3339 with Z or +hh:mm "
            "(e.g. 2026-12-01T09:00:00-05:00)"
        )
    raise ValueError(
        "timestamp must be an RFC 3339 string with an offset, e.g. 2026-12-01T09:00:00-05:00 "
        "(not a number)"
    )


def _in_range(value: datetime) -> datetime:
    value = _to_utc(value)
    problem = range_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return value


def future_problem(value: datetime) -> str | None:
    """SPEC §1 (:func:`api.clinical.future.future_problem`) with the configured tolerance.

    ``value`` must be aware."""
    return clinical_future_problem(value, tolerance_seconds=get_settings().future_tolerance_seconds)


def _not_in_future(value: datetime) -> datetime:
    value = _in_range(value)
    problem = future_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return value


def server_now() -> datetime:
    """The server's clock for "not later than now" (one name, so a test can fix it)."""
    return datetime.now(UTC)


def _not_after_now(value: datetime) -> datetime:
    """No tolerance at all: for times that decide something as of themselves (a transition's
    ``at`` is when its gate is evaluated: a discharge ``at`` a minute ahead would count a minute
    of monitoring that has not happened yet). SPEC §4: never in the future."""
    value = _in_range(value)
    if value > server_now():
        raise ValueError("timestamp is later than the server clock; leave it out to mean now")
    return value


def _to_utc(value: datetime) -> datetime:
    try:
        return value.astimezone(UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00:00+05:00 is before year 1 in UTC
        raise ValueError("timestamp is out of range once converted to UTC") from None


# The timestamp types: an RFC 3339 string with an offset, 1970–9999, kept in UTC. Strict(False)
# lets pydantic parse the string the check admitted (a strict model takes no string for a
# datetime).
_LAX = Strict(False)
_TEXT = BeforeValidator(_rfc3339_text)
# A timestamp in a request: RFC 3339 with an explicit offset, not in the future; kept in UTC.
PastTimestamp = Annotated[AwareDatetime, _LAX, _TEXT, AfterValidator(_not_in_future)]
# A timestamp in a request that may not be later than the server clock at all (no tolerance).
NotFutureTimestamp = Annotated[AwareDatetime, _LAX, _TEXT, AfterValidator(_not_after_now)]
# A timestamp in a request that may lie in the future (e.g. a session's scheduled time).
Timestamp = Annotated[AwareDatetime, _LAX, _TEXT, AfterValidator(_in_range)]
# Ids are UUIDs, returned as strings. JSON output is pydantic's own UUID serialization (a
# per-id Python serializer was a visible cost on 500-row pages and 100-reading batches).
# A reason that justifies a safety exception (SPEC §1: ``override_reason``,
# ``above_usual_reason``, ``thresholds_reason``, ...): at least 10 characters, spaces aside.
SafetyReason = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=10, max_length=2000)
]
# In a strict request model an id is still a JSON string (never a number).
Id = Annotated[uuid.UUID, Strict(False)]
# A calendar date (birth_date, expiry_date, valid_until): a plain "YYYY-MM-DD" string, not
# bound by the timestamp range (SPEC §1).
CalendarDate = Annotated[date, Strict(False)]
# A clinical record as it stands: retracted ones stay on record as ``entered-in-error``.
RecordStatus = Literal["final", "entered-in-error"]


class StrictModel(BaseModel):
    """Request bodies: unknown fields are rejected and types are strict (SPEC §1): a number is a
    JSON number (never a string or a boolean), a boolean is true/false, a string is a string.
    Ids, dates and timestamps use :data:`Id`, :data:`CalendarDate` and the timestamp types."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, strict=True)


class ReadModel(BaseModel):
    """Responses. A field ``<f>_name`` next to a person field ``<f>`` is filled from the
    validation context's ``names`` ({id: name}, :func:`api.people.validate_named`), in nested
    models too; without that context it keeps what the data gave (or its default)."""

    model_config = ConfigDict(from_attributes=True)

    @model_validator(mode="after")
    def _fill_names(self, info: ValidationInfo) -> Any:
        names = info.context.get("names") if isinstance(info.context, dict) else None
        if names is None:
            return self
        fields = type(self).model_fields
        for field in fields:
            if field.endswith("_name") and field[:-5] in fields:
                value = getattr(self, field[:-5])
                if getattr(self, field) is None and value:
                    object.__setattr__(self, field, names.get(str(value)))
        return self


def parse_id(value: str) -> uuid.UUID | None:
    """Ids are opaque; one that is not a UUID simply names nothing."""
    try:
        return uuid.UUID(value)
    except (ValueError, AttributeError, TypeError):
        return None


def several(
    value: str | None, allowed: Collection[str], *, loc: Sequence[str | int]
) -> list[str] | None:
    """A filter that takes several values, comma-separated (``status=open,acknowledged``,
    SPEC §1); None when absent. 422 at ``loc`` naming any value not in ``allowed``."""
    if value is None:
        return None
    values = [v.strip() for v in value.split(",")]
    unknown = [v for v in values if v not in allowed]
    if unknown:
        raise ValidationFailed(
            [
                field_error(
                    list(loc),
                    f"unknown value {unknown[0]!r}; one or more of {', '.join(sorted(allowed))}, "
                    "comma-separated",
                )
            ]
        )
    return list(dict.fromkeys(values))
