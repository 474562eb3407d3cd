"""Keep-alive connections kept even over the workers (api/balance.py): the fair-share rule, the
one-at-a-time release, and the ``Connection: close`` the middleware adds."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from starlette.types import Receive, Scope, Send

from api import balance
from api.balance import Balancer, ConnectionBalanceMiddleware, over_fair_share


@pytest.mark.parametrize(
    ("own", "counts", "over"),
    [
        (6, [6, 2], True),
        (5, [5, 3], True),
        (4, [4, 4], False),
        (5, [5, 4], False),  # 9 over 2 workers: 5 is the share, rounded up
        (1, [1, 0], False),  # one connection does not bounce between the workers
        (2, [2, 0], True),
        (3, [3, 3, 2], False),
        (4, [4, 2, 2], True),
        (0, [0, 0], False),
    ],
)
def test_a_worker_is_over_its_share_when_it_holds_more_than_the_rounded_up_mean(
    own: int, counts: list[int], over: bool
) -> None:
    assert over_fair_share(own, counts) is over


def test_a_worker_publishes_its_count_and_releases_one_connection_per_interval() -> None:
    counts = [0, 2]
    held = [6]
    balancer = Balancer(counts, 0, lambda: held[0], interval=0.1)
    assert balancer.should_release(now=10.0)
    assert counts == [6, 2]  # published, for the other workers to see
    assert not balancer.should_release(now=10.05)  # one at a time
    assert balancer.should_release(now=10.1)
    held[0] = 4
    counts[1] = 4
    assert not balancer.should_release(now=11.0)  # even now
    assert counts == [4, 4]


def test_the_count_published_is_this_workers_own_not_a_stale_one() -> None:
    counts = [9, 3]  # slot 0 still holds what an earlier moment published
    balancer = Balancer(counts, 0, lambda: 3)
    assert not balancer.should_release(now=1.0)
    assert counts == [3, 3]


async def _app(scope: Scope, receive: Receive, send: Send) -> None:
    stream = scope["path"] == "/stream"
    content_type = b"text/event-stream" if stream else b"application/json"
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-type", content_type)]}
    )
    await send({"type": "http.response.body", "body": b"{}"})


@pytest.fixture
def installed() -> Iterator[list[int]]:
    """This process as worker 0 of two, holding 5 connections against the other's 1."""
    counts = [0, 1]
    balance.install(Balancer(counts, 0, lambda: 5, interval=0.0))
    try:
        yield counts
    finally:
        balance.install(None)


async def _get(path: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=ConnectionBalanceMiddleware(_app))
    async with httpx.AsyncClient(transport=transport, base_url="http://vigil") as client:
        return await client.get(path)


async def test_a_worker_over_its_share_closes_the_connection_after_the_response(
    installed: list[int],
) -> None:
    response = await _get("/v1/anything")
    assert response.status_code == 200
    assert response.headers["connection"] == "close"
    assert response.json() == {}
    assert installed == [5, 1]


async def test_an_event_stream_is_not_the_connection_let_go(installed: list[int]) -> None:
    response = await _get("/stream")
    assert "connection" not in response.headers


async def test_without_a_supervisor_every_response_keeps_its_connection() -> None:
    response = await _get("/v1/anything")
    assert "connection" not in response.headers
