"""FHIR dateTime/instant text <-> aware UTC datetimes."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone, tzinfo

_DATE_ONLY_RE = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")
_DATETIME_RE = re.compile(
    r"^(?P<y>\d{4})-(?P<mo>\d{2})-(?P<d>\d{2})T(?P<h>\d{2}):(?P<mi>\d{2})"
    r"(?::(?P<s>\d{2})(?:\.(?P<f>\d{1,9}))?)?(?P<tz>Z|[+-]\d{2}:\d{2})?$"
)


def utc_offset(text: str) -> tzinfo:
    """``Z`` or ``+hh:mm``/``-hh:mm`` as a tzinfo; ValueError past ±14:59."""
    if text == "Z":
        return UTC
    sign = -1 if text[0] == "-" else 1
    hours, minutes = int(text[1:3]), int(text[4:6])
    if hours > 14 or minutes > 59:
        raise ValueError(f"offset {text} is out of range")
    return timezone(sign * timedelta(hours=hours, minutes=minutes))


def parse_fhir_datetime(value: str) -> datetime:
    """A FHIR dateTime/instant that has a time and an offset, as an aware UTC datetime.

    Raises ValueError (with a sentence for the user) for date-only values, naive times and
    malformed text.
    """
    text = value.strip()
    if _DATE_ONLY_RE.match(text):
        raise ValueError(f"{value!r} has no time of day; a reading needs a time with an offset")
    match = _DATETIME_RE.match(text)
    if match is None:
        raise ValueError(f"{value!r} is not a FHIR dateTime (YYYY-MM-DDThh:mm:ss+zz:zz)")
    if match["tz"] is None:
        raise ValueError(f"{value!r} has no UTC offset; send Z or +hh:mm")
    micro = int((match["f"] or "0")[:6].ljust(6, "0"))
    local = datetime(
        int(match["y"]),
        int(match["mo"]),
        int(match["d"]),
        int(match["h"]),
        int(match["mi"]),
        int(match["s"] or 0),
        micro,
        tzinfo=utc_offset(match["tz"]),
    )
    try:
        return local.astimezone(UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00:00+14:00 is before year 1 in UTC
        raise ValueError(f"{value!r} is out of range once converted to UTC") from None


def fhir_instant(moment: datetime) -> str:
    """An aware datetime as a FHIR instant in UTC (``2024-05-01T10:00:00Z``)."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("FHIR times must be timezone-aware")
    spec = "microseconds" if moment.microsecond else "seconds"
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec=spec) + "Z"
