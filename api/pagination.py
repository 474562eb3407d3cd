"""Keyset pagination: opaque cursors carrying the sort key of the last item of a page."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar, TypeVarTuple

import orjson
from fastapi import Query
from pydantic import BaseModel
from sqlalchemy import ColumnElement, Select, literal, tuple_
from sqlalchemy.orm import InstrumentedAttribute

from api.errors import ValidationFailed, field_error

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
    """Decode a cursor into values of the given kinds; a bad cursor is a 422 on ``cursor``."""
    try:
        raw = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(raw, list) or len(raw) != len(kinds):
            raise ValueError
        out: list[Any] = []
        for kind, value in zip(kinds, raw, strict=True):
            if kind is datetime:
                parsed = datetime.fromisoformat(value)
                if parsed.tzinfo is None:
                    raise ValueError
                out.append(parsed)
            elif kind is uuid.UUID:
                out.append(uuid.UUID(value))
            else:
                out.append(kind(value))
        return out
    except (ValueError, TypeError, orjson.JSONDecodeError):
        raise ValidationFailed([field_error(["query", "cursor"], "invalid cursor")]) from None


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
