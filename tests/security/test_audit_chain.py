"""The audit trail is tamper-evident on both databases (a hash chain, ``vigil audit verify``),
and on PostgreSQL the application's role cannot rewrite it or switch its trigger off."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from api.audit_chain import GENESIS, check, row_hash, verify
from api.cli import main
from api.config import get_settings
from api.db import create_engine, create_session_factory
from api.precommit import queue_audit
from tests.conftest import Backend, make_settings, migrate
from tests.factories import create_patient


def _rows(n: int) -> list[dict[str, Any]]:
    rows, prev = [], GENESIS
    for seq in range(1, n + 1):
        row: dict[str, Any] = {
            "id": uuid.uuid4(),
            "action": "read",
            "resource_type": "patient",
            "outcome": "success",
            "seq": seq,
            "prev_hash": prev,
        }
        row["hash"] = prev = row_hash(seq, prev, row)
        rows.append(row)
    return rows


def test_check_names_the_first_broken_row() -> None:
    rows = _rows(5)
    assert check(rows, (5, rows[-1]["hash"])).broken is None
    changed = [dict(r) for r in rows]
    changed[2]["outcome"] = "denied"
    broken = check(changed, None).broken
    assert broken is not None
    assert broken.seq == 3
    assert "changed" in broken.reason
    removed = rows[:2] + rows[3:]
    broken = check(removed, None).broken
    assert broken is not None
    assert broken.seq == 3
    assert "removed" in broken.reason
    broken = check(rows[:4], (5, rows[-1]["hash"])).broken  # the last row removed
    assert broken is not None
    assert broken.seq == 5


async def _verify(url: str) -> Any:
    engine = create_engine(make_settings(url))
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(verify)
    finally:
        await engine.dispose()


async def test_the_live_chain_verifies_after_concurrent_writes(
    backend: Backend, client: httpx.AsyncClient, nurse_client: httpx.AsyncClient
) -> None:
    patient = await create_patient(client)
    # Reads and writes in flight together, each appending audit rows.
    await asyncio.gather(
        *(
            c.get(f"/v1/patients/{patient['id']}")
            for c in (client, nurse_client)
            for _ in range(10)
        ),
        *(create_patient(nurse_client, screening=False) for _ in range(5)),
    )
    verdict = await _verify(backend.owner_url)
    assert verdict.broken is None, str(verdict.broken)
    assert verdict.rows > 20


async def test_the_app_role_cannot_touch_audit_rows_or_the_trigger(
    backend: Backend, app: object
) -> None:
    if not backend.is_postgres:
        pytest.skip("roles are PostgreSQL's")
    engine = app.state.engine  # type: ignore[attr-defined]
    for statement in (
        "UPDATE audit_events SET outcome = 'x'",
        "DELETE FROM audit_events",
        "TRUNCATE audit_events",
        "ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only",
        "DROP TRIGGER audit_events_append_only ON audit_events",
        "ALTER TABLE audit_events DROP COLUMN hash",
        "UPDATE alembic_version SET version_num = 'x'",
    ):
        with pytest.raises(DBAPIError, match=r"permission denied|must be owner"):
            async with engine.begin() as conn:
                await conn.execute(text(statement))
    async with engine.begin() as conn:  # what it may do: append and read
        assert await conn.scalar(text("SELECT count(*) FROM audit_events")) > 0


def _tamper(url: str, statements: list[str]) -> None:
    async def run() -> None:
        engine = create_engine(make_settings(url))
        try:
            async with engine.begin() as conn:
                for statement in statements:
                    await conn.execute(text(statement))
        finally:
            await engine.dispose()

    asyncio.run(run())


def test_vigil_audit_verify_names_the_first_changed_row(
    tmp_path: object, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """On SQLite, where anyone with the file can write it: the chain shows the change."""
    url = f"sqlite+aiosqlite:///{tmp_path}/audit.db"
    migrate(url)
    monkeypatch.setenv("DATABASE_URL", url)
    get_settings.cache_clear()
    monkeypatch.setattr("sys.stdin", __import__("io").StringIO("quiet-harbour-lantern-77\n"))
    assert main(["users", "create", "--username", "kim", "--role", "nurse"]) == 0
    assert main(["users", "disable", "kim"]) == 0
    assert main(["users", "enable", "kim"]) == 0
    capsys.readouterr()
    assert main(["audit", "verify"]) == 0
    assert "3 audit rows" in capsys.readouterr().out
    _tamper(url, ["UPDATE audit_events SET action = 'read' WHERE seq = 2"])
    assert main(["audit", "verify"]) == 1
    err = capsys.readouterr().err
    assert "audit row 2" in err
    assert "changed" in err


async def test_a_changed_row_is_found_on_postgres_even_by_the_owner(backend: Backend) -> None:
    """The owner can switch the trigger off; the chain still shows what was done."""
    if not backend.is_postgres:
        pytest.skip("the owner role is PostgreSQL's")
    name = f"vigil_chain_{uuid.uuid4().hex[:8]}"
    from tests.conftest import PG_SERVER_URL
    from tests.live import create_database, drop_database

    assert PG_SERVER_URL
    url = await create_database(PG_SERVER_URL, name)
    try:
        await asyncio.to_thread(migrate, url)
        engine = create_engine(make_settings(url))
        try:
            async with create_session_factory(engine)() as db:
                queue_audit(db, [_event() for _ in range(4)])
                await db.commit()
        finally:
            await engine.dispose()
        assert (await _verify(url)).broken is None
        await asyncio.to_thread(
            _tamper,
            url,
            [
                "ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only",
                "DELETE FROM audit_events WHERE seq = 3",
                "ALTER TABLE audit_events ENABLE TRIGGER audit_events_append_only",
            ],
        )
        broken = (await _verify(url)).broken
        assert broken is not None
        assert broken.seq == 3
        assert "removed" in broken.reason
    finally:
        await drop_database(PG_SERVER_URL, name)


def _event() -> dict[str, Any]:
    from models.base import utcnow

    return {
        "id": uuid.uuid4(),
        "at": utcnow(),
        "actor_id": "test",
        "role": None,
        "action": "read",
        "resource_type": "patient",
        "resource_id": None,
        "patient_id": None,
        "client_address": None,
        "request_id": None,
        "outcome": "success",
        "detail": None,
    }
