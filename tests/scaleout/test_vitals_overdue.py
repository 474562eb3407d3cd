"""Two server processes on one PostgreSQL raise one vitals_overdue per gap (SPEC §6).

Sessions overdue for a blood pressure are made through a first server with the scan off; then
two servers with the scan on are started at the same moment. Each scans once while starting
(before it answers /readyz) and then every 0.2 s, so their scans overlap; the database's
UNIQUE (session_id, gap_started_at) leaves one alert per session whichever wins. No request
about these sessions reaches the scanning servers before the alerts are counted.
"""

from __future__ import annotations

import asyncio

import httpx
import pytest

from tests.faults.conftest import NEEDS_POSTGRES, pg_url  # noqa: F401  (fixture)
from tests.faults.races import count_rows
from tests.live import LiveServer, dosing_session, staff_headers, wait_until

pytestmark = [pytest.mark.slow, NEEDS_POSTGRES]

SESSIONS = 6
SQL = "SELECT count(*) FROM alerts WHERE kind = 'vitals_overdue' AND session_id = ANY($1::uuid[])"


async def test_two_processes_raise_one_alert_per_gap(pg_url: str) -> None:  # noqa: F811
    with LiveServer(pg_url) as setup:
        async with httpx.AsyncClient(base_url=setup.base_url, timeout=20) as c:
            c.headers.update(await staff_headers(c, "clinician"))
            sids = [(await dosing_session(c, minutes_ago=40))["id"] for _ in range(SESSIONS)]
    assert await count_rows(pg_url, SQL, sids) == 0  # nothing raises it with the scan off

    scanning = {"VIGIL_VITALS_SCAN_SECONDS": "0.2"}
    servers = [LiveServer(pg_url, env=scanning), LiveServer(pg_url, env=scanning)]
    await asyncio.gather(*(asyncio.to_thread(s.start) for s in servers))
    try:
        # Both have scanned at start-up; wait for the alerts (and further scans) to settle.
        async def all_raised() -> bool:
            return await count_rows(pg_url, SQL, sids) >= SESSIONS

        assert await wait_until(all_raised, 30)
        # A later gap on a new session, raised by whichever scans first, proves both kept
        # scanning meanwhile at least once more.
        async with httpx.AsyncClient(base_url=servers[0].base_url, timeout=20) as c:
            c.headers.update(await staff_headers(c, "clinician"))
            late = (await dosing_session(c, minutes_ago=40))["id"]

        async def late_raised() -> bool:
            return await count_rows(pg_url, SQL, [late]) >= 1

        assert await wait_until(late_raised, 30)
        per_session = (
            "SELECT count(*) FROM (SELECT session_id FROM alerts "
            "WHERE kind = 'vitals_overdue' AND session_id = ANY($1::uuid[]) "
            "GROUP BY session_id HAVING count(*) > 1) AS twice"
        )
        assert await count_rows(pg_url, per_session, [*sids, late]) == 0
        assert await count_rows(pg_url, SQL, [*sids, late]) == SESSIONS + 1
    finally:
        await asyncio.gather(*(asyncio.to_thread(s.stop) for s in servers))
