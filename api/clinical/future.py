"""SPEC §1, the one rule for every entry point (REST, HL7 v2, FHIR): a time more than the
tolerance past the server clock is refused.

Pure: the tolerance is passed in (services read it from the settings; translators take it as a
parameter), and so is the clock when a caller has one.
"""

from __future__ import annotations

import time
from datetime import datetime

#: ``future_tolerance_seconds`` unless configured (api.config).
DEFAULT_FUTURE_TOLERANCE_SECONDS = 120


def future_problem(
    value: datetime, *, tolerance_seconds: int, now: float | None = None
) -> str | None:
    """Why ``value`` is too far in the future, or None. ``value`` must be aware; ``now`` is
    POSIX seconds (default: the clock)."""
    # Compared as POSIX seconds: the same instant comparison as against now() + a timedelta,
    # a third of the cost (it runs for every reading of every batch).
    clock = time.time() if now is None else now
    if value.timestamp() > clock + tolerance_seconds:
        return f"timestamp is in the future (more than {tolerance_seconds} s past the server clock)"
    return None
