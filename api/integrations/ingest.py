"""Storing readings that arrive from devices and middleware, item by item.

Unlike ``POST /v1/sessions/{id}/vitals`` (atomic, 422 for the whole batch), a device batch is
answered per item: each reading is accepted, a duplicate, or rejected with a reason, and every
rejected item is kept in the quarantine with what was sent. Validation, de-duplication, alerts
and live events are the vitals service's own functions: there is one ingest path.
"""

from __future__ import annotations

import logging
import uuid
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from api.audit import Audit
from api.clinical.phase import phase_labeler
from api.sessions.repository import lock_sessions
from api.vitals.service import (
    ReadingInput,
    after_end,
    bp_pair_problems,
    check_reading,
    store_readings,
)
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
    outcomes: dict[int, Outcome] = {}
    by_session: dict[uuid.UUID, list[Routed]] = defaultdict(list)
    for item in items:
        by_session[item.session.id].append(item)
    # Every target session locked (in id order) and re-read before any check against it.
    sessions = await lock_sessions(db, by_session)
    now = recorded_at or utcnow()
    for session_id, session_items in by_session.items():
        session = sessions[session_id]
        phase_of = phase_labeler(session.dosing_started_at, session.dosing_ended_at)
        rows: list[tuple[int, dict[str, Any]]] = []
        for item in session_items:
            if after_end(session, item.reading.measured_at):
                ended = session.ended_at.isoformat() if session.ended_at else ""
                outcomes[item.index] = Outcome(
                    item.index,
                    "rejected",
                    "session_ended",
                    f"measured after session {session.id} ended at {ended}",
                    session_id=session.id,
                )
                continue
            checked = check_reading(
                session,
                item.index,
                item.reading,
                source=audit.actor.source,
                recorded_by=audit.actor.id,
                recorded_at=now,
                phase_of=phase_of,
            )
            if isinstance(checked, list):
                problem = checked[0]
                outcomes[item.index] = Outcome(
                    item.index,
                    "rejected",
                    _FIELD_REASONS.get(problem.field, "invalid"),
                    problem.message,
                    session_id=session.id,
                )
            else:
                rows.append((item.index, checked))
        bad_pairs = await bp_pair_problems(db, session.id, rows)
        if bad_pairs:
            rows = _reject_pairs(rows, bad_pairs, outcomes, session.id)
        if not rows:
            continue
        stored = await store_readings(db, session, [r for _, r in rows])
        by_row_id = {row["id"]: (row, is_new) for row, is_new in stored}
        by_external = {
            row["external_id"]: row for row, _ in stored if row["external_id"] is not None
        }
        for index, row in rows:
            hit = by_row_id.get(row["id"])
            if hit is not None and hit[1]:
                outcomes[index] = Outcome(
                    index, "accepted", observation_id=row["id"], session_id=session.id
                )
                continue
            existing = hit[0] if hit is not None else by_external[row["external_id"]]
            outcomes[index] = Outcome(
                index,
                "duplicate",
                detail="already received from this source: the same external_id (or, without "
                "one, the same device, code and measured_at)",
                observation_id=existing["id"],
                session_id=existing["session_id"],
            )
        if any(outcomes[i].status == "accepted" for i, _ in rows):
            audit.record("create", "observation", None, patient_id=session.patient_id)
    return outcomes


def _reject_pairs(
    rows: list[tuple[int, dict[str, Any]]],
    problems: Sequence[Any],
    outcomes: dict[int, Outcome],
    session_id: uuid.UUID,
) -> list[tuple[int, dict[str, Any]]]:
    """A systolic not above its diastolic rejects both halves of that BP reading."""
    rejected: dict[int, str] = {}
    by_index = dict(rows)
    for problem in problems:
        rejected[problem.index] = problem.message
        row = by_index[problem.index]
        for index, other in rows:
            if (
                index != problem.index
                and other["measured_at"] == row["measured_at"]
                and {other["code"], row["code"]} == {"systolic_bp", "diastolic_bp"}
            ):
                rejected.setdefault(index, problem.message)
    for index, message in rejected.items():
        outcomes[index] = Outcome(
            index, "rejected", "invalid_bp_pair", message, session_id=session_id
        )
    return [(i, r) for i, r in rows if i not in rejected]
