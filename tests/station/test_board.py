"""SPEC §13: the day board, in a fixed number of queries; several statuses in one filter."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import event

from tests.api.safety_helpers import (
    ESKETAMINE_PLAN,
    checked_in_session,
    dosing_session,
    monitoring_session,
    ok,
    ready_to_discharge,
)
from tests.factories import ago, create_patient, create_plan, iso, now, post_vitals, vital


def _day(session: dict[str, Any]) -> str:
    """The clinic day (UTC in the tests) the session is scheduled on."""
    return str(datetime.fromisoformat(session["scheduled_at"]).astimezone(UTC).date())


async def _board(c: httpx.AsyncClient, day: str) -> dict[str, Any]:
    return await ok(await c.get("/v1/board", params={"date": day}))


def _row(board: dict[str, Any], session_id: str) -> dict[str, Any]:
    rows = [r for r in board["sessions"] if r["session_id"] == session_id]
    assert len(rows) == 1, board
    return rows[0]


async def test_board_row_carries_what_the_station_shows(
    client: httpx.AsyncClient, nurse_client: httpx.AsyncClient
) -> None:
    patient = await create_patient(client, given_name="Marta", family_name="Quispe")
    plan = await create_plan(client, patient["id"])
    session = await monitoring_session(client, plan=plan)
    sid = session["id"]
    at = ago(4)
    await ok(
        await post_vitals(
            client,
            sid,
            [
                vital("systolic_bp", 131, "mm[Hg]", at),
                vital("diastolic_bp", 84, "mm[Hg]", at),
                vital("spo2", 88, "%", at),  # critical
            ],
        ),
        201,
    )
    board = await _board(nurse_client, _day(session))
    row = _row(board, sid)
    record = await ok(await client.get(f"/v1/sessions/{sid}"))
    assert row["patient"]["name"] == "Marta Quispe"
    assert row["patient"]["mrn"] == patient["mrn"]
    assert row["location"] == "chair-3"
    assert row["status"] == "monitoring"
    assert row["medication"] == "ketamine"
    assert row["planned_dose_mg"] == record["planned_dose_mg"] == 40
    generated = datetime.fromisoformat(board["generated_at"])
    dosing = datetime.fromisoformat(record["dosing_started_at"])
    assert row["minutes_since_first_dose"] == int((generated - dosing).total_seconds() // 60)
    assert row["latest_vitals"]["systolic_bp"]["value"] == 131
    assert row["latest_vitals"]["spo2"] == {"value": 88, "unit": "%", "measured_at": iso(at)}
    assert row["latest_vitals"]["heart_rate"]["value"] == 72  # the pre-dose one, still latest
    assert row["open_alerts"] == {"critical": 1, "warning": 0}
    assert row["vitals_due_at"] == iso(at + timedelta(minutes=15))
    readiness = await ok(await client.get(f"/v1/sessions/{sid}/readiness"))
    assert row["discharge"]["ready"] is False
    assert row["discharge"]["first_unmet"] == readiness["discharge"]["unmet"][0]["message"]
    assert row["discharge"]["unmet_count"] == len(readiness["discharge"]["unmet"])
    assert isinstance(board["patient_alerts"], list)


async def test_board_discharge_agrees_with_readiness(client: httpx.AsyncClient) -> None:
    """The board's batch evaluation gives what /readiness gives, session by session: the
    discharge gate and when the next blood pressure is due (esketamine's 40-minute BP too)."""
    sessions = [await monitoring_session(client) for _ in range(3)]
    sessions.append(await dosing_session(client, dosing_at=20, **ESKETAMINE_PLAN))
    await ready_to_discharge(client, sessions[0]["id"])
    await ok(
        await post_vitals(client, sessions[1]["id"], [vital("heart_rate", 130, "/min", ago(2))]),
        201,
    )
    for session in sessions:
        readiness = await ok(await client.get(f"/v1/sessions/{session['id']}/readiness"))
        row = _row(await _board(client, _day(session)), session["id"])
        unmet = readiness["discharge"]["unmet"]
        if session["id"] != sessions[-1]["id"]:  # the board judges discharge in monitoring
            assert row["discharge"]["ready"] is readiness["discharge"]["ready"]
            assert row["discharge"]["unmet_count"] == len(unmet)
            assert row["discharge"]["first_unmet"] == (unmet[0]["message"] if unmet else None)
        due = readiness["vitals_due_at"]
        assert row["vitals_due_at"] is not None
        assert due is not None
        assert datetime.fromisoformat(row["vitals_due_at"]) == datetime.fromisoformat(due)
    assert _row(await _board(client, _day(sessions[0])), sessions[0]["id"])["discharge"]["ready"]


async def test_board_not_in_monitoring_has_no_discharge_or_due_time(
    client: httpx.AsyncClient,
) -> None:
    session = await checked_in_session(client)
    row = _row(await _board(client, _day(session)), session["id"])
    assert row["status"] == "checked_in"
    assert row["discharge"] is None
    assert row["vitals_due_at"] is None
    assert row["minutes_since_first_dose"] is None
    assert row["open_alerts"] == {"critical": 0, "warning": 0}


async def test_board_lists_the_day_asked_for(client: httpx.AsyncClient) -> None:
    patient = await create_patient(client)
    plan = await create_plan(client, patient["id"])
    later = now() + timedelta(days=3)
    r = await client.post(
        "/v1/sessions",
        json={
            "patient_id": patient["id"],
            "dosing_plan_id": plan["id"],
            "scheduled_at": iso(later),
            "location": "chair-9",
        },
    )
    session = await ok(r, 201)
    assert _row(await _board(client, str(later.date())), session["id"])["status"] == "scheduled"
    earlier = str((later - timedelta(days=1)).date())
    assert session["id"] not in [
        r["session_id"] for r in (await _board(client, earlier))["sessions"]
    ]
    # the server reads its own clock: bracket it, so a run across midnight cannot fail
    before = datetime.now(UTC).date()
    default_day = (await ok(await client.get("/v1/board")))["date"]
    assert default_day in {str(before), str(datetime.now(UTC).date())}


async def test_board_refuses_a_date_that_is_not_a_calendar_date(
    client: httpx.AsyncClient,
) -> None:
    for bad in ("2026-13-01", "1764547200", "2026-12-01T00:00:00Z", "today"):
        r = await client.get("/v1/board", params={"date": bad})
        assert r.status_code == 422, bad
        assert r.json()["errors"][0]["loc"] == ["query", "date"]


async def test_board_roles(
    nurse_client: httpx.AsyncClient,
    admin_client: httpx.AsyncClient,
    integration_client: httpx.AsyncClient,
    anon_client: httpx.AsyncClient,
) -> None:
    assert (await nurse_client.get("/v1/board")).status_code == 200
    assert (await admin_client.get("/v1/board")).status_code == 403
    assert (await integration_client.get("/v1/board")).status_code == 403
    assert (await anon_client.get("/v1/board")).status_code == 401


async def test_board_takes_a_fixed_number_of_queries(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    """However many sessions the day has, the board is the same few statements."""
    first = await monitoring_session(client)
    day = _day(first)
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(str(args[2]))

    engine = app.state.engine.sync_engine

    async def board_statements() -> int:
        statements.clear()
        event.listen(engine, "before_cursor_execute", count)
        try:
            await _board(client, day)
        finally:
            event.remove(engine, "before_cursor_execute", count)
        return len(statements)

    before = await board_statements()
    for _ in range(3):
        session = await monitoring_session(client)
        await ok(await post_vitals(client, session["id"], [vital("spo2", 97, "%", ago(1))]), 201)
    await checked_in_session(client)
    assert await board_statements() == before


async def test_sessions_filter_takes_several_statuses(client: httpx.AsyncClient) -> None:
    patient = await create_patient(client)
    plan = await create_plan(client, patient["id"])
    checked = await checked_in_session(client, plan=plan)
    await ok(
        await client.post(
            f"/v1/sessions/{checked['id']}/transitions",
            json={"to": "cancelled", "reason": "unwell"},
        )
    )
    scheduled = await checked_in_session(client, plan=plan)
    params = {"patient_id": patient["id"]}
    both = await ok(
        await client.get("/v1/sessions", params={**params, "status": "checked_in,cancelled"})
    )
    assert {s["id"] for s in both["items"]} == {checked["id"], scheduled["id"]}
    one = await ok(await client.get("/v1/sessions", params={**params, "status": "cancelled"}))
    assert [s["id"] for s in one["items"]] == [checked["id"]]
    r = await client.get("/v1/sessions", params={"status": "cancelled,asleep"})
    assert r.status_code == 422
    assert r.json()["errors"][0]["loc"] == ["query", "status"]
    assert "asleep" in r.json()["errors"][0]["msg"]


async def test_minutes_since_first_dose_count_from_the_first_administration(
    client: httpx.AsyncClient,
) -> None:
    session = await dosing_session(client, dosing_at=150)
    sid = session["id"]
    first = ago(140)
    for started in (first, ago(120)):
        r = await client.post(
            f"/v1/sessions/{sid}/administrations",
            json={
                "medication": "ketamine",
                "route": "iv_infusion",
                "dose_mg": 10,
                "started_at": iso(started),
                "lot_number": "KET-24-0917",
            },
        )
        await ok(r, 201)
    board = await _board(client, _day(session))
    row = _row(board, sid)
    generated = datetime.fromisoformat(board["generated_at"])
    assert datetime.fromisoformat(row["first_dose_at"]) == first
    assert row["minutes_since_first_dose"] == int((generated - first).total_seconds() // 60)
