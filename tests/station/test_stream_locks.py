"""A live stream holds no database transaction or lock between events, on either database
(issue 22: every SQLite write answered 503 for 30 s while streams were being relayed).

Ten streams stay open against a real server process: some read slowly (a tiny receive buffer,
never drained, so the server blocks sending to them), some read normally, some are reset
abruptly (TCP RST) over and over, some mid-event. Meanwhile readings are written in batches
and sessions are moved along their timeline; every write must succeed promptly, far inside
SQLite's 30-second busy timeout, which is what a stream holding a lock would cost.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import time
from datetime import timedelta
from typing import Any

import httpx
import pytest

from tests.api.safety_helpers import checked_in_session, dosing_session
from tests.factories import ago, iso, now, prepare_dosing, transition
from tests.live import staff_headers
from tests.station.conftest import Served

pytestmark = pytest.mark.slow

# A write that waited on a stream's lock would take 30 s, then answer 503 (checked too); the
# bound leaves a loaded 2-core CI room below that.
PROMPT_SECONDS = 20.0
READINGS_PER_POST = 200


async def _open_stream(
    served: Served, path: str, authorization: str, *, rcvbuf: int | None = None
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", served.server.port))
    reader, writer = await asyncio.open_connection(sock=sock, limit=2**20)
    writer.write(
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: {authorization}\r\n"
        "Accept: text/event-stream\r\n\r\n".encode()
    )
    await writer.drain()
    await asyncio.wait_for(reader.readuntil(b"event: heartbeat"), 20)
    return reader, writer


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with a TCP RST, as a browser tab that is killed or a network that drops."""
    sock = writer.get_extra_info("socket")
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


async def _timed(
    label: str, request: Any, durations: list[tuple[str, float, int]]
) -> httpx.Response:
    started = time.monotonic()
    response: httpx.Response = await request
    durations.append((label, time.monotonic() - started, response.status_code))
    return response


def _batch(start_minutes_ago: float, count: int) -> list[dict[str, Any]]:
    base = ago(start_minutes_ago)
    return [
        {
            "code": "heart_rate",
            "value": 70 + (i % 20),
            "unit": "/min",
            "measured_at": iso(base + timedelta(seconds=i)),
        }
        for i in range(count)
    ]


async def test_open_streams_hold_no_lock_while_others_write(served: Served) -> None:
    async with httpx.AsyncClient(base_url=served.base_url, timeout=60) as c:
        c.headers.update(await staff_headers(c, "clinician"))
        authorization = c.headers["Authorization"]
        writing = [await dosing_session(c, dosing_at=30) for _ in range(2)]
        waiting = [await checked_in_session(c, at=20) for _ in range(2)]

        slow = [
            await _open_stream(served, "/v1/events", authorization, rcvbuf=2048) for _ in range(4)
        ] + [
            await _open_stream(
                served, f"/v1/sessions/{writing[0]['id']}/events", authorization, rcvbuf=2048
            )
        ]
        normal = [await _open_stream(served, "/v1/events", authorization) for _ in range(2)]
        received: list[int] = [0, 0]

        async def drain(index: int, reader: asyncio.StreamReader) -> None:
            while chunk := await reader.read(65536):
                received[index] += chunk.count(b"event: reading")

        drains = [asyncio.create_task(drain(i, r)) for i, (r, _) in enumerate(normal)]
        stop = asyncio.Event()
        resets = 0

        async def keep_resetting(path: str, *, mid_event: bool) -> None:
            nonlocal resets
            while not stop.is_set():
                reader, writer = await _open_stream(served, path, authorization)
                if mid_event:  # wait for the first bytes of an event, then cut it
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(reader.readuntil(b"event: reading"), 5)
                _reset(writer)
                resets += 1

        resetters = [
            asyncio.create_task(keep_resetting("/v1/events", mid_event=False)),
            asyncio.create_task(keep_resetting("/v1/events", mid_event=True)),
            asyncio.create_task(
                keep_resetting(f"/v1/sessions/{writing[1]['id']}/events", mid_event=True)
            ),
        ]  # 5 slow + 2 normal + 3 being reset: ten streams at any moment
        durations: list[tuple[str, float, int]] = []
        try:
            for round_ in range(6):
                for session in writing:
                    r = await _timed(
                        "readings",
                        c.post(
                            f"/v1/sessions/{session['id']}/vitals",
                            json={"observations": _batch(25 - round_ * 3.5, READINGS_PER_POST)},
                        ),
                        durations,
                    )
                    assert r.status_code == 201, r.text
            for session in waiting:
                at = now()
                r = await c.post(
                    f"/v1/sessions/{session['id']}/vitals",
                    json={
                        "observations": [
                            {"code": code, "value": v, "unit": u, "measured_at": iso(at)}
                            for code, v, u in (
                                ("systolic_bp", 122, "mm[Hg]"),
                                ("diastolic_bp", 78, "mm[Hg]"),
                                ("heart_rate", 72, "/min"),
                                ("spo2", 98, "%"),
                            )
                        ]
                    },
                )
                assert r.status_code == 201, r.text
                await prepare_dosing(c, session["id"], at)
                r = await _timed(
                    "transition", transition(c, session["id"], "dosing", at=at), durations
                )
                assert r.status_code == 200, r.text
            for session in writing:
                r = await _timed(
                    "transition",
                    transition(c, session["id"], "monitoring", at=now(), reason="stopped early"),
                    durations,
                )
                assert r.status_code == 200, r.text
            r = await _timed(
                "transition",
                c.post(
                    f"/v1/sessions/{waiting[0]['id']}/transitions",
                    json={"to": "transferred", "reason": "emergency transfer drill"},
                ),
                durations,
            )
            assert r.status_code == 200, r.text
        finally:
            stop.set()
            await asyncio.gather(*resetters, return_exceptions=True)
            for _, writer in slow + normal:
                _reset(writer)
            await asyncio.gather(*drains, return_exceptions=True)

        slowest = max(durations, key=lambda d: d[1])
        assert slowest[1] < PROMPT_SECONDS, durations
        assert all(status < 300 for _, _, status in durations)
        assert resets >= 3
        # the streams really were relaying: the normal readers saw every reading event
        assert min(received) >= len(writing) * 6 * READINGS_PER_POST, received
        # and the server still answers at once afterwards, with no stream left holding anything
        r = await _timed(
            "readings",
            c.post(
                f"/v1/sessions/{writing[0]['id']}/vitals",
                json={"observations": _batch(1, 1)},
            ),
            durations,
        )
        assert r.status_code == 201
        assert durations[-1][1] < PROMPT_SECONDS
