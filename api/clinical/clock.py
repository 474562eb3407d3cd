"""Clinic times in words a nurse reads: the clinic's zone, with its offset, to the minute."""

from __future__ import annotations

from datetime import datetime, tzinfo


def clinic_time(moment: datetime, tz: tzinfo) -> str:
    """``2026-12-01 09:05 -05:00``."""
    local = moment.astimezone(tz)
    offset = local.strftime("%z")
    return f"{local:%Y-%m-%d %H:%M} {offset[:3]}:{offset[3:]}"
