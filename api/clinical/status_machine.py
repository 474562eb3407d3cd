"""The session status machine (SPEC §4). Pure: which move is allowed, what it needs."""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    scheduled = "scheduled"
    checked_in = "checked_in"
    dosing = "dosing"
    monitoring = "monitoring"
    discharged = "discharged"
    cancelled = "cancelled"
    transferred = "transferred"


ALLOWED: dict[Status, tuple[Status, ...]] = {
    Status.scheduled: (Status.checked_in, Status.cancelled),
    Status.checked_in: (Status.dosing, Status.cancelled),
    Status.dosing: (Status.monitoring, Status.transferred),
    Status.monitoring: (Status.discharged, Status.transferred),
    Status.discharged: (),
    Status.cancelled: (),
    Status.transferred: (),
}

ENDED = frozenset({Status.discharged, Status.cancelled, Status.transferred})
REASON_REQUIRED = frozenset({Status.cancelled, Status.transferred})


def allowed_next(current: str) -> list[str]:
    return [s.value for s in ALLOWED[Status(current)]]


def is_allowed(current: str, target: str) -> bool:
    return target in allowed_next(current)


def has_ended(status: str) -> bool:
    return Status(status) in ENDED


def infusion_ended_early(
    *, route: str, infusion_minutes: int | None, dosing_minutes: float
) -> bool:
    """An IV infusion stopped before its planned duration needs a reason (SPEC §4)."""
    return (
        route == "iv_infusion"
        and infusion_minutes is not None
        and dosing_minutes < infusion_minutes
    )
