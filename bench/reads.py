"""The read scenarios: the session record, its timeline page (closed loop, then paced) and a
patient's session history, each on ``BENCH_READ_CONNECTIONS`` connections."""

from __future__ import annotations

from typing import Any

from bench.config import PACED_SHARE, READ_CONNECTIONS, READ_REQUESTS, SECONDS, SERVER_CPU
from bench.load import LoadClient, LoadResult, Reply, run_load, run_paced


async def read_phases(
    base_url: str, headers: dict[str, str], world: dict[str, Any], label: str
) -> dict[str, LoadResult]:
    sid, pid = world["timeline_session"], world["history_patient"]
    paths = {
        "session_record": f"/v1/sessions/{sid}",
        "timeline_vitals_500": f"/v1/sessions/{sid}/vitals?limit=500",
        "history_list": f"/v1/sessions?patient_id={pid}",
    }
    names = {
        "session_record": "GET /v1/sessions/{id}",
        "timeline_vitals_500": "GET /v1/sessions/{id}/vitals?limit=500",
        "history_list": "GET /v1/sessions?patient_id=",
    }
    out = {}
    for key, path in paths.items():

        async def get(client: LoadClient, _: int, path: str = path) -> Reply:
            return await client.get(path)

        out[key] = closed = await run_load(
            f"{names[key]} ({label})",
            base_url,
            headers,
            get,
            connections=READ_CONNECTIONS,
            max_requests=READ_REQUESTS,
            max_seconds=SECONDS,
            expect=200,
            warmup=READ_CONNECTIONS,
            server_cpu=SERVER_CPU[0],
        )
        if key == "timeline_vitals_500":
            out[f"{key}_paced"] = await run_paced(
                f"{names[key]} ({label}), paced at {PACED_SHARE:.0%} of the maximum above",
                base_url,
                headers,
                get,
                connections=READ_CONNECTIONS,
                rate=PACED_SHARE * closed.requests_per_second,
                max_requests=READ_REQUESTS,
                max_seconds=SECONDS,
                expect=200,
                warmup=READ_CONNECTIONS,
                server_cpu=SERVER_CPU[0],
            )
    return out
