"""The side-by-side bench's baseline: a textbook FastAPI + SQLAlchemy app over Vigil's own
``observations`` table, the way a tutorial writes "record readings" (no authentication, no
audit trail, no checks beyond Pydantic's, no alerts, no live events, no locks).

``uvicorn bench.baseline_app:app`` with ``DATABASE_URL`` naming a migrated Vigil database.
Only ``bench/side_by_side.py`` runs it.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException
from pydantic import BaseModel, ConfigDict
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from models import Observation, TreatmentSession

engine = create_async_engine(os.environ.get("DATABASE_URL", "sqlite+aiosqlite://"))
SessionLocal = async_sessionmaker(engine, expire_on_commit=False)


@asynccontextmanager
async def lifespan(_: FastAPI) -> AsyncIterator[None]:
    yield
    await engine.dispose()


app = FastAPI(title="baseline", lifespan=lifespan)


async def get_db() -> AsyncIterator[AsyncSession]:
    async with SessionLocal() as db:
        yield db


@app.get("/readyz")
async def ready() -> dict[str, str]:
    return {"status": "ok"}


class ReadingIn(BaseModel):
    code: str
    value: float
    unit: str
    measured_at: datetime
    external_id: str | None = None


class Batch(BaseModel):
    observations: list[ReadingIn]


class ReadingOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    session_id: uuid.UUID
    code: str
    value: float
    unit: str
    measured_at: datetime
    status: str
    external_id: str | None
    source: str
    recorded_at: datetime


class ReadingList(BaseModel):
    items: list[ReadingOut]


@app.post("/v1/sessions/{session_id}/vitals", status_code=201)
async def record_vitals(
    session_id: uuid.UUID, body: Batch, db: Annotated[AsyncSession, Depends(get_db)]
) -> ReadingList:
    if await db.get(TreatmentSession, session_id) is None:
        raise HTTPException(404, "no such session")
    now = datetime.now(UTC)
    rows = [
        Observation(
            id=uuid.uuid4(),
            session_id=session_id,
            code=r.code,
            value=r.value,
            unit=r.unit,
            original_value=r.value,
            original_unit=r.unit,
            measured_at=r.measured_at,
            status="final",
            external_id=r.external_id,
            source="baseline",
            recorded_at=now,
        )
        for r in body.observations
    ]
    db.add_all(rows)
    await db.commit()
    return ReadingList(items=[ReadingOut.model_validate(r) for r in rows])
