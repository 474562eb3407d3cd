"""The alert and gate limits in force for a session: the plan revision it pinned over the
clinic's defaults (the pure rule is :func:`api.clinical.thresholds.effective_thresholds`).

Here, in the plans domain below alerts and the session gates, so both read the limits from the
same place without importing each other.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from api.clinical.thresholds import effective_thresholds
from api.config import get_settings


class HasThresholds(Protocol):
    @property
    def thresholds(self) -> Mapping[str, float] | None: ...


def thresholds_for(
    revision: HasThresholds, clinic_thresholds: Mapping[str, float] | None = None
) -> dict[str, float]:
    """The limits of ``revision`` (a plan revision or the :class:`PinnedRevision` a session
    reads) over ``clinic_thresholds`` (the clinic's settings; by default the process's)."""
    clinic = get_settings().thresholds if clinic_thresholds is None else clinic_thresholds
    return effective_thresholds(clinic, revision.thresholds or None)
