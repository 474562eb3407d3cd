"""The schema comes only from Alembic: no drift, reversible, and the app refuses a stale one."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
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

# Columns added by 0008: a table written at an earlier revision leaves them out.
ADDED_IN_0008 = {
    "treatment_sessions": {
        "baseline_systolic_bp",
        "baseline_diastolic_bp",
        "baseline_heart_rate",
        "discharge_type",
        "responsible_clinician_id",
    },
    "session_transitions": {"unmet"},
    "dosing_plan_revisions": {"course_phase", "min_interval_hours"},
}


def table_before_0008(name: str) -> sa.TableClause:
    """The table as revision 0007 left it (the model's columns without 0008's)."""
    skip = ADDED_IN_0008.get(name, set())
    model = models.Base.metadata.tables[name]
    return sa.table(name, *(sa.column(c.name, c.type) for c in model.columns if c.name not in skip))


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
            table_before_0008("dosing_plan_revisions").insert(),
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
        await _insert(
            conn,
            "treatment_sessions",
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


async def _insert(conn: Any, name: str, row: dict[str, Any]) -> None:
    """Insert ``row`` naming only its own columns: an older schema lacks the newer ones."""
    import sqlalchemy as sa

    columns = models.Base.metadata.tables[name].columns
    await conn.execute(sa.table(name, *(sa.column(k, columns[k].type) for k in row)).insert(), row)


async def test_waste_recorded_before_0009_reads_not_confirmed(empty_url: str) -> None:
    """SPEC §10: waste recorded before witnesses confirmed it reads ``not_confirmed`` (and blocks
    nothing); waste-free doses have no witness status; sessions read
    ``basis_limited_to_actual`` false; plans written before keep their content. Reversible."""
    import sqlalchemy as sa

    await asyncio.to_thread(migrate, empty_url, "0007")
    now = datetime.now(UTC)
    ids = {name: uuid.uuid4() for name in ("patient", "plan", "revision", "session")}
    wasted, clean = uuid.uuid4(), uuid.uuid4()
    engine = create_engine(make_settings(empty_url))
    async with engine.begin() as conn:
        await _insert(
            conn,
            "patients",
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
        await _insert(
            conn,
            "dosing_plans",
            {
                "id": ids["plan"],
                "patient_id": ids["patient"],
                "status": "active",
                "current_revision": 1,
                "version": 1,
                "created_at": now,
            },
        )
        # 5 mg/kg: far outside today's usual range, and still readable after the upgrade
        await _insert(
            conn,
            "dosing_plan_revisions",
            {
                "id": ids["revision"],
                "plan_id": ids["plan"],
                "revision": 1,
                "medication": "ketamine",
                "route": "iv_infusion",
                "indication": "trd",
                "dose_mg_per_kg": 5.0,
                "weight_basis": "actual",
                "infusion_minutes": 5,
                "max_dose_mg": 400,
                "min_monitoring_minutes": 0,
                "thresholds": {},
                "created_at": now,
            },
        )
        await _insert(
            conn,
            "treatment_sessions",
            {
                "id": ids["session"],
                "patient_id": ids["patient"],
                "plan_id": ids["plan"],
                "plan_revision": 1,
                "status": "monitoring",
                "scheduled_at": now,
                "dose_capped": False,
                "version": 1,
                "created_at": now,
            },
        )
        for dose_id, waste in ((wasted, 14.0), (clean, None)):
            await _insert(
                conn,
                "administrations",
                {
                    "id": dose_id,
                    "session_id": ids["session"],
                    "medication": "ketamine",
                    "route": "iv_infusion",
                    "dose_mg": 36,
                    "started_at": now,
                    "lot_number": "OLD-1",
                    "wasted_mg": waste,
                    "waste_witness_id": "someone-else" if waste else None,
                    "exceeds_planned_dose": False,
                    "administered_by": "someone",
                    "recorded_at": now,
                },
            )
    await engine.dispose()

    async def state() -> tuple[dict[object, object], object, object]:
        tables = models.Base.metadata.tables
        engine = create_engine(make_settings(empty_url))
        try:
            async with engine.connect() as conn:
                a = tables["administrations"]
                rows = await conn.execute(sa.select(a.c.id, a.c.witness_status, a.c.witnessed_at))
                witness = {row[0]: (row[1], row[2]) for row in rows}
                s = tables["treatment_sessions"]
                limited = await conn.scalar(sa.select(s.c.basis_limited_to_actual))
                r = tables["dosing_plan_revisions"]
                per_kg = await conn.scalar(sa.select(r.c.dose_mg_per_kg))
                return witness, limited, per_kg
        finally:
            await engine.dispose()

    expected = ({wasted: ("not_confirmed", None), clean: (None, None)}, False, 5.0)
    await asyncio.to_thread(migrate, empty_url)
    assert await state() == expected
    await asyncio.to_thread(migrate, empty_url, "0007", down=True)
    await asyncio.to_thread(migrate, empty_url)
    assert await state() == expected


async def test_sessions_in_every_status_survive_the_upgrade_to_0008(
    empty_url: str, tmp_path: object
) -> None:
    """SPEC §10 "Upgrading a running clinic": a database at 0007 holding a session in every
    status upgrades to head and reads over HTTP; sessions already checked in keep the revision
    they pinned, scheduled ones show (and will pin at check-in) the plan's current revision;
    sessions that started dosing get the baseline that counted then; nothing else changes."""
    from datetime import timedelta

    from tests.conftest import ADMIN_PASSWORD, STAFF_PASSWORD, login

    await asyncio.to_thread(migrate, empty_url, "0007")
    now = datetime.now(UTC).replace(microsecond=0)
    tables = models.Base.metadata.tables
    statuses = (
        "scheduled",
        "checked_in",
        "dosing",
        "monitoring",
        "discharged",
        "cancelled",
        "transferred",
    )
    observations = sa.table(
        "observations",
        *(
            sa.column(name, tables["observations"].c[name].type)
            for name in (
                "id",
                "session_id",
                "code",
                "value",
                "unit",
                "original_value",
                "original_unit",
                "measured_at",
                "status",
                "source",
                "recorded_at",
            )
        ),
    )
    sessions: dict[str, uuid.UUID] = {}
    engine = create_engine(make_settings(empty_url))
    async with engine.begin() as conn:
        for status in statuses:
            patient_id, plan_id, session_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
            sessions[status] = session_id
            await conn.execute(
                tables["patients"].insert(),
                {
                    "id": patient_id,
                    "mrn": f"M-{patient_id.hex[:8]}",
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
                    "id": plan_id,
                    "patient_id": patient_id,
                    "status": "active",
                    "current_revision": 2,
                    "version": 2,
                    "created_at": now,
                },
            )
            for revision, dose in ((1, 40), (2, 30)):
                await conn.execute(
                    table_before_0008("dosing_plan_revisions").insert(),
                    {
                        "id": uuid.uuid4(),
                        "plan_id": plan_id,
                        "revision": revision,
                        "medication": "ketamine",
                        "route": "im",
                        "indication": "trd",
                        "dose_mg": dose,
                        "max_dose_mg": 60,
                        "min_monitoring_minutes": 60,
                        "thresholds": {},
                        "created_at": now,
                    },
                )
            checked_in = status not in ("scheduled",)
            dosed = status in ("dosing", "monitoring", "discharged", "transferred")
            started = now - timedelta(minutes=90)
            await conn.execute(
                table_before_0008("treatment_sessions").insert(),
                {
                    "id": session_id,
                    "patient_id": patient_id,
                    "plan_id": plan_id,
                    "plan_revision": 1,
                    "status": status,
                    "scheduled_at": now - timedelta(hours=3),
                    "checked_in_at": now - timedelta(hours=2) if checked_in else None,
                    "dosing_started_at": started if dosed else None,
                    "dosing_ended_at": now - timedelta(minutes=60)
                    if status in ("monitoring", "discharged", "transferred")
                    else None,
                    "ended_at": now - timedelta(minutes=5)
                    if status in ("discharged", "cancelled", "transferred")
                    else None,
                    "weight_kg": 80 if checked_in else None,
                    "planned_dose_mg": 40 if checked_in else None,
                    "dose_capped": False,
                    "version": 3,
                    "created_at": now - timedelta(hours=4),
                },
            )
            if dosed:
                for code, value, minutes in (
                    ("systolic_bp", 150, 110),  # outside the 30 minutes before dosing
                    ("systolic_bp", 118, 95),
                    ("diastolic_bp", 74, 95),
                    ("heart_rate", 72, 95),
                    ("systolic_bp", 160, 60),  # after dosing start
                ):
                    await conn.execute(
                        observations.insert().values(
                            id=uuid.uuid4(),
                            session_id=session_id,
                            code=code,
                            value=value,
                            unit="mm[Hg]" if code != "heart_rate" else "/min",
                            original_value=value,
                            original_unit="mm[Hg]" if code != "heart_rate" else "/min",
                            measured_at=now - timedelta(minutes=minutes),
                            status="final",
                            source="user:migration-test",
                            recorded_at=now,
                        )
                    )
    await engine.dispose()

    await asyncio.to_thread(migrate, empty_url)
    assert await _diff(empty_url) == []
    app = create_app(
        make_settings(empty_url, bootstrap_admin_password=ADMIN_PASSWORD),
    )
    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            admin = (await login(c, "admin", ADMIN_PASSWORD)).json()["access_token"]
            r = await c.post(
                "/v1/users",
                json={
                    "username": "dr-upgrade",
                    "password": STAFF_PASSWORD,
                    "role": "clinician",
                    "display_name": "Dr Upgrade",
                },
                headers={"Authorization": f"Bearer {admin}"},
            )
            assert r.status_code == 201, r.text
            token = (await login(c, "dr-upgrade", STAFF_PASSWORD)).json()["access_token"]
            c.headers["Authorization"] = f"Bearer {token}"
            for status, session_id in sessions.items():
                r = await c.get(f"/v1/sessions/{session_id}")
                assert r.status_code == 200, (status, r.text)
                record = r.json()
                assert record["status"] == status
                assert record["discharge_type"] is None
                assert record["responsible_clinician"] is None
                if status == "scheduled":
                    assert (record["plan_revision"], record["pinned_revision"]) == (2, None)
                else:
                    assert (record["plan_revision"], record["pinned_revision"]) == (1, 1)
                    assert record["planned_dose_mg"] == 40
                dosed = status in ("dosing", "monitoring", "discharged", "transferred")
                expected = (
                    {"systolic_bp": 118, "diastolic_bp": 74, "heart_rate": 72}
                    if dosed
                    else {"systolic_bp": None, "diastolic_bp": None, "heart_rate": None}
                )
                assert record["baseline"] == expected, status
                r = await c.get(f"/v1/sessions/{session_id}/readiness")
                assert r.status_code == 200, (status, r.text)
            # the scheduled session pins the current revision at its check-in
            r = await c.post(
                f"/v1/sessions/{sessions['scheduled']}/transitions",
                json={"to": "checked_in", "weight_kg": 80},
            )
            assert r.status_code == 200, r.text
            assert (r.json()["plan_revision"], r.json()["planned_dose_mg"]) == (2, 30)
            # the checked-in one keeps revision 1 until re-pinned
            r = await c.get(f"/v1/sessions/{sessions['checked_in']}/readiness")
            assert "plan_changed" in [u["code"] for u in r.json()["dosing"]["unmet"]]

    await asyncio.to_thread(migrate, empty_url, "0007", down=True)
    await asyncio.to_thread(migrate, empty_url)
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
                "INSERT INTO patients (id, mrn, mrn_key, given_name, family_name, birth_date, "
                "sex, version, created_at, updated_at) VALUES ($1, 'M-inf', 'm-inf', 'A', 'B', "
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
        await _insert(
            conn,
            "patients",
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
        await _insert(
            conn,
            "dosing_plans",
            {
                "id": ids["plan"],
                "patient_id": ids["patient"],
                "status": "active",
                "current_revision": 1,
                "version": 1,
                "created_at": now,
            },
        )
        await _insert(
            conn,
            "dosing_plan_revisions",
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
        await _insert(
            conn,
            "treatment_sessions",
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
        await _insert(
            conn,
            "observations",
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
