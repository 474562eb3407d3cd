"""A small, bounded asyncio load generator (aiohttp: its client costs the shared cores about a
third of what httpx's does per request, so less of the machine goes to the measuring).

``run_load`` keeps ``connections`` requests in flight until ``max_requests`` were sent or
``max_seconds`` passed, whichever comes first, and reports throughput and latency percentiles.
Only 127.0.0.1 targets are allowed: this tool never points at anything but the local server.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import aiohttp


@dataclass(frozen=True, slots=True)
class Reply:
    status_code: int


class LoadClient:
    """Keep-alive connections (at most ``connections``) to one local server, with httpx-like
    ``post``/``get``. Every response body is read in full."""

    def __init__(self, base_url: str, connections: int, headers: dict[str, str]) -> None:
        self._session = aiohttp.ClientSession(
            base_url=local_only(base_url),
            headers=headers,
            connector=aiohttp.TCPConnector(limit=connections),
            timeout=aiohttp.ClientTimeout(total=30),
        )

    async def post(self, path: str, *, content: bytes, headers: dict[str, str]) -> Reply:
        async with self._session.post(path, data=content, headers=headers) as response:
            await response.read()
            return Reply(response.status)

    async def get(self, path: str) -> Reply:
        async with self._session.get(path) as response:
            await response.read()
            return Reply(response.status)

    async def __aenter__(self) -> LoadClient:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self._session.close()


Request = Callable[[LoadClient, int], Awaitable[Reply]]


@dataclass
class LoadResult:
    name: str
    connections: int
    requests: int = 0
    ok: int = 0
    seconds: float = 0.0
    items_per_request: int = 1
    latencies_ms: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    client_cpu_seconds: float = 0.0
    server_cpu_seconds: float | None = None
    database_cpu_seconds: float | None = None

    def percentile(self, p: float) -> float:
        if not self.latencies_ms:
            return float("nan")
        ordered = sorted(self.latencies_ms)
        index = min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))
        return ordered[index]

    @property
    def requests_per_second(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0

    @property
    def items_per_second(self) -> float:
        return self.requests_per_second * self.items_per_request

    def summary(self) -> dict[str, object]:
        return {
            "name": self.name,
            "connections": self.connections,
            "requests": self.requests,
            "ok": self.ok,
            "seconds": round(self.seconds, 3),
            "requests_per_second": round(self.requests_per_second, 1),
            "items_per_request": self.items_per_request,
            "items_per_second": round(self.items_per_second, 1),
            "p50_ms": round(self.percentile(50), 2),
            "p90_ms": round(self.percentile(90), 2),
            "p99_ms": round(self.percentile(99), 2),
            "max_ms": round(max(self.latencies_ms), 2) if self.latencies_ms else None,
            "client_cpu_ms_per_request": round(1000 * self.client_cpu_seconds / self.ok, 2)
            if self.ok
            else None,
            "server_cpu_ms_per_request": round(1000 * self.server_cpu_seconds / self.ok, 2)
            if self.ok and self.server_cpu_seconds is not None
            else None,
            "database_cpu_ms_per_request": round(1000 * self.database_cpu_seconds / self.ok, 2)
            if self.ok and self.database_cpu_seconds is not None
            else None,
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "errors": dict(self.errors),
        }


def process_group_cpu_seconds(pgid: int) -> float:
    """User + system CPU of every live process in a process group (Linux /proc)."""
    import os
    from pathlib import Path

    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:  # field 5 of stat: process group
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


def postgres_cpu_seconds() -> float:
    """CPU (user + system) PostgreSQL has used on this machine: every live server process
    (backends, WAL writer, checkpointer ...) plus, through the postmaster's children totals,
    those that already exited (autovacuum workers, closed connections)."""
    import os
    from pathlib import Path

    ticks = os.sysconf("SC_CLK_TCK")
    procs: dict[int, tuple[int, list[str]]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            head, rest = stat.read_text().rsplit(")", 1)
        except OSError:
            continue
        if head.split("(", 1)[1] == "postgres":
            fields = rest.split()
            procs[int(stat.parent.name)] = (int(fields[1]), fields)  # (parent pid, fields)
    total = 0
    for parent, fields in procs.values():
        total += int(fields[11]) + int(fields[12])  # utime, stime
        if parent not in procs:  # the postmaster: add its reaped children
            total += int(fields[13]) + int(fields[14])  # cutime, cstime
    return total / ticks


def local_only(base_url: str) -> str:
    host = urlsplit(base_url).hostname
    if host != "127.0.0.1":
        raise ValueError(f"the load generator only targets 127.0.0.1, not {host!r}")
    return base_url


def client_for(base_url: str, connections: int, headers: dict[str, str]) -> LoadClient:
    return LoadClient(base_url, connections, headers)


async def run_load(
    name: str,
    base_url: str,
    headers: dict[str, str],
    request: Request,
    *,
    connections: int,
    max_requests: int,
    max_seconds: float,
    expect: int,
    items_per_request: int = 1,
    warmup: int = 0,
    server_cpu: Callable[[], float] | None = None,
) -> LoadResult:
    result = LoadResult(name=name, connections=connections, items_per_request=items_per_request)
    async with client_for(base_url, connections, headers) as client:
        # Warm-up: open the connections and let every server worker reach steady state.
        if warmup:
            await asyncio.gather(
                *(request(client, -1 - i) for i in range(min(warmup, connections)))
            )
        issued = 0
        deadline = time.monotonic() + max_seconds

        async def worker() -> None:
            nonlocal issued
            while issued < max_requests and time.monotonic() < deadline:
                i = issued
                issued += 1
                started = time.perf_counter()
                try:
                    response = await request(client, i)
                except (aiohttp.ClientError, TimeoutError) as exc:
                    result.errors[type(exc).__name__] += 1
                    continue
                elapsed = (time.perf_counter() - started) * 1000
                result.statuses[response.status_code] += 1
                if response.status_code == expect:
                    result.ok += 1
                    result.latencies_ms.append(elapsed)

        cpu_before = time.process_time()
        server_before = server_cpu() if server_cpu else None
        database_before = postgres_cpu_seconds()
        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(connections)))
        result.seconds = time.perf_counter() - started
        result.client_cpu_seconds = time.process_time() - cpu_before
        if server_cpu is not None and server_before is not None:
            result.server_cpu_seconds = server_cpu() - server_before
        result.database_cpu_seconds = postgres_cpu_seconds() - database_before
        result.requests = issued
    return result


async def run_paced(
    name: str,
    base_url: str,
    headers: dict[str, str],
    request: Request,
    *,
    connections: int,
    rate: float,
    max_requests: int,
    max_seconds: float,
    expect: int,
    warmup: int = 0,
    server_cpu: Callable[[], float] | None = None,
) -> LoadResult:
    """Open-loop load: request i is due at ``start + i / rate``, sent by whichever of the
    ``connections`` clients is free. Latency counts from when the request was due, not from
    when a client got round to sending it, so a server that falls behind is charged for the
    wait (no "coordinated omission"). This is how devices behave: they send on their own clock
    and do not slow down because the server is slow."""
    result = LoadResult(name=name, connections=connections)
    count = max(1, min(max_requests, int(rate * max_seconds)))
    async with client_for(base_url, connections, headers) as client:
        if warmup:
            await asyncio.gather(
                *(request(client, -1 - i) for i in range(min(warmup, connections)))
            )
        loop = asyncio.get_running_loop()
        issued = 0
        start = loop.time() + 0.05

        async def worker() -> None:
            nonlocal issued
            while issued < count:
                i = issued
                issued += 1
                due = start + i / rate
                delay = due - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                try:
                    response = await request(client, i)
                except (aiohttp.ClientError, TimeoutError) as exc:
                    result.errors[type(exc).__name__] += 1
                    continue
                result.statuses[response.status_code] += 1
                if response.status_code == expect:
                    result.ok += 1
                    result.latencies_ms.append((loop.time() - due) * 1000)

        cpu_before = time.process_time()
        server_before = server_cpu() if server_cpu else None
        database_before = postgres_cpu_seconds()
        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(connections)))
        result.seconds = time.perf_counter() - started
        result.client_cpu_seconds = time.process_time() - cpu_before
        if server_cpu is not None and server_before is not None:
            result.server_cpu_seconds = server_cpu() - server_before
        result.database_cpu_seconds = postgres_cpu_seconds() - database_before
        result.requests = issued
    return result
