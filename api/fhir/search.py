"""FHIR search parameters for Observation, read once for GET and POST ``_search`` alike.

Pure: a list of (name, value) pairs in, an :class:`ObservationSearch` out, or a
:class:`FhirError` 400 naming the parameter. Unknown parameters are not errors: they are
collected (``unknown``) so the searchset can list them in an OperationOutcome entry, unless the
client asked ``Prefer: handling=strict`` (then 400).
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import orjson

from api.fhir.errors import FhirError
from api.fhir.translate import issue, shown

MAX_COUNT = 500
DEFAULT_COUNT = 50

#: Parameters Vigil reads (``_format`` and ``_total`` change nothing: the answer is always JSON
#: with a total).
KNOWN = frozenset(
    {
        "patient",
        "subject",
        "encounter",
        "code",
        "date",
        "_count",
        "_sort",
        "_summary",
        "_cursor",
        "_format",
        "_total",
    }
)
_SORTS = {"date": False, "-date": True}


@dataclass(frozen=True)
class ObservationSearch:
    """What to find. ``patients``/``encounters``: the ids every reading's patient/session must
    be one of (None: not searched; empty: names nothing, so nothing matches)."""

    patients: frozenset[str] | None = None
    encounters: frozenset[str] | None = None
    dates: tuple[str, ...] = ()
    codes: tuple[str, ...] = ()
    count: int = DEFAULT_COUNT
    descending: bool = False
    summary_count: bool = False
    after: tuple[datetime, str] | None = None  # keyset: the last entry of the previous page
    unknown: tuple[str, ...] = field(default_factory=tuple)

    def query_pairs(self, raw: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
        """The parameters as sent, less the paging cursor (to build ``next``)."""
        return [(k, v) for k, v in raw if k != "_cursor"]


def _bad(name: str, message: str) -> FhirError:
    return FhirError(400, [issue("invalid", message, [name])])


def _reference_ids(
    name: str, values: Iterable[str], resource_type: str, base_url: str
) -> frozenset[str]:
    """Ids named by reference parameters: ``{id}``, ``{Type}/{id}`` or ``{base}/{Type}/{id}``
    (this server's base only); comma is "or", repeats are "and". Another type or another
    server names nothing here."""
    result: frozenset[str] | None = None
    for value in values:
        ids: set[str] = set()
        for token in value.split(","):
            parts = token.strip().split("/")
            if len(parts) == 1:
                ids.add(parts[0])
                continue
            base, kind, named = "/".join(parts[:-2]), parts[-2], parts[-1]
            if kind == resource_type and base in ("", base_url.rstrip("/")):
                ids.add(named)
        result = frozenset(ids) if result is None else result & ids
    return result if result is not None else frozenset()


def _count(values: Sequence[str]) -> int:
    text = values[-1].strip()
    if not text.isdigit():
        raise _bad("_count", f"_count {shown(values[-1])} is not a whole number of entries")
    return min(int(text), MAX_COUNT)


def encode_cursor(key: tuple[datetime, str]) -> str:
    raw = orjson.dumps([key[0].isoformat(), key[1]])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        moment, resource_id = orjson.loads(
            base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        )
        value = datetime.fromisoformat(moment)
        if value.tzinfo is None or not isinstance(resource_id, str):
            raise ValueError
        # In UTC here, not when compared: 0001-01-01T00:00:00+01:00 overflows there.
        return value.astimezone(UTC), resource_id
    except (ValueError, TypeError, UnicodeDecodeError, OverflowError, orjson.JSONDecodeError):
        raise _bad("_cursor", "invalid _cursor: follow the Bundle's next link as given") from None


def parse_search(
    pairs: Sequence[tuple[str, str]], *, base_url: str, strict: bool = False
) -> ObservationSearch:
    """Read Observation search parameters (``base_url``: this server's FHIR base)."""
    given: dict[str, list[str]] = {}
    unknown: list[str] = []
    for name, value in pairs:
        if name in KNOWN:
            given.setdefault(name, []).append(value)
        elif name not in unknown:
            unknown.append(name)
    if unknown and strict:
        raise FhirError(
            400,
            [
                issue(
                    "not-supported",
                    f"unknown search parameter {shown(name)} (Prefer: handling=strict)",
                    [name],
                )
                for name in unknown
            ],
        )
    references = [*given.get("patient", []), *given.get("subject", [])]
    patients = _reference_ids("patient", references, "Patient", base_url) if references else None
    encounters = (
        _reference_ids("encounter", given["encounter"], "Encounter", base_url)
        if "encounter" in given
        else None
    )
    if patients is None and encounters is None:
        raise FhirError(
            400,
            [issue("required", "search by patient (or subject, or encounter)", ["patient"])],
        )
    count = _count(given["_count"]) if "_count" in given else DEFAULT_COUNT
    sort = given.get("_sort", ["date"])[-1].strip() or "date"
    if sort not in _SORTS:
        raise _bad("_sort", f"_sort {shown(sort)} is not supported: sort by date or -date")
    summary = given.get("_summary", ["false"])[-1].strip()
    cursor = given.get("_cursor", [""])[-1].strip()
    return ObservationSearch(
        patients=patients,
        encounters=encounters,
        dates=tuple(given.get("date", [])),
        codes=tuple(given.get("code", [])),
        count=count,
        descending=_SORTS[sort],
        summary_count=summary == "count" or count == 0,
        after=decode_cursor(cursor) if cursor else None,
        unknown=tuple(unknown),
    )


def unknown_issues(search: ObservationSearch) -> list[dict[str, object]]:
    """The OperationOutcome issues for parameters the search ignored."""
    return [
        issue(
            "not-supported",
            f"search parameter {shown(name)} is not known here and was ignored",
            [name],
            severity="warning",
        )
        for name in search.unknown
    ]
