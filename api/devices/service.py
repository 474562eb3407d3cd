"""Devices, their bindings to sessions, and routing a device's reading to its session.

A binding covers readings measured from the session's check-in until the session ends or the
binding is released, whichever comes first. Released bindings are kept so late readings (a
monitor that buffered while offline) still reach the right session.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from api.audit import Audit
from api.clinical.status_machine import has_ended
from api.errors import Conflict, NotFound
from api.pagination import cut_page, keyset
from api.sessions.repository import get_session
from api.types import parse_id
from models import Device, DeviceBinding, TreatmentSession
from models.base import utcnow

_EUI64_RE = re.compile(r"^[0-9A-Fa-f]{2}(?:[-:]?[0-9A-Fa-f]{2}){7}$")


def normalize_identifier(identifier: str) -> str:
    """EUI-64s in one spelling (16 upper-case hex digits) whatever the sender wrote; serial
    numbers as given (trimmed)."""
    text = identifier.strip()
    if _EUI64_RE.match(text):
        return text.replace("-", "").replace(":", "").upper()
    return text


async def create_device(
    db: AsyncSession, audit: Audit, *, identifier: str, model: str | None, location: str | None
) -> Device:
    device = Device(
        identifier=normalize_identifier(identifier),
        model=model,
        location=location,
        created_by=audit.actor.id,
    )
    try:
        async with db.begin_nested():
            db.add(device)
            await db.flush()
    except IntegrityError:
        raise Conflict(
            f"A device with identifier {device.identifier} is already registered.",
            field="identifier",
        ) from None
    audit.record("create", "device", device.id)
    return device


async def list_devices(
    db: AsyncSession, *, limit: int, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    """Devices by identifier, each with the session it is bound to now (None: free)."""
    open_binding = and_(DeviceBinding.device_id == Device.id, DeviceBinding.released_at.is_(None))
    stmt = keyset(
        select(Device, DeviceBinding.session_id).outerjoin(DeviceBinding, open_binding),
        cursor=cursor,
        limit=limit,
        sort=Device.identifier,
        tiebreak=Device.id,
        kind=str,
    )
    rows, next_cursor = cut_page(
        list((await db.execute(stmt)).all()), limit, lambda r: (r[0].identifier, r[0].id)
    )
    return [device_view(d, bound) for d, bound in rows], next_cursor


def device_view(device: Device, bound_session_id: uuid.UUID | None = None) -> dict[str, Any]:
    return {
        **{c.key: getattr(device, c.key) for c in Device.__table__.columns},
        "bound_session_id": bound_session_id,
    }


async def get_device(db: AsyncSession, device_id: str | uuid.UUID) -> Device:
    did = device_id if isinstance(device_id, uuid.UUID) else parse_id(device_id)
    device = await db.get(Device, did) if did is not None else None
    if device is None:
        raise NotFound(f"No device with id {device_id}.")
    return device


async def find_device(db: AsyncSession, identifier: str) -> Device | None:
    return await db.scalar(
        select(Device).where(Device.identifier == normalize_identifier(identifier))
    )


def binding_view(binding: DeviceBinding, device: Device) -> dict[str, Any]:
    return {
        **{c.key: getattr(binding, c.key) for c in DeviceBinding.__table__.columns},
        "device_identifier": device.identifier,
        "active": binding.released_at is None,
    }


async def _close_ended(db: AsyncSession, device_id: uuid.UUID) -> None:
    """Bindings close when their session ends; close any the session end left open (lazily,
    e.g. sessions ended before this hook existed)."""
    ended = await db.execute(
        select(DeviceBinding.id, TreatmentSession.ended_at)
        .join(TreatmentSession, TreatmentSession.id == DeviceBinding.session_id)
        .where(
            DeviceBinding.device_id == device_id,
            DeviceBinding.released_at.is_(None),
            TreatmentSession.ended_at.is_not(None),
        )
    )
    for binding_id, ended_at in ended.all():
        await db.execute(
            update(DeviceBinding)
            .where(DeviceBinding.id == binding_id, DeviceBinding.released_at.is_(None))
            .values(released_at=ended_at, release_reason="session ended")
            .execution_options(synchronize_session=False)
        )


async def bind_device(
    db: AsyncSession, audit: Audit, session_id: str, device_id: str
) -> dict[str, Any]:
    session = await get_session(db, session_id)
    if has_ended(session.status):
        raise Conflict(f"The session has ended ({session.status}); no device can be bound to it.")
    device = await get_device(db, device_id)
    await _close_ended(db, device.id)
    binding = DeviceBinding(device_id=device.id, session_id=session.id, bound_by=audit.actor.id)
    try:
        async with db.begin_nested():
            db.add(binding)
            await db.flush()
    except IntegrityError:
        current = await db.scalar(
            select(DeviceBinding).where(
                DeviceBinding.device_id == device.id, DeviceBinding.released_at.is_(None)
            )
        )
        other = current.session_id if current is not None else None
        same = other == session.id
        raise Conflict(
            f"Device {device.identifier} is already bound to "
            + ("this session." if same else f"session {other}; release that binding first."),
            binding_id=str(current.id) if current is not None else None,
            session_id=str(other) if other is not None else None,
        ) from None
    audit.record("create", "device_binding", binding.id, patient_id=session.patient_id)
    return binding_view(binding, device)


async def list_bindings(db: AsyncSession, audit: Audit, session_id: str) -> list[dict[str, Any]]:
    session = await get_session(db, session_id)
    rows = await db.execute(
        select(DeviceBinding, Device)
        .join(Device, Device.id == DeviceBinding.device_id)
        .where(DeviceBinding.session_id == session.id)
        .order_by(DeviceBinding.bound_at, DeviceBinding.id)
    )
    audit.record("read", "device_binding", None, patient_id=session.patient_id)
    return [binding_view(b, d) for b, d in rows]


async def release_binding(
    db: AsyncSession, audit: Audit, session_id: str, binding_id: str, reason: str | None
) -> dict[str, Any]:
    session = await get_session(db, session_id)
    bid = parse_id(binding_id)
    found = (
        await db.execute(
            select(DeviceBinding, Device)
            .join(Device, Device.id == DeviceBinding.device_id)
            .where(DeviceBinding.id == bid, DeviceBinding.session_id == session.id)
        )
        if bid
        else None
    )
    row = found.first() if found is not None else None
    if row is None:
        raise NotFound(f"Session {session_id} has no device binding {binding_id}.")
    binding, device = row
    if binding.released_at is not None:
        raise Conflict("This binding is already released.")
    await db.execute(
        update(DeviceBinding)
        .where(DeviceBinding.id == binding.id)
        .values(released_at=utcnow(), released_by=audit.actor.id, release_reason=reason)
        .execution_options(synchronize_session=False)
    )
    await db.refresh(binding)
    audit.record("update", "device_binding", binding.id, patient_id=session.patient_id)
    return binding_view(binding, device)


# --------------------------------------------------------------------------------------------
# Routing a device's readings
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Coverage:
    binding: DeviceBinding
    session: TreatmentSession

    @property
    def start(self) -> datetime | None:
        return self.session.checked_in_at

    @property
    def end(self) -> datetime | None:
        ends = [t for t in (self.session.ended_at, self.binding.released_at) if t is not None]
        return min(ends) if ends else None

    def covers(self, moment: datetime) -> bool:
        start, end = self.start, self.end
        return start is not None and start <= moment and (end is None or moment <= end)


@dataclass(frozen=True)
class Miss:
    reason: str  # unbound_device | before_check_in | session_ended
    detail: str
    session_id: uuid.UUID | None = None


class DeviceRoutes:
    """The bindings of one device that matter for a batch of readings."""

    def __init__(self, identifier: str, coverages: Sequence[Coverage]) -> None:
        self.identifier = identifier
        self.coverages = list(coverages)

    def route(self, moment: datetime) -> TreatmentSession | Miss:
        covering = [c for c in self.coverages if c.covers(moment)]
        if covering:
            before = [c for c in covering if c.binding.bound_at <= moment]
            chosen = (
                max(before, key=lambda c: c.binding.bound_at)
                if before
                else min(covering, key=lambda c: c.binding.bound_at)
            )
            return chosen.session
        return self._miss(moment)

    def _miss(self, moment: datetime) -> Miss:
        at = moment.isoformat().replace("+00:00", "Z")
        if not self.coverages:
            return Miss(
                "unbound_device", f"device {self.identifier} is not bound to any session at {at}"
            )
        latest = max(self.coverages, key=lambda c: c.binding.bound_at)
        sid = latest.session.id
        if latest.start is None or moment < latest.start:
            return Miss(
                "before_check_in",
                f"device {self.identifier} is bound to session {sid}, which was not checked in "
                f"at {at}",
                sid,
            )
        end = latest.end
        if end is not None and moment > end:
            ended = end.isoformat().replace("+00:00", "Z")
            what = "ended" if latest.session.ended_at == end else "was unbound from the device"
            return Miss(
                "session_ended",
                f"measured at {at}, after session {sid} {what} at {ended}",
                sid,
            )
        return Miss("unbound_device", f"no binding of device {self.identifier} covers {at}", sid)


async def load_routes(
    db: AsyncSession, device: Device, earliest: datetime, latest: datetime
) -> DeviceRoutes:
    """Bindings whose coverage can overlap [earliest, latest], plus the newest binding (to
    explain a miss)."""
    rows = await db.execute(
        select(DeviceBinding, TreatmentSession)
        .join(TreatmentSession, TreatmentSession.id == DeviceBinding.session_id)
        .where(
            DeviceBinding.device_id == device.id,
            or_(
                DeviceBinding.released_at.is_(None),
                DeviceBinding.released_at >= earliest,
            ),
            or_(TreatmentSession.ended_at.is_(None), TreatmentSession.ended_at >= earliest),
            or_(
                TreatmentSession.checked_in_at.is_(None),
                TreatmentSession.checked_in_at <= latest,
            ),
        )
    )
    coverages = {b.id: Coverage(b, s) for b, s in rows}
    newest = (
        await db.execute(
            select(DeviceBinding, TreatmentSession)
            .join(TreatmentSession, TreatmentSession.id == DeviceBinding.session_id)
            .where(DeviceBinding.device_id == device.id)
            .order_by(DeviceBinding.bound_at.desc())
            .limit(1)
        )
    ).first()
    if newest is not None:
        coverages.setdefault(newest[0].id, Coverage(newest[0], newest[1]))
    return DeviceRoutes(device.identifier, list(coverages.values()))


async def patient_session_at(
    db: AsyncSession, patient_id: uuid.UUID, moment: datetime
) -> TreatmentSession | None:
    """The patient's session that is checked in and not yet ended at ``moment``."""
    return await db.scalar(
        select(TreatmentSession)
        .where(
            TreatmentSession.patient_id == patient_id,
            TreatmentSession.checked_in_at.is_not(None),
            TreatmentSession.checked_in_at <= moment,
            or_(TreatmentSession.ended_at.is_(None), TreatmentSession.ended_at >= moment),
        )
        .order_by(TreatmentSession.checked_in_at.desc())
        .limit(1)
    )
