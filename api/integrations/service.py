"""Device push (``POST /v1/integrations/observations``) and the quarantine list."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import TypeAdapter, ValidationError
from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from api.audit import Audit
from api.devices.service import Miss, find_device, load_routes, normalize_identifier
from api.integrations.ingest import Outcome, Quarantine, Routed, for_the_sender, store_routed
from api.pagination import cut_page, keyset
from api.readings.check import ReadingInput
from api.vitals.identity import device_reading_identity
from api.vitals.schemas import ObservationIn
from models import QuarantinedReading

_ITEM = TypeAdapter(ObservationIn)


def _validation_detail(error: ValidationError) -> str:
    parts = []
    for e in error.errors():
        where = ".".join(str(p) for p in e.get("loc", ())) or "item"
        msg = "unknown field" if e.get("type") == "extra_forbidden" else str(e.get("msg"))
        parts.append(f"{where}: {msg.removeprefix('Value error, ')}")
    return "; ".join(parts)


async def push_observations(
    db: AsyncSession, audit: Audit, device_identifier: str, items: Sequence[Any]
) -> dict[str, Any]:
    identifier = normalize_identifier(device_identifier)
    quarantine = Quarantine("observations", audit.actor.source)
    outcomes: dict[int, Outcome] = {}
    readings: list[tuple[int, ReadingInput]] = []
    for index, item in enumerate(items):
        try:
            parsed = _ITEM.validate_python(item)
        except ValidationError as exc:
            outcomes[index] = Outcome(index, "rejected", "invalid", _validation_detail(exc))
            continue
        readings.append(
            (
                index,
                ReadingInput(
                    code=parsed.code,
                    value=parsed.value,
                    unit=parsed.unit,
                    measured_at=parsed.measured_at,
                    external_id=parsed.external_id
                    or device_reading_identity(
                        "device", identifier, parsed.code, parsed.measured_at
                    ),
                    phase=parsed.phase,
                ),
            )
        )
    device = await find_device(db, identifier)
    routed: list[Routed] = []
    if device is None:
        for index, _ in readings:
            outcomes[index] = Outcome(
                index, "rejected", "unknown_device", f"no device {identifier} is registered"
            )
    elif readings:
        times = [r.measured_at for _, r in readings]
        routes = await load_routes(db, device, min(times), max(times))
        for index, reading in readings:
            target = routes.route(reading.measured_at)
            if isinstance(target, Miss):
                outcomes[index] = Outcome(
                    index, "rejected", target.reason, target.detail, session_id=target.session_id
                )
            else:
                routed.append(Routed(index, reading, target))
    outcomes.update(await store_routed(db, audit, routed))
    results = [outcomes[i] for i in range(len(items))]
    for result in results:
        if result.status == "rejected":
            quarantine.add(
                reason=result.reason or "invalid",
                detail=result.detail or "",
                raw=items[result.index],
                device=identifier,
                index=result.index,
                session_id=result.session_id,
            )
    await quarantine.write(db)
    return {
        "device": identifier,
        "accepted": sum(r.status == "accepted" for r in results),
        "duplicates": sum(r.status == "duplicate" for r in results),
        "rejected": sum(r.status == "rejected" for r in results),
        "results": [for_the_sender(r).as_dict() for r in results],
    }


async def list_quarantine(
    db: AsyncSession,
    audit: Audit,
    *,
    channel: str | None,
    device: str | None,
    reason: str | None,
    limit: int,
    cursor: str | None,
) -> tuple[list[QuarantinedReading], str | None]:
    """Newest first; keyset on (received_at, id) descending."""
    stmt: Select[Any] = select(QuarantinedReading)
    if channel is not None:
        stmt = stmt.where(QuarantinedReading.channel == channel)
    if device is not None:
        stmt = stmt.where(QuarantinedReading.device_identifier == normalize_identifier(device))
    if reason is not None:
        stmt = stmt.where(QuarantinedReading.reason == reason)
    stmt = keyset(
        stmt,
        cursor=cursor,
        limit=limit,
        sort=QuarantinedReading.received_at,
        tiebreak=QuarantinedReading.id,
        descending=True,
    )
    rows, next_cursor = cut_page(
        list((await db.scalars(stmt)).all()), limit, lambda r: (r.received_at, r.id)
    )
    audit.record("read", "quarantined_reading", None)
    return rows, next_cursor
