"""The FHIR ``date`` search parameter: a value -> (prefix, UTC range)."""

from __future__ import annotations

import re
from dataclasses import dataclass
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
    What each prefix matches: :func:`date_bounds`.
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


@dataclass(frozen=True)
class DateBounds:
    """The reading times a ``date`` search matches: at or after ``lower`` and before ``upper``
    (None: unbounded on that side), or, when ``outside``, every time not in that range.

    The one meaning of the prefixes: :func:`date_matches` tests a time against it in Python, and
    the Observation search turns it into SQL (``api.fhir.service``)."""

    lower: datetime | None
    upper: datetime | None
    outside: bool = False

    def contains(self, moment: datetime) -> bool:
        inside = (self.lower is None or moment >= self.lower) and (
            self.upper is None or moment < self.upper
        )
        return inside != self.outside


def date_bounds(prefix: str, start: datetime, end: datetime) -> DateBounds:
    """What ``prefix`` over the search range [start, end) matches (the range from
    :func:`parse_date_param`; ``ap`` is ``eq`` over its widened range).

    eq: start <= t < end · ne: not eq · lt/eb: t < start · le: t < end · gt/sa: not le ·
    ge: t >= start. Readings are instants, so lt = eb and gt = sa. An end at :data:`LATEST` is
    the end of time: nothing is after it (no upper bound; ``gt`` matches nothing).
    """
    upper = None if end == LATEST else end
    if prefix == "eq":
        return DateBounds(start, upper)
    if prefix == "ne":
        return DateBounds(start, upper, outside=True)
    if prefix in ("lt", "eb"):
        return DateBounds(None, start)
    if prefix == "le":
        return DateBounds(None, upper)
    if prefix in ("gt", "sa"):
        return DateBounds(None, upper, outside=True)
    if prefix == "ge":
        return DateBounds(start, None)
    raise ValueError(f"unknown date prefix {prefix!r}")


def date_matches(prefix: str, start: datetime, end: datetime, moment: datetime) -> bool:
    """Whether a reading measured at ``moment`` matches ``prefix`` over [start, end): see
    :func:`date_bounds`."""
    return date_bounds(prefix, start, end).contains(moment)
