"""The one device rule the session status machine calls (kept free of session imports)."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from models import DeviceBinding, TreatmentSession


async def release_bindings_of_ended_session(db: AsyncSession, session: TreatmentSession) -> None:
    """An ended session keeps no device: its open bindings close at the session's end."""
    if session.ended_at is None:
        return
    await db.execute(
        update(DeviceBinding)
        .where(DeviceBinding.session_id == session.id, DeviceBinding.released_at.is_(None))
        .values(released_at=session.ended_at, release_reason="session ended")
        .execution_options(synchronize_session=False)
    )
