"""vitals_overdue: raised by the server itself, once per gap, resolved by the next BP or the end
of the session; vitals_due_at in readiness and on the session record (SPEC §6).

No test sleeps: the scan is run directly with a fixed ``now``, or the background task is run
with a fake clock and waited on with a deadline.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from api.alerts.overdue import OverdueWatch, scan_overdue
from api.main import create_app
from tests.api.safety_helpers import ESKETAMINE_PLAN, checked_in_session, dosing_session, ok
from tests.conftest import Backend, make_settings
from tests.factories import ago, iso, now, post_vitals, transition, vital


async def overdue_alerts(client: httpx.AsyncClient, sid: str) -> list[dict[str, Any]]:
    page = await ok(await client.get(f"/v1/sessions/{sid}/alerts", params={"limit": 500}))
    return [a for a in page["items"] if a["kind"] == "vitals_overdue"]


def bp(at: datetime, systolic: float = 124, diastolic: float = 80) -> list[dict[str, Any]]:
    return [
        vital("systolic_bp", systolic, "mm[Hg]", at),
        vital("diastolic_bp", diastolic, "mm[Hg]", at),
    ]


async def test_the_background_task_raises_it_with_no_request_arriving(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    session = await dosing_session(client, dosing_at=10)  # no BP since dosing started
    sid = session["id"]
    started = datetime.fromisoformat(
        (await ok(await client.get(f"/v1/sessions/{sid}")))["dosing_started_at"]
    )
    clock = {"now": started + timedelta(minutes=14)}  # not yet overdue
    watch = OverdueWatch(app.state.session_factory, 0.01, clock=lambda: clock["now"])
    await watch.start()
    try:
        assert await overdue_alerts(client, sid) == []
        # Time passes; nothing is sent to the server. The task's own scans raise the alert.
        clock["now"] = started + timedelta(minutes=15, seconds=1)
        await watch.wait_for_scans(watch.scans + 2, within_seconds=20)
    finally:
        await watch.stop()
    [alert] = await overdue_alerts(client, sid)
    assert alert["severity"] == "warning"
    assert alert["status"] == "open"
    assert alert["observation_id"] is None
    assert alert["patient_id"] == session["patient_id"]
    assert alert["gap_started_at"] == iso(started)
    assert "Take a blood pressure now" in alert["message"]
    assert "(dosing started)" in alert["message"]


async def test_the_app_runs_the_scan_in_its_lifespan_and_stops_it(backend: Backend) -> None:
    application = create_app(make_settings(backend.url, vitals_scan_seconds=0.01))
    async with LifespanManager(application):
        watch = application.state.overdue_watch
        assert watch is not None
        await watch.wait_for_scans(3, within_seconds=20)
        task = watch._task
        assert task is not None
        assert not task.done()
    assert task.cancelled()
    assert watch._task is None


async def test_once_per_gap_and_the_next_bp_resolves_it(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    session = await dosing_session(client, dosing_at=40)
    sid = session["id"]
    factory = app.state.session_factory
    fixed = now()
    await scan_overdue(factory, fixed)
    await scan_overdue(factory, fixed + timedelta(minutes=1))  # the same gap: nothing new
    [alert] = await overdue_alerts(client, sid)
    assert alert["status"] == "open"

    measured = fixed - timedelta(minutes=1)
    await ok(await post_vitals(client, sid, bp(measured)), 201)
    [alert] = await overdue_alerts(client, sid)
    assert alert["status"] == "resolved"
    assert alert["resolved_at"] is not None
    assert "blood pressure measured" in alert["resolution"]

    # The new gap starts at that BP: not overdue until 15 minutes after it.
    await scan_overdue(factory, measured + timedelta(minutes=14))
    assert len(await overdue_alerts(client, sid)) == 1
    await scan_overdue(factory, measured + timedelta(minutes=16))
    alerts = await overdue_alerts(client, sid)
    assert len(alerts) == 2
    assert "(the last blood pressure)" in alerts[0]["message"]


async def test_a_session_that_ends_resolves_its_own(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    session = await dosing_session(client, dosing_at=40)
    sid = session["id"]
    await scan_overdue(app.state.session_factory, now())
    [alert] = await overdue_alerts(client, sid)
    assert alert["status"] == "open"
    await ok(await transition(client, sid, "transferred", reason="to the emergency department"))
    [alert] = await overdue_alerts(client, sid)
    assert alert["status"] == "resolved"
    assert alert["resolution"] == "session transferred"
    # an ended session is not watched
    await scan_overdue(app.state.session_factory, now() + timedelta(hours=1))
    assert len(await overdue_alerts(client, sid)) == 1


async def test_vitals_due_at_in_readiness_and_on_the_record(client: httpx.AsyncClient) -> None:
    session = await dosing_session(client, dosing_at=10)
    sid = session["id"]
    record = await ok(await client.get(f"/v1/sessions/{sid}"))
    started = datetime.fromisoformat(record["dosing_started_at"])
    expected = iso(started + timedelta(minutes=15))
    assert record["vitals_due_at"] == expected
    ready = await ok(await client.get(f"/v1/sessions/{sid}/readiness"))
    assert ready["vitals_due_at"] == expected
    measured = ago(2)
    await ok(await post_vitals(client, sid, bp(measured)), 201)
    ready = await ok(await client.get(f"/v1/sessions/{sid}/readiness"))
    assert ready["vitals_due_at"] == iso(measured + timedelta(minutes=15))

    checked_in = await checked_in_session(client)
    ready = await ok(await client.get(f"/v1/sessions/{checked_in['id']}/readiness"))
    assert ready["vitals_due_at"] is None


async def test_esketamine_40_minute_bp_is_due_by_the_50th_minute(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    # A 30-minute interval: only the esketamine window makes a BP due by minute 50.
    plan = {
        **ESKETAMINE_PLAN,
        "thresholds": {"vitals_interval_minutes": 30},
        "thresholds_reason": "BP every 30 min by the prescriber, for this patient",
    }
    session = await dosing_session(client, dosing_at=60, **plan)
    sid = session["id"]
    record = await ok(await client.get(f"/v1/sessions/{sid}"))
    started = datetime.fromisoformat(record["dosing_started_at"])
    await ok(await post_vitals(client, sid, bp(started + timedelta(minutes=25))), 201)
    ready = await ok(await client.get(f"/v1/sessions/{sid}/readiness"))
    # interval: 25 + 30 = minute 55; the window closes at minute 50
    assert ready["vitals_due_at"] == iso(started + timedelta(minutes=50))
    factory = app.state.session_factory
    await scan_overdue(factory, started + timedelta(minutes=49))
    assert await overdue_alerts(client, sid) == []
    await scan_overdue(factory, started + timedelta(minutes=50, seconds=1))
    [alert] = await overdue_alerts(client, sid)
    assert "40-minute blood pressure" in alert["message"]
