"""What identifies a reading, so that a retry stores (and alerts) once (SPEC §5).

A reading sent with an ``external_id`` is that id, unique per source (the recording user or
integration client), compared exactly: an id with leading or trailing whitespace is refused,
never trimmed, so two different ids can never become one. A device reading sent without one is
identified by its device, its code and its ``measured_at`` (the same rule for device push and
HL7 v2): the identity below is stored as its ``external_id``, so the same unique constraint
(source, external_id) that de-duplicates retries with ids de-duplicates these too.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime

EXTERNAL_ID_WHITESPACE = (
    "must not start or end with whitespace: external ids are compared exactly, never trimmed"
)


def external_id_problem(value: str) -> str | None:
    """Why ``value`` cannot be an ``external_id``, or None."""
    return EXTERNAL_ID_WHITESPACE if value != value.strip() else None


def reading_identity(scheme: str, parts: Sequence[str]) -> str:
    """``scheme:`` and a digest of ``parts``: fixed length, whatever the parts hold."""
    return f"{scheme}:" + hashlib.sha256("|".join(parts).encode()).hexdigest()[:48]


def device_reading_identity(scheme: str, device: str, code: str, measured_at: datetime) -> str:
    """A device reading without an id of its own: its device (``normalize_identifier``'s
    spelling, so any spelling of one EUI-64 is one device), its code (MDC code for HL7 v2,
    Vigil code for device push) and the instant it was measured (whatever offset it was
    written with)."""
    moment = measured_at.astimezone(UTC).isoformat()
    return reading_identity(scheme, ["device", device, code, moment])
