"""Request field types shared by every schema: aware, not-future timestamps; ids; strict base."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, StringConstraints

from api.config import get_settings


def future_problem(value: datetime) -> str | None:
    """SPEC §1, the one rule for every entry point (REST, HL7 v2, FHIR): a time more than
    ``future_tolerance_seconds`` past the server clock is refused. Returns why, or None.

    ``value`` must be aware."""
    seconds = get_settings().future_tolerance_seconds
    # Compared as POSIX seconds: the same instant comparison as against now() + a timedelta,
    # a third of the cost (it runs for every reading of every batch).
    if value.timestamp() > time.time() + seconds:
        return f"timestamp is in the future (more than {seconds} s past the server clock)"
    return None


def _not_in_future(value: datetime) -> datetime:
    value = _to_utc(value)
    problem = future_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return value


def _not_after_now(value: datetime) -> datetime:
    """No tolerance at all: for times that decide something as of themselves (a transition's
    ``at`` is when its gate is evaluated: a discharge ``at`` a minute ahead would count a minute
    of monitoring that has not happened yet). SPEC §4: never in the future."""
    value = _to_utc(value)
    if value > datetime.now(UTC):
        raise ValueError("timestamp is later than the server clock; leave it out to mean now")
    return value


def _to_utc(value: datetime) -> datetime:
    try:
        return value.astimezone(UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00:00+05:00 is before year 1 in UTC
        raise ValueError("timestamp is out of range once converted to UTC") from None


# A timestamp in a request: RFC 3339 with an explicit offset, not in the future; kept in UTC.
PastTimestamp = Annotated[AwareDatetime, AfterValidator(_not_in_future)]
# A timestamp in a request that may not be later than the server clock at all (no tolerance).
NotFutureTimestamp = Annotated[AwareDatetime, AfterValidator(_not_after_now)]
# A timestamp in a request that may lie in the future (e.g. a session's scheduled time).
Timestamp = Annotated[AwareDatetime, AfterValidator(_to_utc)]
# Ids are UUIDs, returned as strings. JSON output is pydantic's own UUID serialization (a
# per-id Python serializer was a visible cost on 500-row pages and 100-reading batches).
Id = uuid.UUID
# A reason that justifies a safety exception (SPEC §1: ``override_reason``,
# ``above_usual_reason``, ``thresholds_reason``, ...): at least 10 characters, spaces aside.
SafetyReason = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=10, max_length=2000)
]
# A clinical record as it stands: retracted ones stay on record as ``entered-in-error``.
RecordStatus = Literal["final", "entered-in-error"]


class StrictModel(BaseModel):
    """Request bodies: unknown fields are rejected (SPEC §1)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ReadModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)


def parse_id(value: str) -> uuid.UUID | None:
    """Ids are opaque; one that is not a UUID simply names nothing."""
    try:
        return uuid.UUID(value)
    except (ValueError, AttributeError, TypeError):
        return None
