"""``vitals_overdue``: the server raises it by itself (SPEC §6).

Every server process runs :class:`OverdueWatch` (started and stopped with the app's lifespan):
every ``VIGIL_VITALS_SCAN_SECONDS`` it scans the sessions in ``dosing``/``monitoring`` and, for
each whose blood pressure is overdue (:mod:`api.clinical.overdue`), raises one warning. Once per
gap however many processes scan at once: the INSERT is ``ON CONFLICT DO NOTHING`` against the
UNIQUE (session_id, gap_started_at) of ``alerts``; the database, not a look-up, decides. Each
raise re-checks the session under its row lock (the one every reading path takes), so a blood
pressure committed a moment before is seen and no alert is raised for a gap it closed.

The next blood pressure resolves the alert (:mod:`api.alerts.service`), and so does the end of
the session.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.alerts.events import publish_alerts
from api.alerts.service import BP_CODES
from api.clinical.overdue import (
    DEFAULT_VITALS_INTERVAL_MINUTES,
    OVERDUE_KIND,
    WATCHED_STATUSES,
    DueBP,
    is_overdue,
    next_bp_due,
    overdue_message,
)
from api.clinical.phase import since_dosing_started
from api.config import clinic_zone
from api.plans.limits import limits_in_force
from api.plans.service import pinned_revision
from api.precommit import queue_audit
from api.sessions.repository import get_session
from models import Administration, Alert, Observation, TreatmentSession
from models.base import utcnow

log = logging.getLogger("vigil.alerts")

Clock = Callable[[], datetime]


def _latest_bp(session_id: Any) -> Any:
    return (
        select(func.max(Observation.measured_at))
        .where(
            Observation.session_id == session_id,
            Observation.status == "final",
            Observation.code.in_(BP_CODES),
        )
        .scalar_subquery()
    )


def _first_administration(session_id: Any) -> Any:
    return (
        select(func.min(Administration.started_at))
        .where(Administration.session_id == session_id, Administration.status == "final")
        .scalar_subquery()
    )


_WATCHED = select(
    TreatmentSession,
    _latest_bp(TreatmentSession.id),
    _first_administration(TreatmentSession.id),
).where(TreatmentSession.status.in_(sorted(WATCHED_STATUSES)))


@dataclass(frozen=True)
class SessionDue:
    due: DueBP | None
    had_bp: bool
    interval_minutes: float


async def _due(
    db: AsyncSession,
    session: TreatmentSession,
    latest_bp_at: datetime | None,
    first_administration_at: datetime | None,
    clinic_thresholds: Mapping[str, float] | None = None,
) -> SessionDue:
    pinned = await pinned_revision(db, session.plan_id, session.plan_revision)
    limits = await limits_in_force(db, session, clinic_thresholds=clinic_thresholds)
    interval = float(limits.get("vitals_interval_minutes", DEFAULT_VITALS_INTERVAL_MINUTES))
    due = next_bp_due(
        status=session.status,
        medication=pinned.medication,
        dosing_started_at=session.dosing_started_at,
        first_administration_at=first_administration_at,
        latest_bp_at=latest_bp_at,
        interval_minutes=interval,
    )
    return SessionDue(
        due=due,
        had_bp=latest_bp_at is not None
        and since_dosing_started(latest_bp_at, session.dosing_started_at),
        interval_minutes=interval,
    )


async def session_due(
    db: AsyncSession,
    session: TreatmentSession,
    clinic_thresholds: Mapping[str, float] | None = None,
) -> SessionDue:
    """When ``session``'s next blood pressure is due, from the database as it stands
    (``clinic_thresholds``: the app's, under the plan's overrides)."""
    latest, first = (
        await db.execute(select(_latest_bp(session.id), _first_administration(session.id)))
    ).one()
    return await _due(db, session, latest, first, clinic_thresholds)


async def vitals_due_at(
    db: AsyncSession,
    session: TreatmentSession,
    clinic_thresholds: Mapping[str, float] | None = None,
) -> datetime | None:
    """SPEC §6 ``vitals_due_at`` of ``session`` (None outside dosing/monitoring)."""
    if session.status not in WATCHED_STATUSES:
        return None
    due = (await session_due(db, session, clinic_thresholds)).due
    return due.due_at if due is not None else None


def _insert_overdue(insert: Any) -> Any:
    table = Alert.__table__
    return (
        insert(table)
        .on_conflict_do_nothing(index_elements=["session_id", "gap_started_at"])
        .returning(*table.c)
    )


_INSERT = {
    "postgresql": _insert_overdue(postgresql.insert),
    "sqlite": _insert_overdue(sqlite.insert),
}


async def _raise_for(
    factory: async_sessionmaker[AsyncSession],
    session_id: uuid.UUID,
    now: datetime,
    clinic_thresholds: Mapping[str, float] | None = None,
) -> bool:
    """Raise ``session_id``'s vitals_overdue if it is still overdue under the session's lock;
    True when this call stored it (False: not overdue after all, or already raised)."""
    async with factory() as db, db.begin():
        session = await get_session(db, session_id, for_update=True)
        if session.status not in WATCHED_STATUSES:
            return False
        state = await session_due(db, session, clinic_thresholds)
        due = state.due
        if due is None or not is_overdue(due, now):
            return False
        row = {
            "id": uuid.uuid4(),
            "session_id": session.id,
            "patient_id": session.patient_id,
            "observation_id": None,
            "assessment_id": None,
            "gap_started_at": due.gap_started_at,
            "kind": OVERDUE_KIND,
            "severity": "warning",
            "status": "open",
            "message": overdue_message(
                due, had_bp=state.had_bp, interval_minutes=state.interval_minutes, tz=clinic_zone()
            ),
            "vital": None,
            "value": None,
            "limit_value": None,
            "created_at": utcnow(),
        }
        stored = (await db.execute(_INSERT[db.get_bind().dialect.name], [row])).mappings().all()
        if not stored:
            return False  # another process (or an earlier scan) raised it for this gap
        publish_alerts(db, session, [dict(stored[0])])
        queue_audit(
            db,
            [
                {
                    "id": uuid.uuid4(),
                    "at": utcnow(),
                    "actor_id": "system",
                    "role": "system",
                    "client_address": None,
                    "request_id": None,
                    "action": "create",
                    "resource_type": "alert",
                    "resource_id": str(row["id"]),
                    "patient_id": session.patient_id,
                    "outcome": "success",
                    "detail": OVERDUE_KIND,
                }
            ],
        )
        return True


async def scan_overdue(
    factory: async_sessionmaker[AsyncSession],
    now: datetime,
    clinic_thresholds: Mapping[str, float] | None = None,
) -> int:
    """One scan as of ``now``: raise every overdue blood pressure's alert not raised yet; how
    many this call raised. ``clinic_thresholds``: the app's (the vitals interval in force)."""
    async with factory() as db:
        candidates: list[tuple[uuid.UUID, datetime]] = []
        for session, latest, first in (await db.execute(_WATCHED)).all():
            due = (await _due(db, session, latest, first, clinic_thresholds)).due
            if due is not None and is_overdue(due, now):
                candidates.append((session.id, due.gap_started_at))
        if not candidates:
            return 0
        # Gaps already raised need no lock (a hint only: the UNIQUE decides).
        raised_for = {
            (sid, gap)
            for sid, gap in await db.execute(
                select(Alert.session_id, Alert.gap_started_at).where(
                    Alert.kind == OVERDUE_KIND,
                    Alert.session_id.in_([sid for sid, _ in candidates]),
                )
            )
        }
        await db.rollback()
    raised = 0
    for sid, gap in candidates:
        if (sid, gap) not in raised_for and await _raise_for(factory, sid, now, clinic_thresholds):
            raised += 1
    return raised


class OverdueWatch:
    """The background task of one process: scan every ``every_seconds`` until stopped.

    ``clock`` is injectable (tests pass a fixed time); ``scans`` counts finished scans and
    ``scanned`` is notified after each, so a test can wait for a scan with a deadline instead of
    sleeping."""

    def __init__(
        self,
        factory: async_sessionmaker[AsyncSession],
        every_seconds: float,
        *,
        clock: Clock = utcnow,
        clinic_thresholds: Mapping[str, float] | None = None,
    ) -> None:
        self.factory = factory
        self.clinic_thresholds = clinic_thresholds
        self.every_seconds = every_seconds
        self.clock = clock
        self.scans = 0
        self.raised = 0
        self.scanned = asyncio.Condition()
        self._task: asyncio.Task[None] | None = None

    async def scan_once(self) -> int:
        try:
            raised = await scan_overdue(self.factory, self.clock(), self.clinic_thresholds)
        except Exception as exc:  # the database may be away: try again at the next scan
            log.warning("vitals_overdue scan failed: %s", type(exc).__name__)
            raised = 0
        self.raised += raised
        async with self.scanned:
            self.scans += 1
            self.scanned.notify_all()
        return raised

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.every_seconds)
            await self.scan_once()

    async def start(self) -> None:
        """Scan once now (so a process that answers requests has scanned), then every
        ``every_seconds`` in the background."""
        if self._task is None:
            await self.scan_once()
            self._task = asyncio.create_task(self._run(), name="vigil-vitals-overdue")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def wait_for_scans(self, count: int, within_seconds: float) -> None:
        """Wait until ``count`` scans have finished in all (TimeoutError after
        ``within_seconds``)."""
        async with asyncio.timeout(within_seconds), self.scanned:
            await self.scanned.wait_for(lambda: self.scans >= count)


def install_overdue_watch(app: FastAPI) -> None:
    """Run the scan in this process while the app runs (unless VIGIL_VITALS_SCAN_SECONDS is 0).
    The watch is ``app.state.overdue_watch``."""
    every = app.state.settings.vitals_scan_seconds
    app.state.overdue_watch = None
    if not every:
        return

    async def start(app: FastAPI) -> None:
        watch = OverdueWatch(
            app.state.session_factory, every, clinic_thresholds=app.state.settings.thresholds
        )
        app.state.overdue_watch = watch
        await watch.start()

    async def stop(app: FastAPI) -> None:
        watch = app.state.overdue_watch
        if watch is not None:
            await watch.stop()

    app.state.startup_hooks.append(start)
    app.state.shutdown_hooks.append(stop)
