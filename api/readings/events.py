"""The ``reading`` live event: new or retracted readings, as the REST API returns them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from api.live.outbox import EVENTS_PER_ROW, publish
from api.vitals.schemas import observations_json
from models import TreatmentSession


def publish_readings(
    db: AsyncSession, session: TreatmentSession, rows: Sequence[dict[str, Any]]
) -> list[bytes]:
    """New readings of ``session`` (rows as the readings store returns them, with phase).

    A batch is one outbox row holding the readings as a JSON list (the streams send one
    ``reading`` event per item): one row and one serialization per batch, not per reading.
    Returns those JSON lists (one per outbox row, in order): the same JSON the REST API gives
    for these rows, so an answer listing exactly them need not serialize them again.
    """
    chunks = []
    for start in range(0, len(rows), EVENTS_PER_ROW):
        # Serialized once, as the REST API serializes readings; embedded as-is in the outbox.
        chunk = observations_json(rows[start : start + EVENTS_PER_ROW])
        publish(
            db,
            "reading",
            orjson.Fragment(chunk),
            session_id=session.id,
            patient_id=session.patient_id,
        )
        chunks.append(chunk)
    return chunks
