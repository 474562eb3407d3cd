"""The FHIR ``date`` search parameter: a value -> (prefix, UTC range)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, tzinfo

from api.fhir.translate.outcome import FhirInputError, shown
from api.fhir.translate.times import utc_offset

DATE_PREFIXES = ("eq", "ne", "lt", "gt", "le", "ge", "sa", "eb", "ap")
_DATE_PARAM_RE = re.compile(
    r"^(?P<y>\d{4})(?:-(?P<mo>\d{2})(?:-(?P<d>\d{2})"
    r"(?:T(?P<h>\d{2}):(?P<mi>\d{2})(?::(?P<s>\d{2})(?:\.(?P<f>\d{1,6}))?)?"
    r"(?P<tz>Z|[+-]\d{2}:\d{2})?)?)?)?$"
)
#: The ends of time a search range is clamped to: a value near year 1 or 9999 (``ge9999-12-31``)
#: is a proper search that finds nothing, not an overflow.
EARLIEST = datetime.min.replace(tzinfo=UTC)
LATEST = datetime.max.replace(tzinfo=UTC)
#: ``ap``: "approximately", FHIR's recommendation of 10% of the gap between now and the value.
APPROXIMATE_FRACTION = 0.1


def _add_months(moment: datetime, months: int) -> datetime:
    total = moment.month - 1 + months
    return moment.replace(year=moment.year + total // 12, month=total % 12 + 1)


def parse_date_param(
    value: str, *, day_tz: tzinfo = UTC, now: datetime | None = None
) -> tuple[str, datetime, datetime]:
    """A FHIR ``date`` search value -> (prefix, start, end), a half-open UTC range [start, end).

    Precision: year, month, day (read in ``day_tz``, default UTC), minute, second or fraction.
    A value with a time must carry an offset (naive times are rejected, as everywhere in
    Vigil). ``ap`` widens the range by 10% of the gap between ``now`` and the value on each
    side. Ranges reaching past year 1 or 9999 are clamped to :data:`EARLIEST`/:data:`LATEST`.
    How each prefix matches a reading time ``t``: see :func:`date_matches`.
    """
    prefix, text = "eq", value.strip()
    if text[:2] in DATE_PREFIXES:
        prefix, text = text[:2], text[2:]
    match = _DATE_PARAM_RE.match(text)
    if match is None:
        raise FhirInputError.single(
            "invalid",
            f"date {shown(value)} is not a FHIR date (YYYY, YYYY-MM, YYYY-MM-DD or "
            "YYYY-MM-DDThh:mm[:ss]+zz:zz, optionally prefixed eq/ne/lt/gt/le/ge/sa/eb/ap)",
        )
    if match["h"] is not None and match["tz"] is None:
        raise FhirInputError.single(
            "invalid", f"date {shown(value)} has a time without an offset; send Z or +hh:mm"
        )
    try:
        start, end = _date_range(match, day_tz)
    except ValueError as exc:
        raise FhirInputError.single("invalid", f"date {shown(value)}: {exc}") from None
    if prefix == "ap":
        moment = now or datetime.now(UTC)
        gap = max(abs(moment - start), abs(moment - _before(end)))
        start, end = (
            _shift(start, -gap * APPROXIMATE_FRACTION),
            _shift(end, gap * APPROXIMATE_FRACTION),
        )
        prefix = "eq"
    return prefix, start, end


def _before(moment: datetime) -> datetime:
    return moment if moment == LATEST else moment - timedelta(microseconds=1)


def _shift(moment: datetime, by: timedelta) -> datetime:
    try:
        return moment + by
    except OverflowError:
        return EARLIEST if by < timedelta(0) else LATEST


def _utc(moment: datetime, *, end: bool) -> datetime:
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # 9999-12-31 in a zone west of UTC is year 10000 there
        return LATEST if end or moment.year > 1 else EARLIEST


def _date_range(match: re.Match[str], day_tz: tzinfo) -> tuple[datetime, datetime]:
    """[start, end) in UTC; an end past the calendar is :data:`LATEST`."""
    start = _local_start(match, day_tz)
    try:
        end = _local_end(match, start)
    except OverflowError:
        return _utc(start, end=False), LATEST
    return _utc(start, end=False), _utc(end, end=True)


def _local_start(match: re.Match[str], day_tz: tzinfo) -> datetime:
    year = int(match["y"])
    if match["h"] is not None:
        fraction = match["f"] or ""
        return datetime(
            year,
            int(match["mo"]),
            int(match["d"]),
            int(match["h"]),
            int(match["mi"]),
            int(match["s"] or 0),
            int(fraction.ljust(6, "0")) if fraction else 0,
            tzinfo=utc_offset(match["tz"]),
        )
    month = int(match["mo"]) if match["mo"] is not None else 1
    day = int(match["d"]) if match["d"] is not None else 1
    return datetime(year, month, day, tzinfo=day_tz)


def _local_end(match: re.Match[str], start: datetime) -> datetime:
    """Raises OverflowError (or ValueError from ``replace``) past year 9999."""
    if match["h"] is not None:
        if match["s"] is None:
            return start + timedelta(minutes=1)
        fraction = match["f"] or ""
        return start + timedelta(microseconds=10 ** (6 - len(fraction)))
    if match["d"] is not None:
        return _next_day(start)
    if match["mo"] is not None:
        if start.year == 9999 and start.month == 12:
            raise OverflowError
        return _add_months(start, 1)
    if start.year == 9999:
        raise OverflowError
    return start.replace(year=start.year + 1)


def _next_day(start: datetime) -> datetime:
    following = start.date() + timedelta(days=1)  # OverflowError after 9999-12-31
    return datetime(following.year, following.month, following.day, tzinfo=start.tzinfo)


def date_matches(prefix: str, start: datetime, end: datetime, moment: datetime) -> bool:
    """Whether a reading measured at ``moment`` matches ``prefix`` over [start, end).

    eq: start <= t < end · ne: not eq · lt/eb: t < start · le: t < end ·
    gt/sa: t >= end · ge: t >= start. (Readings are instants, so lt = eb and gt = sa; ``ap``
    is ``eq`` over the widened range :func:`parse_date_param` returns.) An end at
    :data:`LATEST` is the end of time: nothing is after it.
    """
    checks = {
        "eq": start <= moment < end or (end == LATEST and moment >= start),
        "ne": not (start <= moment < end or (end == LATEST and moment >= start)),
        "lt": moment < start,
        "eb": moment < start,
        "le": moment < end or end == LATEST,
        "gt": moment >= end and end != LATEST,
        "sa": moment >= end and end != LATEST,
        "ge": moment >= start,
    }
    if prefix not in checks:
        raise ValueError(f"unknown date prefix {prefix!r}")
    return checks[prefix]
