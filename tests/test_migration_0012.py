"""Migration 0012 on a database with data: MRNs that differ only in case are both kept
readable, new ones conflict; audit rows written before are chained and verify."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa

from api.audit_chain import verify
from api.db import create_engine
from api.patients.mrn import mrn_key
from tests.conftest import PG_SERVER_URL, make_settings, migrate
from tests.live import create_database, drop_database

BACKENDS = ["sqlite"] + (["postgresql"] if PG_SERVER_URL else [])


@pytest.fixture(params=BACKENDS)
async def empty_url(request: pytest.FixtureRequest, tmp_path: object) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path}/m.db"
        return
    assert PG_SERVER_URL
    name = f"vigil_m12_{uuid.uuid4().hex[:10]}"
    url = await create_database(PG_SERVER_URL, name)
    yield url
    await drop_database(PG_SERVER_URL, name)


_PATIENTS_0007 = sa.table(
    "patients",
    sa.column("id", sa.Uuid()),
    sa.column("mrn", sa.String()),
    sa.column("given_name", sa.String()),
    sa.column("family_name", sa.String()),
    sa.column("birth_date", sa.Date()),
    sa.column("sex", sa.String()),
    sa.column("version", sa.Integer()),
    sa.column("created_at", sa.DateTime(timezone=True)),
    sa.column("updated_at", sa.DateTime(timezone=True)),
)
_AUDIT_0007 = sa.table(
    "audit_events",
    sa.column("id", sa.Uuid()),
    sa.column("at", sa.DateTime(timezone=True)),
    sa.column("action", sa.String()),
    sa.column("resource_type", sa.String()),
    sa.column("outcome", sa.String()),
)
_PATIENTS = sa.table("patients", sa.column("id", sa.Uuid()), sa.column("mrn"), sa.column("mrn_key"))


async def test_upgrade_keeps_case_duplicates_readable_and_chains_old_audit_rows(
    empty_url: str,
) -> None:
    await asyncio.to_thread(migrate, empty_url, "0007")
    now = datetime.now(UTC).replace(microsecond=0)
    first, second, third = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    engine = create_engine(make_settings(empty_url))
    try:
        async with engine.begin() as conn:
            for pid, mrn, age in ((first, "ab-1", 3), (second, "AB-1", 2), (third, "Straße-9", 1)):
                await conn.execute(
                    _PATIENTS_0007.insert(),
                    {
                        "id": pid,
                        "mrn": mrn,
                        "given_name": "Ana",
                        "family_name": "Ruiz",
                        "birth_date": date(1984, 3, 9),
                        "sex": "female",
                        "version": 1,
                        "created_at": now - timedelta(minutes=age),
                        "updated_at": now,
                    },
                )
            for i in range(3):
                await conn.execute(
                    _AUDIT_0007.insert(),
                    {
                        "id": uuid.uuid4(),
                        "at": now + timedelta(seconds=i),
                        "action": "read",
                        "resource_type": "patient",
                        "outcome": "success",
                    },
                )
        await asyncio.to_thread(migrate, empty_url)
        async with engine.connect() as conn:
            keys = dict((await conn.execute(sa.select(_PATIENTS.c.id, _PATIENTS.c.mrn_key))).all())
            verdict = await conn.run_sync(verify)
        assert keys == {first: "ab-1", second: f"ab-1#{second}", third: "strasse-9"}
        assert verdict.broken is None
        assert verdict.rows == 3
        with pytest.raises(sa.exc.IntegrityError):
            async with engine.begin() as conn:
                await conn.execute(
                    sa.table(
                        "patients",
                        *(sa.column(c.name, c.type) for c in _PATIENTS_0007.c),
                        sa.column("mrn_key"),
                    ).insert(),
                    {
                        "mrn_key": mrn_key("STRASSE-9"),
                        "id": uuid.uuid4(),
                        "mrn": "STRASSE-9",
                        "given_name": "Ana",
                        "family_name": "Ruiz",
                        "birth_date": date(1984, 3, 9),
                        "sex": "female",
                        "version": 1,
                        "created_at": now,
                        "updated_at": now,
                    },
                )
        # and back, and up again, with the data in place
        await asyncio.to_thread(migrate, empty_url, "0007", down=True)
        await asyncio.to_thread(migrate, empty_url)
        async with engine.connect() as conn:
            assert (await conn.run_sync(verify)).broken is None
    finally:
        await engine.dispose()


def test_mrn_keys_fold_case_the_unicode_way() -> None:
    assert mrn_key("Straße-1") == mrn_key("STRASSE-1") == "strasse-1"
    assert mrn_key("ÁB-2") == mrn_key("áb-2") == mrn_key("a\u0301b-2")
    assert mrn_key("ΣΑ-3") == mrn_key("σα-3")
    assert mrn_key("A-1") != mrn_key("A-2")
