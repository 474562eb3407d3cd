"""The bench's knobs (``BENCH_*`` environment variables, read once at import) and where it
writes its results. bench/README.md lists them."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"


def _env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


# PostgreSQL on this host is reached over its Unix socket when it has one, as a single-host
# install should connect (TCP loopback measured about 15% fewer single posts a second here);
# the raw baseline uses the same connection, so the ratio compares like with like.
PG_SOCKET_DIR = Path("/var/run/postgresql")
SERVER_URL = os.environ.get(
    "BENCH_DATABASE_URL",
    f"postgresql+asyncpg://postgres@/postgres?host={PG_SOCKET_DIR}"
    if (PG_SOCKET_DIR / ".s.PGSQL.5432").exists()
    else "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres",
)
SCALES = [int(s) for s in os.environ.get("BENCH_SCALES", "100000,10000000").split(",") if s]
WORKERS = _env_int("BENCH_WORKERS", 2)
SECONDS = float(os.environ.get("BENCH_SECONDS", "15"))
BATCH_SIZE = 100
BATCH_CONNECTIONS = _env_int("BENCH_BATCH_CONNECTIONS", 16)
BATCH_REQUESTS = _env_int("BENCH_BATCH_REQUESTS", 800)
SINGLE_CONNECTIONS = _env_int("BENCH_SINGLE_CONNECTIONS", 32)
SINGLE_REQUESTS = _env_int("BENCH_SINGLE_REQUESTS", 6000)
READ_CONNECTIONS = _env_int("BENCH_READ_CONNECTIONS", 8)
READ_REQUESTS = _env_int("BENCH_READ_REQUESTS", 2000)
INGEST_SESSIONS = _env_int("BENCH_INGEST_SESSIONS", 64)
HISTORY_SESSIONS = 24
P99_TARGET_MS = 50.0
# Open-loop phases send at this share of the closed-loop maximum measured just before.
PACED_SHARE = float(os.environ.get("BENCH_PACED_SHARE", "0.5"))
# BENCH_READS=0: ingest and the raw limit only (a quick loop while working on ingest)
READS = os.environ.get("BENCH_READS", "1") != "0"
KEEP_DB = bool(os.environ.get("BENCH_KEEP_DB"))
# CPU seconds used so far by the server's process group (set once the server runs).
SERVER_CPU: list[Callable[[], float] | None] = [None]
