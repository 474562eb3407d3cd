"""Queries of a session's readings: a timeline page, and the phase filter in SQL."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Select, false, select

from api.clinical.phase import Phase, phase_bounds
from api.pagination import keyset
from models import Observation, TreatmentSession

_TABLE = Observation.__table__


def phase_filter(stmt: Select[Any], session: TreatmentSession, phase: str) -> Select[Any]:
    """Readings of ``session`` in ``phase``: the bounds :func:`phase_bounds` gives the Python
    labeler, as SQL."""
    bounds = phase_bounds(session.dosing_started_at, session.dosing_ended_at)[Phase(phase)]
    if bounds is None:
        return stmt.where(false())
    start, end = bounds
    if start is not None:
        stmt = stmt.where(Observation.measured_at >= start)
    if end is not None:
        stmt = stmt.where(Observation.measured_at < end)
    return stmt


def vitals_page_query(
    session: TreatmentSession,
    *,
    phase: str | None = None,
    code: str | None = None,
    since: datetime | None = None,
    include_retracted: bool = False,
    limit: int = 50,
    cursor: str | None = None,
) -> Select[Any]:
    """One page of a session's timeline (one row more than ``limit``, to know if more follow).

    Served by ix_observations_session_measured; the bench checks the plan at 10M readings."""
    # Plain columns, not ORM entities: a 500-row page loaded as entities spent most of its time
    # in identity-map bookkeeping and attribute access, for rows that are only serialized.
    stmt: Select[Any] = select(*_TABLE.c).where(Observation.session_id == session.id)
    if not include_retracted:
        stmt = stmt.where(Observation.status == "final")
    if code is not None:
        stmt = stmt.where(Observation.code == code)
    if since is not None:
        stmt = stmt.where(Observation.measured_at >= since)
    if phase is not None:
        stmt = phase_filter(stmt, session, phase)
    return keyset(
        stmt, cursor=cursor, limit=limit, sort=Observation.measured_at, tiebreak=Observation.id
    )
