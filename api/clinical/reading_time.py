"""How long before a session a reading may have been measured (SPEC §4).

A reading measured more than 12 hours before the session's check-in (or, while it is not
checked in, before its ``scheduled_at``) belongs to no session's record: it is refused (422) on
every path that stores readings (REST, device push, HL7 v2, FHIR), through
:func:`api.readings.check.check_reading`. The bound is inclusive: exactly 12 hours before is
accepted.
"""

from __future__ import annotations

from datetime import datetime, timedelta, tzinfo

from api.clinical.labels import clinic_time

EARLIEST_BEFORE_SESSION = timedelta(hours=12)


def too_early_problem(
    measured_at: datetime,
    *,
    checked_in_at: datetime | None,
    scheduled_at: datetime,
    tz: tzinfo,
) -> str | None:
    """Why ``measured_at`` is too long before the session, or None. Times must be aware."""
    anchor, what = (
        (checked_in_at, "check-in") if checked_in_at is not None else (scheduled_at, "scheduled")
    )
    earliest = anchor - EARLIEST_BEFORE_SESSION
    if measured_at >= earliest:
        return None
    return (
        f"measured {clinic_time(measured_at, tz)}, more than 12 hours before the session's "
        f"{what} time ({clinic_time(anchor, tz)}): readings from before "
        f"{clinic_time(earliest, tz)} belong to no session; check the reading's date"
    )
