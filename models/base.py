"""Declarative base, constraint naming convention and column types shared by every table."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import DateTime, MetaData, Uuid
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


# SPEC §1: no timestamp before 1970-01-01 or after 9999-01-01 is stored.
EARLIEST_STORED = datetime(1970, 1, 1, tzinfo=UTC)
LATEST_STORED = datetime(9999, 1, 1, tzinfo=UTC)
# What asyncpg reads a stored -infinity / infinity as (and what it would write them for).
_NEG_INFINITY_YEAR = 1
_POS_INFINITY_YEAR = 9999


def storable_timestamp(value: datetime) -> datetime:
    """``value`` in UTC, ready to store; ValueError for a naive one or one outside
    1970-01-01 – 9999-01-01. asyncpg writes ``datetime.min``/``datetime.max`` as ``-infinity``/
    ``infinity``, which broke every later read: such values never reach the database."""
    if value.tzinfo is None:
        raise ValueError("naive datetime given to a UTC column")
    value = value.astimezone(UTC)
    if not EARLIEST_STORED <= value <= LATEST_STORED:
        raise ValueError(f"timestamp {value.isoformat()} is outside 1970-01-01 – 9999-01-01")
    return value


def _finite_from_asyncpg(value: datetime | None) -> datetime | None:
    """A stored ±infinity (read by asyncpg as year 1 / year 9999's last instant) as the bound
    Vigil accepts, so that nothing downstream overflows; every other value as it is."""
    if value is None:
        return None
    year = value.year
    if year == _NEG_INFINITY_YEAR:
        return EARLIEST_STORED
    if year == _POS_INFINITY_YEAR and value > LATEST_STORED:
        return LATEST_STORED
    return value


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware timestamp stored in UTC and always read back aware, never infinite.

    PostgreSQL keeps ``timestamptz``; SQLite has no time zone type, so values are written in UTC
    and re-labelled UTC on the way out. Naive datetimes are refused: they are a bug upstream, and
    so are times outside 1970–9999 (:func:`storable_timestamp`; requests are refused with 422
    before they get here). PostgreSQL also refuses an infinite value in every ``timestamptz``
    column (CHECK ``isfinite``, migration 0010_alerts_overdue).
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return storable_timestamp(value)

    def result_processor(self, dialect: Dialect, coltype: object) -> Any:
        # asyncpg decodes timestamptz as aware datetimes in UTC already; only a stored
        # ±infinity needs mapping (one attribute read per value: a 500-reading timeline page
        # has 1,500 of them).
        if dialect.driver == "asyncpg":
            return _finite_from_asyncpg
        return super().result_processor(dialect, coltype)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None or value.tzinfo is UTC:  # already UTC: nothing to re-label
            return value
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime(), uuid.UUID: Uuid()}


class IdMixin:
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
