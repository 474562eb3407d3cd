"""The limits in force for a session (SPEC §5): the clinic's settings with the overrides of the
plan revision the session uses on top (the pure rule is
:func:`api.clinical.thresholds.effective_thresholds`).

A plan is checked against these same limits when it is written (:mod:`api.clinical.plan_rules`,
given the clinic's settings the app runs with), so what alerts, gates and the board apply is the
combination that was checked: pass the app's ``settings.thresholds``.

Here, in the plans domain below alerts and the session gates, so both read the limits from the
same place without importing each other.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from api.clinical.thresholds import effective_thresholds
from api.config import get_settings
from api.plans.service import pinned_revision, revision_in_force
from models import TreatmentSession


class HasThresholds(Protocol):
    @property
    def thresholds(self) -> Mapping[str, float] | None: ...


def thresholds_for(
    revision: HasThresholds, clinic_thresholds: Mapping[str, float] | None = None
) -> dict[str, float]:
    """The limits of ``revision`` (a plan revision or the :class:`PinnedRevision` a session
    reads) over ``clinic_thresholds`` (the clinic's settings: the app's; by default the
    process's, which is the app's only when the app was made from the environment)."""
    clinic = get_settings().thresholds if clinic_thresholds is None else clinic_thresholds
    return effective_thresholds(clinic, revision.thresholds or None)


async def limits_in_force(
    db: AsyncSession,
    session: TreatmentSession,
    *,
    clinic_thresholds: Mapping[str, float] | None = None,
) -> dict[str, float]:
    """The limits ``session`` is watched against now: those of the revision it uses (pinned at
    check-in, before that the plan's current one, :func:`revision_in_force`) over the clinic's
    settings."""
    number = await revision_in_force(db, session)
    return thresholds_for(await pinned_revision(db, session.plan_id, number), clinic_thresholds)
