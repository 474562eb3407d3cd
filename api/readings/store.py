"""Storing checked readings of one session: insert with de-duplication, alerts, live event."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from api.alerts.service import raise_alerts_for_readings
from api.people import add_names
from api.readings.check import with_phases
from api.readings.events import publish_readings
from api.readings.repository import delete_inserted, insert_readings
from models import TreatmentSession


class StoredReadings(list[tuple[dict[str, Any], bool]]):
    """(row, is_new) for each distinct row stored, in order. ``new_json``: the new rows as the
    JSON array announced on the live streams (the API's own JSON for them), when that is one
    array. ``taken_back``: an atomic store found an external_id already used by another
    session's reading, and stored nothing."""

    new_json: bytes | None = None
    taken_back: bool = False


async def store_readings(
    db: AsyncSession,
    session: TreatmentSession,
    rows: list[dict[str, Any]],
    *,
    atomic: bool,
    clinic_thresholds: Mapping[str, float] | None = None,
) -> StoredReadings:
    """Store checked rows of one session (every entry point: REST, push, HL7 v2, FHIR).

    Repeats of one external_id in ``rows`` are one reading; (row, is_new) comes back for each
    distinct row, in order (an already stored reading may belong to another session: ``atomic``
    then takes back what this call inserted, and raises no alert and announces nothing). New
    readings raise their alerts and are announced on the live streams.
    """
    stored = StoredReadings(await insert_readings(db, dedupe_in_batch(rows)))
    if atomic and any(row["session_id"] != session.id for row, _ in stored):
        await delete_inserted(db, [row["id"] for row, is_new in stored if is_new])
        stored.taken_back = True
        return stored
    new = await add_names(db, with_phases([r for r, is_new in stored if is_new], session))
    await raise_alerts_for_readings(db, session, new, clinic_thresholds=clinic_thresholds)
    published = publish_readings(db, session, new)
    if len(published) == 1:
        stored.new_json = published[0]
    return stored


def dedupe_in_batch(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The same external_id twice in one request is one reading."""
    seen: set[str] = set()
    out = []
    for r in rows:
        key = r["external_id"]
        if key is None or key not in seen:
            out.append(r)
            if key is not None:
                seen.add(key)
    return out
