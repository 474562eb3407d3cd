"""The one way readings are stored, whatever brought them (REST vitals, device push, HL7 v2 over
HTTP or MLLP, FHIR): lock, check, pair, store, and one outcome per reading.

1. **Lock** (:func:`lock`): each target session FOR SHARE, in id order, re-read (a transition
   of it waits for these readings, or they wait for it and see its timeline; readings of one
   session do not wait for each other); then each (session, measured_at) of a BP half, in key
   order, so the two halves of one blood pressure posted at once are checked as a pair.
2. **Check** each reading: measured after its session ended (``after_end``), else
   :func:`api.readings.check.check_reading` (vital table, units, time rules, phase).
3. **Pair**: systolic above diastolic for one BP reading, whether the partner is in this call
   or already stored (:mod:`api.clinical.bp`).
4. **Store** (:func:`api.readings.store.store_readings`): insert with de-duplication by
   (source, external_id), alerts, the live event.

Outcomes (:class:`Kind`): ``accepted``, ``duplicate`` (the same source sent this external_id for
this session before: the stored reading), ``invalid`` / ``bad_pair`` (field and message),
``after_end``, ``foreign_external_id`` (the source used this external_id for a reading of
another session: nothing is stored for it, and the other reading is not named). ``atomic``: a
call with any failing reading stores nothing. How each entry point answers each outcome is its
own framing: REST 409 / 422 for the whole request, FHIR 409 / 422 per resource, push and HL7 a
rejected item (quarantined).

What no longer relies on readings of one session waiting for each other (they share the
session's lock now): de-duplication is the unique (source, external_id) with ON CONFLICT; each
reading raises at most one alert (unique observation_id; there is no "one open alert per rule"
rule to race); a BP reading resolving the open ``vitals_overdue`` is one UPDATE ... WHERE status
<> 'resolved' (a second one waits for the row and then matches nothing); the overdue scan locks
the session FOR UPDATE; live-event ids follow commit order (migration 0005) and the audit chain
locks its head at commit (``api.audit_chain``), whatever the session locks. A transition waits
for the readings holding the session; readings arriving meanwhile may still share it, so under
a continuous stream of overlapping readings of one session a transition waits for a gap.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from api.clinical.bp import bp_pairs, is_bp_half, pair_problem
from api.clinical.phase import phase_labeler
from api.readings.check import Reading, after_end, check_reading
from api.readings.repository import lock_bp_readings, stored_bp_halves
from api.readings.store import store_readings
from api.sessions.repository import share_sessions
from models import TreatmentSession


class Kind(StrEnum):
    accepted = "accepted"
    duplicate = "duplicate"
    invalid = "invalid"
    bad_pair = "bad_pair"
    after_end = "after_end"
    foreign_external_id = "foreign_external_id"


FAILURES = frozenset({Kind.invalid, Kind.bad_pair, Kind.after_end, Kind.foreign_external_id})


@dataclass(frozen=True, slots=True)
class Item:
    """A reading (its index in the request) and the session it goes to."""

    index: int
    reading: Reading
    session_id: uuid.UUID


@dataclass(frozen=True, slots=True)
class Outcome:
    index: int
    kind: Kind
    session: TreatmentSession
    #: accepted: the new row (with phase and names); duplicate: the row stored before (its
    #: phase and names only when it is new in this call).
    row: dict[str, Any] | None = None
    field: str | None = None  # invalid, bad_pair: the field at fault
    message: str | None = None
    #: bad_pair: the half the problem is told at (the systolic when this call holds it); an
    #: answer naming one problem per pair names this one.
    blamed: bool = True

    @property
    def failed(self) -> bool:
        return self.kind in FAILURES


@dataclass
class Ingested:
    outcomes: dict[int, Outcome] = field(default_factory=dict)
    sessions: dict[uuid.UUID, TreatmentSession] = field(default_factory=dict)
    #: per session: its new readings as the JSON array of their live event, when one array
    new_json: dict[uuid.UUID, bytes] = field(default_factory=dict)

    def failures(self, *kinds: Kind) -> list[Outcome]:
        wanted = kinds or FAILURES
        return [o for _, o in sorted(self.outcomes.items()) if o.kind in wanted]


async def lock(
    db: AsyncSession, session_ids: Iterable[uuid.UUID], bp: Iterable[tuple[uuid.UUID, datetime]]
) -> dict[uuid.UUID, TreatmentSession]:
    """Step 1: the sessions (FOR SHARE, id order, re-read; 404 for one that does not exist),
    then the (session, measured_at) of each BP half. Taking them again later in the same
    transaction is harmless (a FHIR bundle locks every entry's up front)."""
    sessions = await share_sessions(db, session_ids)
    await lock_bp_readings(db, bp)
    return sessions


async def ingest(
    db: AsyncSession,
    items: Sequence[Item],
    *,
    source: str,
    recorded_by: str | None,
    recorded_at: datetime,
    atomic: bool,
    session_ids: Iterable[uuid.UUID] = (),
    clinic_thresholds: Mapping[str, float] | None = None,
) -> Ingested:
    """Lock, check, pair and store ``items``; an outcome for each item index.

    ``atomic``: when any item fails, nothing is stored and only the failures have outcomes
    (``after_end`` ones first: the rest is not checked for pairs then). ``session_ids``:
    sessions to lock besides the items' own (REST: the path's, so an unknown one is a 404 even
    for an empty batch). ``clinic_thresholds``: the app's, under the plans' overrides for the
    alerts (:func:`api.plans.limits.limits_in_force`)."""
    result = Ingested()
    result.sessions = await lock(
        db,
        [*session_ids, *(i.session_id for i in items)],
        [(i.session_id, i.reading.measured_at) for i in items if is_bp_half(i.reading.code)],
    )
    by_session: dict[uuid.UUID, list[Item]] = {}
    for item in items:
        by_session.setdefault(item.session_id, []).append(item)
    checked: list[tuple[TreatmentSession, list[tuple[int, dict[str, Any]]]]] = []
    for session_id, session_items in by_session.items():
        session = result.sessions[session_id]
        rows = _check(session, session_items, result.outcomes, source, recorded_by, recorded_at)
        checked.append((session, rows))
    if atomic and result.failures(Kind.after_end):
        return result
    for session, rows in checked:
        for problem in await check_pairs(db, session, rows):
            result.outcomes[problem.index] = problem
    if atomic and result.failures():
        return result
    for session, rows in checked:
        good = [(i, r) for i, r in rows if i not in result.outcomes]
        if good:
            await _store(
                db, session, good, result, atomic=atomic, clinic_thresholds=clinic_thresholds
            )
    return result


def _check(
    session: TreatmentSession,
    items: Sequence[Item],
    outcomes: dict[int, Outcome],
    source: str,
    recorded_by: str | None,
    recorded_at: datetime,
) -> list[tuple[int, dict[str, Any]]]:
    """Step 2 for the items of one session: their rows, failures into ``outcomes``."""
    phase_of = phase_labeler(session.dosing_started_at, session.dosing_ended_at)
    rows: list[tuple[int, dict[str, Any]]] = []
    for item in items:
        if after_end(session, item.reading.measured_at):
            ended = session.ended_at.isoformat() if session.ended_at else ""
            outcomes[item.index] = Outcome(
                item.index,
                Kind.after_end,
                session,
                field="measured_at",
                message=f"measured after session {session.id} ended at {ended}",
            )
            continue
        checked = check_reading(
            session,
            item.index,
            item.reading,
            source=source,
            recorded_by=recorded_by,
            recorded_at=recorded_at,
            phase_of=phase_of,
        )
        if isinstance(checked, dict):
            rows.append((item.index, checked))
        else:
            outcomes[item.index] = Outcome(
                item.index, Kind.invalid, session, field=checked.field, message=checked.message
            )
    return rows


async def check_pairs(
    db: AsyncSession, session: TreatmentSession, rows: Sequence[tuple[int, dict[str, Any]]]
) -> list[Outcome]:
    """Step 3: systolic must exceed diastolic for one BP reading (same measured_at), whether
    the partner is in ``rows`` or already stored. A bad pair fails every half of it in
    ``rows``; the problem is told at the systolic when ``rows`` holds it."""
    bp = [(i, r) for i, r in rows if is_bp_half(r["code"])]
    if not bp:
        return []
    codes_at: dict[datetime, set[str]] = {}
    for _, r in bp:
        codes_at.setdefault(r["measured_at"], set()).add(r["code"])
    # A stored partner only matters for a time the batch does not hold both halves of (the
    # batch's own values are the pair otherwise), so a batch of whole BP readings needs no query.
    lone = {t for t, codes in codes_at.items() if len(codes) < 2}
    stored = await stored_bp_halves(db, session.id, lone) if lone else []
    # Stored halves first, then the batch's: the later counts (bp_pairs), so the batch's own.
    halves: list[tuple[int | None, str, float, datetime]] = [
        (None, code, value, at) for code, value, at in stored
    ]
    halves += [(i, r["code"], r["value"], r["measured_at"]) for i, r in bp]
    problems: list[Outcome] = []
    for s, d in bp_pairs((code, at) for _, code, _, at in halves):
        (si, _, sys_v, at), (di, _, dia_v, _) = halves[s], halves[d]
        message = pair_problem(sys_v, dia_v)
        if message is None:
            continue
        blamed = si if si is not None else di
        for index, _code, _, when in halves:
            if index is not None and when == at:
                problems.append(
                    Outcome(
                        index,
                        Kind.bad_pair,
                        session,
                        field="value",
                        message=message,
                        blamed=index == blamed,
                    )
                )
    return problems


async def _store(
    db: AsyncSession,
    session: TreatmentSession,
    rows: list[tuple[int, dict[str, Any]]],
    result: Ingested,
    *,
    atomic: bool,
    clinic_thresholds: Mapping[str, float] | None,
) -> None:
    """Step 4 for the checked rows of one session: an outcome for each."""
    stored = await store_readings(
        db, session, [r for _, r in rows], atomic=atomic, clinic_thresholds=clinic_thresholds
    )
    if stored.new_json is not None:
        result.new_json[session.id] = stored.new_json
    by_row_id = {row["id"]: (row, is_new) for row, is_new in stored}
    by_external = {row["external_id"]: row for row, _ in stored if row["external_id"] is not None}
    for index, row in rows:
        hit = by_row_id.get(row["id"])
        if hit is not None and hit[1] and not stored.taken_back:
            result.outcomes[index] = Outcome(index, Kind.accepted, session, row=hit[0])
            continue
        existing = hit[0] if hit is not None else by_external[row["external_id"]]
        if existing["session_id"] != session.id:
            result.outcomes[index] = Outcome(index, Kind.foreign_external_id, session)
        elif not stored.taken_back:
            result.outcomes[index] = Outcome(index, Kind.duplicate, session, row=existing)
