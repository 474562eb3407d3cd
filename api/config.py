"""One typed settings object, read from the environment (``VIGIL_*`` and ``DATABASE_URL``)."""

from __future__ import annotations

import secrets
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from api.clinical.checklist import DEFAULT_NPO
from api.clinical.thresholds import DEFAULT_THRESHOLDS

DEFAULT_SQLITE_URL = "sqlite+aiosqlite:///./var/vigil.db"
PLACEHOLDER_SECRETS = {"", "changeme", "change-me", "secret", "placeholder", "dev"}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="VIGIL_", extra="ignore")

    environment: Literal["development", "production", "test"] = "development"
    database_url: str = Field(
        default=DEFAULT_SQLITE_URL,
        validation_alias=AliasChoices("DATABASE_URL", "VIGIL_DATABASE_URL"),
    )
    # PostgreSQL connections per process: opened as requests need them, kept once open, at most
    # db_pool_size + db_max_overflow. No overflow by default: SQLAlchemy closes an overflow
    # connection as soon as it comes back to a full pool, so load that hovers above the pool size
    # opens and closes connections all the time (a backend started and its statements prepared
    # each time). Measured at 16 requests in flight per process: the cheapest request served
    # 21% more per second with 20 + 0 than with 10 + 10.
    db_pool_size: int = Field(default=20, ge=1)
    db_max_overflow: int = Field(default=0, ge=0)
    # Seconds to wait for a new database connection / for a free pooled one: when PostgreSQL is
    # unreachable a request fails fast with 503 instead of hanging (asyncpg's default is 60 s).
    db_connect_timeout: float = 5.0
    db_pool_timeout: float = 10.0
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    # a worker whose event loop has not answered for this long is replaced (several workers)
    worker_timeout_seconds: float = Field(default=30.0, gt=0)
    secret_key: str = ""
    secret_key_file: Path = Path("var/secret_key")
    token_ttl_minutes: int = 480
    bootstrap_admin_password: str | None = None
    login_max_failures: int = 5
    login_lockout_minutes: int = 15
    clinic_tz: str = "UTC"
    max_body_bytes: int = 2_000_000
    # readings per vitals or device-push request; the API's schema caps it at 1,000
    max_batch_observations: int = Field(default=1000, ge=1, le=1000)
    future_tolerance_seconds: int = 120
    thresholds: dict[str, float] = Field(default_factory=lambda: dict(DEFAULT_THRESHOLDS))
    log_level: str = "INFO"
    # live events (the SSE outbox, copies of what changed) older than this are pruned hourly;
    # 0 keeps them all
    live_event_retention_days: int = Field(default=7, ge=0)
    # SPEC §11/§12: a screening holds this many days by default; fasting minutes before a dose
    # per medication (JSON); the healthcare setting on the REMS form; follow-up due within
    screening_valid_days: int = Field(default=365, ge=1)
    npo: dict[str, dict[str, int]] = Field(
        default_factory=lambda: {k: dict(v) for k, v in DEFAULT_NPO.items()}
    )
    clinic_name: str = ""
    clinic_address: str = ""
    follow_up_hours: int = Field(default=48, ge=1)

    @field_validator("thresholds")
    @classmethod
    def _complete_thresholds(cls, value: dict[str, float]) -> dict[str, float]:
        from api.clinical.thresholds import validate_thresholds

        merged = {**DEFAULT_THRESHOLDS, **value}
        problems = validate_thresholds(merged)
        if problems:
            raise ValueError("; ".join(f"{k}: {m}" for k, m in problems))
        return merged

    @field_validator("npo")
    @classmethod
    def _complete_npo(cls, value: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
        merged = {k: dict(v) for k, v in DEFAULT_NPO.items()}
        for medication, minutes in value.items():
            if medication not in merged:
                raise ValueError(f"npo: unknown medication {medication!r}")
            for key, number in minutes.items():
                if key not in ("food", "liquids") or not 0 <= int(number) <= 24 * 60:
                    raise ValueError(f"npo.{medication}.{key}: food/liquids minutes, 0-1440")
                merged[medication][key] = int(number)
        return merged

    @property
    def is_postgres(self) -> bool:
        return self.database_url.startswith("postgresql")

    def resolved_secret_key(self) -> str:
        """The token-signing key: configured, or (development) generated once under ``var/``."""
        if self.secret_key and self.secret_key.lower() not in PLACEHOLDER_SECRETS:
            return self.secret_key
        if self.environment == "production":
            raise RuntimeError(
                "VIGIL_SECRET_KEY must be set to a real secret (at least 32 characters) "
                "in production"
            )
        path = self.secret_key_file
        if path.exists():
            return path.read_text().strip()
        path.parent.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(48)
        path.write_text(key)
        path.chmod(0o600)
        return key


@lru_cache
def get_settings() -> Settings:
    return Settings()
