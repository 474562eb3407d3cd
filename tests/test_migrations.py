"""The schema comes only from Alembic: no drift, reversible, and the app refuses a stale one."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime

import httpx
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from asgi_lifespan import LifespanManager

import models
from api.db import create_engine
from api.main import create_app
from api.readiness import alembic_config
from tests.conftest import (
    PG_SERVER_URL,
    make_settings,
    migrate,
)
from tests.live import create_database, drop_database

BACKENDS = ["sqlite"] + (["postgresql"] if PG_SERVER_URL else [])


@pytest.fixture(params=BACKENDS)
async def empty_url(request: pytest.FixtureRequest, tmp_path: object) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path}/m.db"
        return
    assert PG_SERVER_URL
    name = f"vigil_mig_{uuid.uuid4().hex[:10]}"
    url = await create_database(PG_SERVER_URL, name)
    yield url
    await drop_database(PG_SERVER_URL, name)


async def _diff(url: str) -> list[object]:
    engine = create_engine(make_settings(url))
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(
                lambda sync: compare_metadata(
                    MigrationContext.configure(sync, opts={"compare_type": True}),
                    models.Base.metadata,
                )
            )
    finally:
        await engine.dispose()


async def test_upgrade_downgrade_upgrade_without_drift(empty_url: str) -> None:
    await asyncio.to_thread(migrate, empty_url)
    assert await _diff(empty_url) == []
    await asyncio.to_thread(migrate, empty_url, "base", down=True)
    engine = create_engine(make_settings(empty_url))
    async with engine.connect() as conn:
        tables = await conn.run_sync(lambda sync: sync.dialect.get_table_names(sync))
    await engine.dispose()
    assert set(tables) <= {"alembic_version"}
    await asyncio.to_thread(migrate, empty_url)
    assert await _diff(empty_url) == []


async def test_alembic_check_is_clean(empty_url: str) -> None:
    await asyncio.to_thread(migrate, empty_url)
    config = alembic_config()
    config.attributes["database_url"] = empty_url
    config.attributes["configure_logger"] = False
    await asyncio.to_thread(command.check, config)


async def test_app_refuses_a_database_not_at_head(empty_url: str) -> None:
    await asyncio.to_thread(migrate, empty_url, "0001")
    app = create_app(make_settings(empty_url))
    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            ready = await c.get("/readyz")
            assert ready.status_code == 503
            assert "alembic upgrade head" in ready.json()["detail"]
            assert (await c.get("/healthz")).status_code == 200
            r = await c.get("/v1/patients")
            assert r.status_code == 503
            assert r.headers["content-type"] == "application/problem+json"
            await asyncio.to_thread(migrate, empty_url)
            assert (await c.get("/readyz")).status_code == 200


async def test_unreachable_database_is_503(tmp_path: object) -> None:
    app = create_app(make_settings("postgresql+asyncpg://postgres@127.0.0.1:1/nowhere"))
    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            r = await c.get("/readyz")
            assert r.status_code == 503
            assert "not reachable" in r.json()["detail"]
            assert (await c.get("/v1/sessions")).status_code == 503


async def test_concurrent_migrate_commands_both_succeed(empty_url: str) -> None:
    """Hosts started together may each run `vigil migrate`: one migrates, the others wait for
    it and then find nothing to do (an advisory lock). A SQLite file has only one host."""
    if not empty_url.startswith("postgresql"):
        pytest.skip("several hosts share only a PostgreSQL database")
    import os
    import sys

    from tests.live import ROOT

    env = {**os.environ, "DATABASE_URL": empty_url}
    env.pop("VIGIL_DATABASE_URL", None)
    runs = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "api.cli",
            "migrate",
            cwd=ROOT,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        for _ in range(3)
    ]
    outputs = await asyncio.gather(*(run.communicate() for run in runs))
    assert [run.returncode for run in runs] == [0, 0, 0], [o[0].decode()[-800:] for o in outputs]
    assert await _diff(empty_url) == []


async def test_doses_and_scores_recorded_before_0007_become_final(empty_url: str) -> None:
    """Rows that exist when retraction arrives (migration 0007) read ``final``, and survive a
    downgrade and upgrade again."""
    import sqlalchemy as sa

    await asyncio.to_thread(migrate, empty_url, "0006")
    now = datetime.now(UTC)
    ids = {name: uuid.uuid4() for name in ("patient", "plan", "revision", "session")}
    tables = models.Base.metadata.tables
    # The tables 0007 leaves alone are as the models say; the two it changes are written with
    # their 0006 columns only.
    administrations = sa.table(
        "administrations",
        *(sa.column(c.name, c.type) for c in tables["administrations"].columns),
    )
    assessments = sa.table(
        "assessments", *(sa.column(c.name, c.type) for c in tables["assessments"].columns)
    )
    dose_id, score_id = uuid.uuid4(), uuid.uuid4()
    engine = create_engine(make_settings(empty_url))
    async with engine.begin() as conn:
        await conn.execute(
            tables["patients"].insert(),
            {
                "id": ids["patient"],
                "mrn": f"M-{ids['patient'].hex[:8]}",
                "given_name": "Ana",
                "family_name": "Ruiz",
                "birth_date": date(1984, 3, 9),
                "sex": "female",
                "version": 1,
                "created_at": now,
                "updated_at": now,
            },
        )
        await conn.execute(
            tables["dosing_plans"].insert(),
            {
                "id": ids["plan"],
                "patient_id": ids["patient"],
                "status": "active",
                "current_revision": 1,
                "version": 1,
                "created_at": now,
            },
        )
        await conn.execute(
            tables["dosing_plan_revisions"].insert(),
            {
                "id": ids["revision"],
                "plan_id": ids["plan"],
                "revision": 1,
                "medication": "ketamine",
                "route": "im",
                "indication": "trd",
                "dose_mg": 40,
                "max_dose_mg": 60,
                "min_monitoring_minutes": 60,
                "thresholds": {},
                "created_at": now,
            },
        )
        await conn.execute(
            tables["treatment_sessions"].insert(),
            {
                "id": ids["session"],
                "patient_id": ids["patient"],
                "plan_id": ids["plan"],
                "plan_revision": 1,
                "status": "scheduled",
                "scheduled_at": now,
                "dose_capped": False,
                "version": 1,
                "created_at": now,
            },
        )
        await conn.execute(
            administrations.insert().values(
                id=dose_id,
                session_id=ids["session"],
                medication="ketamine",
                route="im",
                dose_mg=40,
                started_at=now,
                lot_number="OLD-1",
                exceeds_planned_dose=False,
                administered_by="someone",
                recorded_at=now,
            )
        )
        await conn.execute(
            assessments.insert().values(
                id=score_id,
                session_id=ids["session"],
                instrument="moaas",
                total=5,
                details={},
                administered_at=now,
                recorded_at=now,
            )
        )
    await engine.dispose()

    async def statuses() -> list[tuple[object, ...]]:
        engine = create_engine(make_settings(empty_url))
        try:
            async with engine.connect() as conn:
                return [
                    tuple(row)
                    for table in ("administrations", "assessments")
                    for row in await conn.execute(
                        sa.select(
                            tables[table].c.status,
                            tables[table].c.retracted_at,
                            tables[table].c.retracted_by,
                            tables[table].c.retraction_reason,
                        )
                    )
                ]
        finally:
            await engine.dispose()

    await asyncio.to_thread(migrate, empty_url)
    assert await statuses() == [("final", None, None, None)] * 2
    await asyncio.to_thread(migrate, empty_url, "0006", down=True)
    await asyncio.to_thread(migrate, empty_url)
    assert await statuses() == [("final", None, None, None)] * 2
    assert await _diff(empty_url) == []


async def test_no_timestamp_column_can_hold_infinity(empty_url: str) -> None:
    """PostgreSQL: every timestamptz column refuses ±infinity (CHECK isfinite, migration
    0010_alerts_overdue), so a reading timed 0001-01-01 can never again break reads. SQLite
    stores timestamps as text and has no infinity."""
    if not empty_url.startswith("postgresql"):
        pytest.skip("only PostgreSQL has infinite timestamps")
    import asyncpg

    from tests.live import asyncpg_dsn

    await asyncio.to_thread(migrate, empty_url)
    conn = await asyncpg.connect(asyncpg_dsn(empty_url))
    try:
        columns = await conn.fetch(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND data_type = 'timestamp with time zone'"
        )
        assert len(columns) > 20
        checks = {
            (r["table"], r["definition"])
            for r in await conn.fetch(
                "SELECT conrelid::regclass::text AS table, pg_get_constraintdef(oid) AS definition "
                "FROM pg_constraint WHERE contype = 'c'"
            )
        }
        missing = [
            f"{c['table_name']}.{c['column_name']}"
            for c in columns
            if (c["table_name"], f"CHECK (isfinite({c['column_name']}))") not in checks
        ]
        assert missing == []
        with pytest.raises(asyncpg.CheckViolationError):
            await conn.execute(
                "INSERT INTO patients (id, mrn, given_name, family_name, birth_date, sex, "
                "version, created_at, updated_at) VALUES ($1, 'M-inf', 'A', 'B', "
                "'1984-03-09', 'female', 1, '-infinity', now())",
                uuid.uuid4(),
            )
    finally:
        await conn.close()


async def test_0010_backfills_alert_patients_and_repairs_infinite_times(empty_url: str) -> None:
    """Alerts raised before 0010_alerts_overdue get their session's patient; on PostgreSQL a
    reading stored as -infinity becomes a retracted reading at 1970-01-01 (readable again)."""
    import sqlalchemy as sa

    await asyncio.to_thread(migrate, empty_url, "0007")
    now = datetime.now(UTC)
    ids = {k: uuid.uuid4() for k in ("patient", "plan", "revision", "session", "obs", "alert")}
    tables = models.Base.metadata.tables
    engine = create_engine(make_settings(empty_url))
    async with engine.begin() as conn:
        await conn.execute(
            tables["patients"].insert(),
            {
                "id": ids["patient"],
                "mrn": f"M-{ids['patient'].hex[:8]}",
                "given_name": "Ana",
                "family_name": "Ruiz",
                "birth_date": date(1984, 3, 9),
                "sex": "female",
                "version": 1,
                "created_at": now,
                "updated_at": now,
            },
        )
        await conn.execute(
            tables["dosing_plans"].insert(),
            {
                "id": ids["plan"],
                "patient_id": ids["patient"],
                "status": "active",
                "current_revision": 1,
                "version": 1,
                "created_at": now,
            },
        )
        await conn.execute(
            tables["dosing_plan_revisions"].insert(),
            {
                "id": ids["revision"],
                "plan_id": ids["plan"],
                "revision": 1,
                "medication": "ketamine",
                "route": "im",
                "indication": "trd",
                "dose_mg": 40,
                "max_dose_mg": 60,
                "min_monitoring_minutes": 60,
                "thresholds": {},
                "created_at": now,
            },
        )
        await conn.execute(
            tables["treatment_sessions"].insert(),
            {
                "id": ids["session"],
                "patient_id": ids["patient"],
                "plan_id": ids["plan"],
                "plan_revision": 1,
                "status": "scheduled",
                "scheduled_at": now,
                "dose_capped": False,
                "version": 1,
                "created_at": now,
            },
        )
        await conn.execute(
            tables["observations"].insert(),
            {
                "id": ids["obs"],
                "session_id": ids["session"],
                "code": "spo2",
                "value": 85,
                "unit": "%",
                "original_value": 85,
                "original_unit": "%",
                "measured_at": now,
                "status": "final",
                "source": "user:x",
                "recorded_at": now,
            },
        )
        await conn.execute(
            sa.text(
                "INSERT INTO alerts (id, session_id, observation_id, kind, severity, status, "
                "message, created_at) VALUES (:id, :session, :obs, 'spo2_low', 'critical', "
                "'open', 'SpO2 85%', :now)"
            ).bindparams(
                sa.bindparam("id", type_=sa.Uuid()),
                sa.bindparam("session", type_=sa.Uuid()),
                sa.bindparam("obs", type_=sa.Uuid()),
                sa.bindparam("now", type_=models.base.UTCDateTime()),
            ),
            {"id": ids["alert"], "session": ids["session"], "obs": ids["obs"], "now": now},
        )
        if empty_url.startswith("postgresql"):  # what the driver used to store for year 1
            await conn.execute(sa.text("UPDATE observations SET measured_at = '-infinity'"))
    await engine.dispose()

    await asyncio.to_thread(migrate, empty_url)
    engine = create_engine(make_settings(empty_url))
    try:
        async with engine.connect() as conn:
            alert = tables["alerts"]
            assert (await conn.execute(sa.select(alert.c.patient_id))).scalar_one() == ids[
                "patient"
            ]
            obs = tables["observations"]
            measured, status = (
                await conn.execute(sa.select(obs.c.measured_at, obs.c.status))
            ).one()
            if empty_url.startswith("postgresql"):
                assert measured == datetime(1970, 1, 1, tzinfo=UTC)
                assert status == "entered-in-error"
            else:
                assert status == "final"
    finally:
        await engine.dispose()
    await asyncio.to_thread(migrate, empty_url, "0007", down=True)
    await asyncio.to_thread(migrate, empty_url)
