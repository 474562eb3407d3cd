"""When the next blood pressure is due, and when its absence is a ``vitals_overdue`` alert
(SPEC §6 "Alerts", §4 "the monitoring clock").

Only a session in ``dosing`` or ``monitoring`` is watched; outside them nothing is due (None).

* **The gap** starts at the later of dosing start and the latest blood pressure's
  ``measured_at`` (systolic or diastolic, retracted ones ignored).
* **Due**: the gap's start plus ``vitals_interval_minutes`` (clinic setting, plan override).
* **Esketamine, the 40-minute BP**: while no blood pressure has been measured 30 minutes or more
  after the first device (the first non-retracted administration's start, else dosing start),
  one is due by the 50th minute: ``vitals_due_at`` is then the earlier of the interval's due time
  and the 50th minute. (A BP measured after the 50th minute does not reopen the missed window: its
  gap started after the 30th minute.)
* **Overdue** when ``now`` is past the due time; the alert is raised once per gap, keyed by the
  gap's start (the database's UNIQUE (session_id, gap_started_at)).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

from api.clinical.gates import monitoring_clock_start
from api.clinical.labels import clinic_time
from api.clinical.phase import since_dosing_started

WATCHED_STATUSES = frozenset({"dosing", "monitoring"})
DEFAULT_VITALS_INTERVAL_MINUTES = 15.0
ESKETAMINE_BP_WINDOW_MINUTES = (30, 50)
OVERDUE_KIND = "vitals_overdue"


@dataclass(frozen=True)
class DueBP:
    gap_started_at: datetime
    due_at: datetime
    window: bool  # True: the due time is esketamine's 40-minute BP (the 50th minute)
    first_device_at: datetime


def next_bp_due(
    *,
    status: str,
    medication: str,
    dosing_started_at: datetime | None,
    first_administration_at: datetime | None,
    latest_bp_at: datetime | None,
    interval_minutes: float,
) -> DueBP | None:
    """The gap and when its blood pressure is due, or None when the session is not watched."""
    if status not in WATCHED_STATUSES or dosing_started_at is None:
        return None
    gap = (
        dosing_started_at
        if latest_bp_at is None or not since_dosing_started(latest_bp_at, dosing_started_at)
        else latest_bp_at
    )
    due = gap + timedelta(minutes=interval_minutes)
    first = monitoring_clock_start(
        dosing_started_at=dosing_started_at, first_administration_at=first_administration_at
    )
    assert first is not None  # dosing has started
    window = False
    if medication == "esketamine":
        opens, closes = ESKETAMINE_BP_WINDOW_MINUTES
        if gap < first + timedelta(minutes=opens):
            deadline = first + timedelta(minutes=closes)
            if deadline < due:
                due, window = deadline, True
    return DueBP(gap_started_at=gap, due_at=due, window=window, first_device_at=first)


def vitals_due_at(
    *,
    status: str,
    medication: str,
    dosing_started_at: datetime | None,
    first_administration_at: datetime | None,
    latest_bp_at: datetime | None,
    interval_minutes: float,
) -> datetime | None:
    """SPEC §6 ``vitals_due_at``: when the next blood pressure is due; None outside
    ``dosing``/``monitoring``."""
    due = next_bp_due(
        status=status,
        medication=medication,
        dosing_started_at=dosing_started_at,
        first_administration_at=first_administration_at,
        latest_bp_at=latest_bp_at,
        interval_minutes=interval_minutes,
    )
    return due.due_at if due is not None else None


def is_overdue(due: DueBP | None, now: datetime) -> bool:
    """No blood pressure for more than the interval (or past the 50th minute): strictly later."""
    return due is not None and now > due.due_at


def overdue_message(due: DueBP, *, had_bp: bool, interval_minutes: float, tz: tzinfo) -> str:
    """What the nurse reads on the board: since when, due when, what to do."""
    if due.window:
        return (
            "No blood pressure between 30 and 50 minutes after the first device "
            f"(given {clinic_time(due.first_device_at, tz)}): the 40-minute blood pressure was "
            f"due by {clinic_time(due.due_at, tz)}. Take a blood pressure now."
        )
    since = "the last blood pressure" if had_bp else "dosing started"
    return (
        f"No blood pressure since {clinic_time(due.gap_started_at, tz)} ({since}); one was due "
        f"every {interval_minutes:g} minutes, by {clinic_time(due.due_at, tz)}. "
        "Take a blood pressure now."
    )
