"""The device simulator and the integration sub-commands."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from api.cli import build_parser
from api.config import get_settings
from api.integrations.cli import _local_api
from api.integrations.simulator import Monitor, simulate
from tests.factories import ago
from tests.integrations.helpers import bound_session


async def test_the_simulator_pushes_drifting_readings_once_each(
    client: httpx.AsyncClient,
    nurse_client: httpx.AsyncClient,
    admin_client: httpx.AsyncClient,
    integration_client: httpx.AsyncClient,
) -> None:
    session, device = await bound_session(client, nurse_client, admin_client)
    start = ago(10)
    ticks = iter(start + timedelta(minutes=i) for i in range(100))
    lines: list[str] = []
    monitor = Monitor(device=device["identifier"], session=session["id"], rng=random.Random(7))
    accepted = await simulate(
        integration_client,
        monitor,
        interval=0,
        count=4,
        report=lines.append,
        clock=lambda: next(ticks),
    )
    stored = (await client.get(f"/v1/sessions/{session['id']}/vitals")).json()["items"]
    assert accepted == len(stored) > 8
    codes = {o["code"] for o in stored}
    assert {"heart_rate", "spo2", "systolic_bp", "diastolic_bp", "respiratory_rate"} <= codes
    assert all(45 <= o["value"] <= 130 for o in stored if o["code"] == "heart_rate")
    assert not any("rejected" in line and "rejected 0" not in line for line in lines)

    again = Monitor(device=device["identifier"], session=session["id"], rng=random.Random(7))
    replay = iter(start + timedelta(minutes=i) for i in range(100))
    assert (
        await simulate(
            integration_client,
            again,
            interval=0,
            count=1,
            report=lines.append,
            clock=lambda: next(replay),
        )
        == 0
    )  # the same tick again: every reading is a duplicate (external_id)


def test_the_cli_has_mllp_and_simulate() -> None:
    parser = build_parser()
    args = parser.parse_args(["mllp", "--client", "ward-2", "--port", "2576"])
    assert (args.client, args.port, args.host) == ("ward-2", 2576, "127.0.0.1")
    args = parser.parse_args(["simulate", "--session", "s", "--device", "d", "--count", "2"])
    assert (args.session, args.device, args.count) == ("s", "d", 2)


def test_a_reading_is_measured_when_it_is_taken_not_at_the_second_before() -> None:
    # Rounded down to the second, a push right after check-in was measured before it.
    now = datetime(2026, 11, 27, 4, 3, 2, 750000, tzinfo=UTC)
    readings = Monitor(device="d", session="s", rng=random.Random(1)).readings(now)
    assert {r["measured_at"] for r in readings} == {"2026-11-27T04:03:02.750000Z"}


def test_the_simulator_posts_to_this_hosts_api_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIGIL_PORT", "18555")
    monkeypatch.setenv("VIGIL_HOST", "0.0.0.0")
    get_settings.cache_clear()
    assert _local_api() == "http://127.0.0.1:18555"
    args = build_parser().parse_args(["simulate", "--session", "s", "--device", "d"])
    assert args.base_url is None  # resolved to _local_api() when it runs
