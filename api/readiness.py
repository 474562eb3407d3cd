"""Is the database reachable and migrated to head? The app serves nothing else until it is."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

log = logging.getLogger("vigil.readiness")
ROOT = Path(__file__).resolve().parent.parent


def alembic_config() -> Config:
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "migrations"))
    return config


def head_revisions() -> set[str]:
    return set(ScriptDirectory.from_config(alembic_config()).get_heads())


@dataclass
class Readiness:
    engine: AsyncEngine
    ready: bool = False
    reason: str = "not checked yet"
    heads: set[str] = field(default_factory=head_revisions)
    _last_check: float = 0.0

    async def check(self) -> bool:
        self._last_check = time.monotonic()
        try:
            async with self.engine.connect() as conn:
                rows = (await conn.execute(text("SELECT version_num FROM alembic_version"))).all()
        except Exception as exc:  # any failure means not ready; say which kind
            self.ready = False
            self.reason = f"database not reachable or not migrated ({type(exc).__name__})"
            return False
        current = {r[0] for r in rows}
        if current != self.heads:
            self.ready = False
            self.reason = (
                f"database schema at {sorted(current) or 'nothing'}, code expects "
                f"{sorted(self.heads)}: run `alembic upgrade head`"
            )
            return False
        self.ready, self.reason = True, "ok"
        return True

    async def recheck(self) -> bool:
        """Re-check at most once a second while not ready (the hot path never calls this)."""
        if time.monotonic() - self._last_check < 1.0:
            return self.ready
        return await self.check()
