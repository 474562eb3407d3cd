"""Keyset pagination: opaque cursors carrying the sort key of the last item of a page."""

from __future__ import annotations

import base64
import math
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Annotated, Any, Generic, TypeVar, TypeVarTuple

import orjson
from fastapi import Query
from pydantic import BaseModel
from sqlalchemy import ColumnElement, Select, literal, tuple_
from sqlalchemy.orm import InstrumentedAttribute

from api.errors import ValidationFailed, field_error
from api.types import range_problem

T = TypeVar("T")
R = TypeVar("R")
Ts = TypeVarTuple("Ts")
Column = ColumnElement[Any] | InstrumentedAttribute[Any]

Limit = Annotated[int, Query(ge=1, le=500, description="Page size (1–500)")]
Cursor = Annotated[str | None, Query(description="Opaque cursor from `next_cursor`")]


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None


def encode_cursor(*values: datetime | uuid.UUID | str | int | float | None) -> str:
    payload = [
        v.isoformat() if isinstance(v, datetime) else str(v) if isinstance(v, uuid.UUID) else v
        for v in values
    ]
    return base64.urlsafe_b64encode(orjson.dumps(payload)).decode().rstrip("=")


def decode_cursor(cursor: str, kinds: tuple[type, ...]) -> list[Any]:
    """Decode a cursor into values of the given kinds; a bad cursor is a 422 on ``cursor``.

    A cursor comes back from the client, so it is untrusted input: anything that is not exactly
    what :func:`encode_cursor` could have written for these kinds (wrong shape, wrong JSON type,
    a timestamp that overflows once in UTC, a string the database cannot bind) is refused here,
    before it reaches a query, on every list at once.
    """
    try:
        raw = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(raw, list) or len(raw) != len(kinds):
            raise ValueError
        return [_decode_value(kind, value) for kind, value in zip(kinds, raw, strict=True)]
    except (ValueError, TypeError, OverflowError, orjson.JSONDecodeError):
        raise ValidationFailed([field_error(["query", "cursor"], "invalid cursor")]) from None


# Integer sort keys are INTEGER columns (plan revision numbers): a value outside 32 bits names
# no position and would fail when bound on PostgreSQL.
_INT32 = 2**31


def _decode_value(kind: type, value: Any) -> Any:
    """One cursor value of ``kind``; ValueError (or OverflowError) when it cannot be one."""
    if kind is datetime:
        if not isinstance(value, str):
            raise ValueError
        parsed = datetime.fromisoformat(value)
        if parsed.tzinfo is None:
            raise ValueError
        # Converted here, not when bound: 0001-01-01T00:00:00+01:00 is before year 1 in UTC.
        parsed = parsed.astimezone(UTC)
        if range_problem(parsed) is not None:  # no position outside the storable range
            raise ValueError
        return parsed
    if kind is uuid.UUID:
        if not isinstance(value, str):
            raise ValueError
        return uuid.UUID(value)
    if kind is str:
        # PostgreSQL text cannot hold NUL (the driver would fail when binding it).
        if not isinstance(value, str) or "\x00" in value:
            raise ValueError
        return value
    if kind is int:
        if type(value) is not int or not -_INT32 <= value < _INT32:
            raise ValueError
        return value
    if kind is float:
        if type(value) not in (int, float) or not math.isfinite(value):
            raise ValueError
        return float(value)
    raise NotImplementedError(f"cursor values of kind {kind!r}")  # a bug, not a bad cursor


def keyset(
    stmt: Select[*Ts],
    *,
    cursor: str | None,
    limit: int,
    sort: Column,
    tiebreak: Column,
    kind: type = datetime,
    descending: bool = False,
) -> Select[*Ts]:
    """Order by (sort, tiebreak), continue after the cursor's position, and fetch one row more
    than the page so :func:`cut_page` knows whether there is a next page."""
    if cursor:
        last_sort, last_tiebreak = decode_cursor(cursor, (kind, uuid.UUID))
        position = tuple_(sort, tiebreak)
        last = tuple_(literal(last_sort, sort.type), literal(last_tiebreak, tiebreak.type))
        stmt = stmt.where(position < last if descending else position > last)
    order = (sort.desc(), tiebreak.desc()) if descending else (sort, tiebreak)
    return stmt.order_by(*order).limit(limit + 1)


def cut_page(
    rows: Sequence[R], limit: int, key: Callable[[R], tuple[Any, uuid.UUID]]
) -> tuple[list[R], str | None]:
    """The page and the cursor after its last row (None when this was the last page)."""
    if len(rows) <= limit:
        return list(rows), None
    page = list(rows[:limit])
    return page, encode_cursor(*key(page[-1]))
