"""Storing readings that arrive from devices and middleware, item by item.

Unlike ``POST /v1/sessions/{id}/vitals`` (atomic, 422 for the whole batch), a device batch is
answered per item: each reading is accepted, a duplicate, or rejected with a reason, and every
rejected item is kept in the quarantine with what was sent. Locking, validation, pairing,
de-duplication, alerts and live events are the readings pipeline's (:mod:`api.readings.pipeline`),
as for every entry point; this module frames its outcomes as items of a device batch.
"""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from api.audit import Audit
from api.deps import app_settings
from api.readings import pipeline
from api.readings.check import ReadingInput
from models import QuarantinedReading, TreatmentSession
from models.base import utcnow

log = logging.getLogger("vigil.integrations")

# check_reading names the field at fault; the reason says what kind of fault it is.
_FIELD_REASONS = {
    "code": "unknown_code",
    "unit": "unit_mismatch",
    "value": "invalid_value",
    "phase": "phase_mismatch",
    "measured_at": "invalid_time",
}
#: The reason a device batch gives an item whose external_id this source already used for a
#: reading of another session (REST and FHIR: 409). Nothing is stored for it, the other reading
#: is not named, and the item is quarantined for an administrator to look at.
EXTERNAL_ID_CONFLICT = "external_id_conflict"


@dataclass
class Outcome:
    index: int
    status: str  # accepted | duplicate | rejected
    reason: str | None = None
    detail: str | None = None
    observation_id: uuid.UUID | None = None
    session_id: uuid.UUID | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "status": self.status,
            "reason": self.reason,
            "detail": self.detail,
            "observation_id": self.observation_id,
            "session_id": self.session_id,
        }


#: Routing misses that would tell an integration client whether a patient, an MRN or a
#: session exists, or something of its timeline. To the client they are all ``not_routable``
#: (SPEC §8); the quarantine keeps the real reason and detail for administrators.
ROUTING_REASONS = frozenset(
    {
        "unbound_device",
        "before_check_in",
        "session_ended",
        "unknown_patient",
        "no_active_session",
    }
)
NOT_ROUTABLE = "not_routable"
NOT_ROUTABLE_DETAIL = (
    "no session takes this reading at its time; check the device's binding and the reading's "
    "time (an administrator finds the details in the quarantine)"
)


def for_the_sender(outcome: Outcome) -> Outcome:
    """The outcome as an integration client is told it: routing misses say only that the
    reading is not routable, and name no session."""
    if outcome.status != "rejected" or outcome.reason not in ROUTING_REASONS:
        return outcome
    return Outcome(outcome.index, "rejected", NOT_ROUTABLE, NOT_ROUTABLE_DETAIL)


@dataclass(frozen=True)
class Routed:
    index: int
    reading: ReadingInput
    session: TreatmentSession


@dataclass
class Quarantine:
    """Rejected items waiting to be written, with the context every row shares."""

    channel: str
    source: str
    message_control_id: str | None = None
    rows: list[dict[str, Any]] = field(default_factory=list)

    def add(
        self,
        *,
        reason: str,
        detail: str,
        raw: Any,
        device: str | None,
        index: int | None,
        session_id: uuid.UUID | None = None,
    ) -> None:
        self.rows.append(
            {
                "id": uuid.uuid4(),
                "received_at": utcnow(),
                "channel": self.channel,
                "source": self.source,
                "device_identifier": device[:64] if device else None,
                "reason": reason[:40],
                "detail": detail,
                "raw": raw,
                "message_control_id": self.message_control_id,
                "item_index": index,
                "session_id": session_id,
            }
        )

    async def write(self, db: AsyncSession) -> None:
        if self.rows:
            await db.execute(insert(QuarantinedReading), self.rows)
            reasons = Counter(r["reason"] for r in self.rows)
            log.info(  # counts and reasons only: quarantined items may carry patient data
                "quarantined %d %s item(s) from %s: %s",
                len(self.rows),
                self.channel,
                self.source,
                ", ".join(f"{k} {v}" for k, v in sorted(reasons.items())),
            )


async def store_routed(
    db: AsyncSession, audit: Audit, items: Sequence[Routed], *, recorded_at: datetime | None = None
) -> dict[int, Outcome]:
    """Check and store readings already routed to their sessions; an outcome per item index."""
    ingested = await pipeline.ingest(
        db,
        [pipeline.Item(item.index, item.reading, item.session.id) for item in items],
        source=audit.actor.source,
        recorded_by=audit.actor.id,
        recorded_at=recorded_at or utcnow(),
        atomic=False,
        clinic_thresholds=app_settings(audit.request).thresholds,
    )
    outcomes = {index: _framed(o) for index, o in ingested.outcomes.items()}
    for session_id, session in ingested.sessions.items():
        if any(
            o.kind is pipeline.Kind.accepted and o.session.id == session_id
            for o in ingested.outcomes.values()
        ):
            audit.record("create", "observation", None, patient_id=session.patient_id)
    return outcomes


_DUPLICATE_DETAIL = (
    "already received from this source: the same external_id (or, without one, the same "
    "device, code and measured_at)"
)


def _framed(o: pipeline.Outcome) -> Outcome:
    """A pipeline outcome as an item of a device batch."""
    sid = o.session.id
    match o.kind:
        case pipeline.Kind.accepted:
            assert o.row is not None
            return Outcome(o.index, "accepted", observation_id=o.row["id"], session_id=sid)
        case pipeline.Kind.duplicate:
            assert o.row is not None
            return Outcome(
                o.index,
                "duplicate",
                detail=_DUPLICATE_DETAIL,
                observation_id=o.row["id"],
                session_id=o.row["session_id"],
            )
        case pipeline.Kind.after_end:
            return Outcome(o.index, "rejected", "session_ended", o.message, session_id=sid)
        case pipeline.Kind.bad_pair:
            return Outcome(o.index, "rejected", "invalid_bp_pair", o.message, session_id=sid)
        case pipeline.Kind.foreign_external_id:
            return Outcome(
                o.index,
                "rejected",
                EXTERNAL_ID_CONFLICT,
                "this source already used the external_id for a reading of another session; "
                "nothing is stored for this item",
                session_id=sid,
            )
        case _:
            reason = _FIELD_REASONS.get(o.field or "", "invalid")
            return Outcome(o.index, "rejected", reason, o.message, session_id=sid)
