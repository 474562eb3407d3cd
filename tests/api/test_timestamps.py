"""Timestamps come back from either database aware and in UTC (DOMAIN.md "Lessons")."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from fastapi import FastAPI
from sqlalchemy import bindparam, select, text, type_coerce

from models.base import UTCDateTime
from tests.conftest import Backend

NEW_YORK_WINTER = timezone(timedelta(hours=-5))


async def test_a_timestamp_reads_back_in_utc_whatever_the_connection_time_zone(
    app: FastAPI, backend: Backend
) -> None:
    sent = datetime(2026, 11, 27, 3, 0, 0, 250000, tzinfo=NEW_YORK_WINTER)
    async with app.state.session_factory() as db:
        if backend.is_postgres:  # PostgreSQL renders timestamptz in the session's zone as text
            await db.execute(text("SET LOCAL TIME ZONE 'America/New_York'"))
        got = await db.scalar(select(type_coerce(bindparam("t", sent), UTCDateTime())))
        await db.rollback()
    assert got == sent
    assert got.tzinfo is UTC
    assert got.isoformat() == "2026-11-27T08:00:00.250000+00:00"
