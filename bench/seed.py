"""Bulk history for the scale runs, written with COPY straight into Vigil's tables.

Finished (discharged) sessions of ~700 readings each (8 vitals every ~80 s for 2 hours), ten
sessions per patient. Rows go in session by session with increasing ids, so loading 10 million
readings takes minutes; the reads measured afterwards go through the same indexes regardless of
how the rows were loaded.
"""

from __future__ import annotations

import contextlib
import math
import random
import time
import uuid
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from sqlalchemy import Table

from api.patients.mrn import mrn_key
from models import DosingPlan, DosingPlanRevision, Observation, Patient, TreatmentSession

READINGS_PER_SESSION = 704  # 88 time points x 8 vitals
SESSIONS_PER_PATIENT = 10
VITALS = (
    ("systolic_bp", "mm[Hg]", 110.0, 150.0),
    ("diastolic_bp", "mm[Hg]", 60.0, 95.0),
    ("mean_bp", "mm[Hg]", 75.0, 110.0),
    ("heart_rate", "/min", 55.0, 105.0),
    ("spo2", "%", 94.0, 100.0),
    ("respiratory_rate", "/min", 11.0, 20.0),
    ("temperature", "Cel", 36.2, 37.6),
    ("etco2", "mm[Hg]", 32.0, 44.0),
)


def _defaults(table: Table) -> dict[str, Any]:
    """Python-side column defaults (``default=...``), so new NOT NULL columns with a default
    are filled without this module knowing about them."""
    out: dict[str, Any] = {}
    for column in table.columns:
        default = column.default
        if default is None or not hasattr(default, "arg"):
            continue
        arg = default.arg
        out[column.key] = arg(None) if callable(arg) else arg
    return out


class Columns:
    def __init__(self, table: Table) -> None:
        self.table = table
        self.names = [c.name for c in table.columns]
        self.defaults = _defaults(table)

    def record(self, values: Mapping[str, Any]) -> tuple[Any, ...]:
        merged = {**self.defaults, **values}
        return tuple(merged.get(name) for name in self.names)


class IdSequence:
    """Increasing UUIDs from a random start: index inserts land at the right edge."""

    def __init__(self) -> None:
        self.next = random.getrandbits(120) << 4

    def __call__(self) -> uuid.UUID:
        self.next += 1
        return uuid.UUID(int=self.next)


async def settle(conn: asyncpg.Connection) -> None:
    """Pay the database's background debt before a measurement: without this, autovacuum
    (triggered by the inserts before) and the checkpoint of their WAL run during the next
    measurement, and land in its throughput and p99 instead of the one that caused them."""
    await conn.execute("VACUUM (ANALYZE)")
    with contextlib.suppress(asyncpg.InsufficientPrivilegeError):  # superuser or pg_checkpoint
        await conn.execute("CHECKPOINT")


async def seed_readings(conn: asyncpg.Connection, count: int, *, now: datetime) -> dict[str, Any]:
    """Add about ``count`` readings of finished sessions; returns what was added and how fast."""
    started = time.perf_counter()
    sessions = max(1, math.ceil(count / READINGS_PER_SESSION))
    patients = max(1, math.ceil(sessions / SESSIONS_PER_PATIENT))
    ids = IdSequence()
    rng = random.Random(count)
    await conn.execute("SET synchronous_commit = off")

    patient_cols = Columns(Patient.__table__)  # type: ignore[arg-type]
    plan_cols = Columns(DosingPlan.__table__)  # type: ignore[arg-type]
    revision_cols = Columns(DosingPlanRevision.__table__)  # type: ignore[arg-type]
    session_cols = Columns(TreatmentSession.__table__)  # type: ignore[arg-type]
    reading_cols = Columns(Observation.__table__)  # type: ignore[arg-type]

    patient_rows, plan_rows, revision_rows, session_rows = [], [], [], []
    session_specs: list[tuple[uuid.UUID, datetime]] = []
    tag = uuid.uuid4().hex[:8]
    for p in range(patients):
        patient_id, plan_id = ids(), ids()
        patient_rows.append(
            patient_cols.record(
                {
                    "id": patient_id,
                    "mrn": f"BULK-{tag}-{p}",
                    "mrn_key": mrn_key(f"BULK-{tag}-{p}"),
                    "given_name": "Bulk",
                    "family_name": f"Patient{p}",
                    "birth_date": datetime(1980, 1, 1).date(),
                    "sex": "female",
                    "height_cm": 165.0,
                    "created_at": now,
                    "updated_at": now,
                }
            )
        )
        plan_rows.append(
            plan_cols.record({"id": plan_id, "patient_id": patient_id, "created_at": now})
        )
        revision_rows.append(
            revision_cols.record(
                {
                    "id": ids(),
                    "plan_id": plan_id,
                    "revision": 1,
                    "medication": "ketamine",
                    "route": "iv_infusion",
                    "indication": "trd",
                    "dose_mg_per_kg": 0.5,
                    "weight_basis": "actual",
                    "max_dose_mg": 60.0,
                    "infusion_minutes": 40,
                    "min_monitoring_minutes": 60,
                    "thresholds": "{}",
                    "created_at": now,
                }
            )
        )
        for s in range(min(SESSIONS_PER_PATIENT, sessions - p * SESSIONS_PER_PATIENT)):
            session_id = ids()
            start = now - timedelta(days=3 + 3.5 * (p * SESSIONS_PER_PATIENT + s) % 700)
            session_specs.append((session_id, start))
            session_rows.append(
                session_cols.record(
                    {
                        "id": session_id,
                        "patient_id": patient_id,
                        "plan_id": plan_id,
                        "plan_revision": 1,
                        "status": "discharged",
                        "scheduled_at": start - timedelta(minutes=20),
                        "location": f"chair-{s % 6 + 1}",
                        "checked_in_at": start - timedelta(minutes=10),
                        "dosing_started_at": start,
                        "dosing_ended_at": start + timedelta(minutes=40),
                        "ended_at": start + timedelta(minutes=120),
                        "weight_kg": 70.0,
                        "weight_basis": "actual",
                        "basis_weight_kg": 70.0,
                        "dose_mg_per_kg": 0.5,
                        "uncapped_dose_mg": 35.0,
                        "planned_dose_mg": 35.0,
                        "dose_capped": False,
                        "version": 5,
                        "created_at": start - timedelta(days=1),
                    }
                )
            )

    async with conn.transaction():
        for table, cols, rows in (
            ("patients", patient_cols, patient_rows),
            ("dosing_plans", plan_cols, plan_rows),
            ("dosing_plan_revisions", revision_cols, revision_rows),
            ("treatment_sessions", session_cols, session_rows),
        ):
            await conn.copy_records_to_table(table, records=rows, columns=cols.names)

    def readings() -> Iterator[tuple[Any, ...]]:
        per_time = len(VITALS)
        for session_id, start in session_specs:
            for t in range(READINGS_PER_SESSION // per_time):
                measured_at = start - timedelta(minutes=10) + timedelta(seconds=80 * t)
                for code, unit, low, high in VITALS:
                    value = round(rng.uniform(low, high), 1)
                    yield reading_cols.record(
                        {
                            "id": ids(),
                            "session_id": session_id,
                            "code": code,
                            "value": value,
                            "unit": unit,
                            "original_value": value,
                            "original_unit": unit,
                            "measured_at": measured_at,
                            "status": "final",
                            "external_id": None,
                            "source": "bench:seed",
                            "recorded_by": None,
                            "recorded_at": measured_at + timedelta(seconds=5),
                        }
                    )

    await conn.copy_records_to_table("observations", records=readings(), columns=reading_cols.names)
    copy_seconds = time.perf_counter() - started
    # Let the table settle before the reads are measured, as a clinic's table is between
    # bulk loads.
    await settle(conn)
    added = len(session_specs) * (READINGS_PER_SESSION // len(VITALS)) * len(VITALS)
    return {
        "readings_added": added,
        "sessions_added": len(session_specs),
        "patients_added": patients,
        "copy_seconds": round(copy_seconds, 1),
        "copy_rows_per_second": round(added / copy_seconds, 0),
        "total_seconds": round(time.perf_counter() - started, 1),
    }


def utc_now() -> datetime:
    return datetime.now(UTC)


async def seed_to(dsn: str, scale: int) -> tuple[dict[str, Any], int]:
    """Top ``observations`` up to about ``scale`` readings (nothing if it has that many);
    what :func:`seed_readings` added, and the readings in the table now."""
    conn = await asyncpg.connect(dsn)
    try:
        current = await conn.fetchval("SELECT count(*) FROM observations")
        print(f"seeding to {scale:,} readings (have {current:,}) ...", flush=True)
        seeded = await seed_readings(conn, max(0, scale - current), now=utc_now())
        total = await conn.fetchval("SELECT count(*) FROM observations")
    finally:
        await conn.close()
    return seeded, int(total)
