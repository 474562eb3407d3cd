"""``vigil simulate``: a bedside monitor pushing realistic readings for one session.

Heart rate and SpO2 every push (``--interval`` seconds), non-invasive BP every few minutes
(``--bp-minutes``), respiratory rate every minute, each drifting slowly (a random walk pulled
back toward a resting value), pushed through
``POST /v1/integrations/observations``, so someone new can watch a session live
(``GET /v1/sessions/{id}/events``). Every reading carries an ``external_id``, so a resent batch
is answered ``duplicate`` and never stored twice.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx


@dataclass
class Drift:
    """A value that wanders around ``rest`` within [low, high]."""

    rest: float
    step: float
    low: float
    high: float
    value: float = field(default=0.0)

    def __post_init__(self) -> None:
        self.value = self.rest

    def next(self, rng: random.Random) -> float:
        pull = (self.rest - self.value) * 0.1
        self.value = min(self.high, max(self.low, self.value + pull + rng.gauss(0, self.step)))
        return self.value


@dataclass
class Monitor:
    device: str
    session: str
    bp_every: timedelta = timedelta(minutes=3)  # a cuff cycles every few minutes
    rr_every: timedelta = timedelta(minutes=1)
    rng: random.Random = field(default_factory=random.Random)
    last_bp: datetime | None = None
    last_rr: datetime | None = None
    heart_rate: Drift = field(default_factory=lambda: Drift(74, 1.5, 45, 130))
    spo2: Drift = field(default_factory=lambda: Drift(97.5, 0.4, 90, 100))
    systolic: Drift = field(default_factory=lambda: Drift(126, 3, 95, 175))
    diastolic: Drift = field(default_factory=lambda: Drift(79, 2, 55, 105))
    respiratory_rate: Drift = field(default_factory=lambda: Drift(14, 0.6, 9, 24))

    def readings(self, now: datetime) -> list[dict[str, Any]]:
        # The clock as it is: rounded down to the second, a first push sent right after
        # check-in could be measured before it and be refused.
        at = now.astimezone(UTC)
        stamp = at.strftime("%Y%m%dT%H%M%SZ")

        def item(code: str, value: float, unit: str) -> dict[str, Any]:
            return {
                "code": code,
                "value": round(value, 1 if code == "spo2" else 0),
                "unit": unit,
                "measured_at": at.isoformat().replace("+00:00", "Z"),
                "external_id": f"sim:{self.device}:{stamp}:{code}",
            }

        out = [
            item("heart_rate", self.heart_rate.next(self.rng), "/min"),
            item("spo2", self.spo2.next(self.rng), "%"),
        ]
        if self.last_rr is None or at - self.last_rr >= self.rr_every:
            self.last_rr = at
            out.append(item("respiratory_rate", self.respiratory_rate.next(self.rng), "/min"))
        if self.last_bp is None or at - self.last_bp >= self.bp_every:
            self.last_bp = at
            systolic = self.systolic.next(self.rng)
            diastolic = min(self.diastolic.next(self.rng), systolic - 20)
            out += [
                item("systolic_bp", systolic, "mm[Hg]"),
                item("diastolic_bp", diastolic, "mm[Hg]"),
            ]
        return out


async def simulate(
    client: httpx.AsyncClient,
    monitor: Monitor,
    *,
    interval: float,
    count: int | None,
    report: Callable[[str], None] = print,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> int:
    """Push one batch per ``interval`` seconds (``count`` batches, or forever). Returns how many
    readings were accepted."""
    accepted = 0
    sent = 0
    while count is None or sent < count:
        batch = monitor.readings(clock())
        try:
            r = await client.post(
                "/v1/integrations/observations",
                json={"device": monitor.device, "observations": batch},
            )
        except httpx.HTTPError as exc:
            report(f"push failed ({type(exc).__name__}); retrying next tick")
        else:
            if r.status_code != 200:
                report(f"push refused: {r.status_code} {r.text[:300]}")
            else:
                body = r.json()
                accepted += body["accepted"]
                summary = ", ".join(f"{i['code']} {i['value']:g}" for i in batch)
                report(
                    f"{summary}: accepted {body['accepted']}, duplicate {body['duplicates']}, "
                    f"rejected {body['rejected']}"
                )
                for result in body["results"]:
                    if result["status"] == "rejected":
                        report(f"  rejected: {result['reason']}: {result['detail']}")
        sent += 1
        if count is None or sent < count:
            await asyncio.sleep(interval)
    return accepted


async def run(
    *,
    base_url: str,
    api_key: str | None,
    session: str,
    device: str,
    interval: float,
    count: int | None,
    bp_minutes: float = 3.0,
) -> int:
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    print(
        f"simulating device {device} for session {session} against {base_url} "
        f"(watch: GET /v1/sessions/{session}/events); Ctrl-C stops",
        flush=True,
    )
    async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=10) as client:
        await simulate(
            client,
            Monitor(device=device, session=session, bp_every=timedelta(minutes=bp_minutes)),
            interval=interval,
            count=count,
            report=lambda line: print(line, flush=True),
        )
    return 0
