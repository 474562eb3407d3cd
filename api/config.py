"""One typed settings object, read from the environment (``VIGIL_*`` and ``DATABASE_URL``)."""

from __future__ import annotations

import secrets
from datetime import UTC, tzinfo
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from api.clinical.checklist import DEFAULT_NPO
from api.clinical.dose_ranges import merge_dose_limits
from api.clinical.future import DEFAULT_FUTURE_TOLERANCE_SECONDS
from api.clinical.thresholds import DEFAULT_THRESHOLDS, validate_thresholds
from api.proxies import parse_networks

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
    # wrong passwords in a row from one address that lock the account from that address, and
    # across all addresses that lock it from every address it has not logged in from before
    login_max_failures: int = Field(default=5, ge=1)
    login_account_max_failures: int = Field(default=50, ge=1)
    login_lockout_minutes: int = Field(default=15, ge=1)
    # addresses or networks (comma-separated) whose X-Forwarded-For / -Proto are believed
    trusted_proxies: str = ""
    clinic_tz: str = "UTC"
    max_body_bytes: int = 2_000_000
    # readings per vitals or device-push request; the API's schema caps it at 1,000
    max_batch_observations: int = Field(default=1000, ge=1, le=1000)
    future_tolerance_seconds: int = DEFAULT_FUTURE_TOLERANCE_SECONDS
    thresholds: dict[str, float] = Field(default_factory=lambda: dict(DEFAULT_THRESHOLDS))
    # the usual dose ranges (SPEC §3): JSON over api.clinical.dose_ranges.DEFAULT_DOSE_LIMITS,
    # key by key, e.g. {"ketamine": {"im": {"usual_max_mg_per_kg": 0.4}}}
    dose_limits: dict[str, Any] = Field(default_factory=lambda: merge_dose_limits(None))
    # the least min_monitoring_minutes of a ketamine plan (esketamine: 120, the REMS minimum)
    min_monitoring_minutes: int = Field(default=30, ge=0, le=1440)
    log_level: str = "INFO"
    # live events (the SSE outbox, copies of what changed) older than this are pruned hourly;
    # 0 keeps them all
    live_event_retention_days: int = Field(default=7, ge=0)
    # The address clients reach this server at (scheme, host, port, any path prefix a proxy
    # adds): every absolute link Vigil writes (FHIR fullUrl, Bundle links, Location) is built on
    # it, never on the request's Host header, which any client can set.
    public_base_url: str = "http://127.0.0.1:8000"

    @field_validator("public_base_url")
    @classmethod
    def _absolute_base(cls, value: str) -> str:
        from urllib.parse import urlsplit

        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.query:
            raise ValueError(
                "must be an absolute http(s) URL without a query, e.g. https://vigil.example"
            )
        return value.strip().rstrip("/")

    # seconds between a live stream's heartbeats; its credentials are checked again at each
    live_heartbeat_seconds: float = Field(default=15.0, gt=0, le=3600)
    # who may connect to ``vigil mllp``: comma-separated CIDRs (a bare address is one host)
    mllp_allow: str = "127.0.0.1/32"

    @field_validator("mllp_allow")
    @classmethod
    def _valid_networks(cls, value: str) -> str:
        import ipaddress

        for entry in filter(None, (part.strip() for part in value.split(","))):
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(f"{entry!r} is not an address or CIDR") from None
        return value

    # origins (scheme://host[:port]) whose web pages may call the API from a browser, comma
    # separated (SPEC §13); empty: no CORS headers at all
    cors_origins: str = ""
    # every process scans the running sessions for a missing blood pressure this often (SPEC §6
    # vitals_overdue: raised within a minute of the gap); 0 turns the scan off
    vitals_scan_seconds: float = Field(default=20.0, ge=0)
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
        merged = {**DEFAULT_THRESHOLDS, **value}
        problems = validate_thresholds(merged)
        if problems:
            raise ValueError("; ".join(f"{k}: {m}" for k, m in problems))
        return merged

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies_parse(cls, value: str) -> str:
        parse_networks(value)  # raises ValueError on a bad entry
        return value

    @property
    def cors_origin_list(self) -> list[str]:
        return [o.strip().rstrip("/") for o in self.cors_origins.split(",") if o.strip()]

    @field_validator("dose_limits")
    @classmethod
    def _complete_dose_limits(cls, value: dict[str, Any]) -> dict[str, Any]:
        return merge_dose_limits(value)

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


def clinic_zone() -> tzinfo:
    """The clinic's time zone (``VIGIL_CLINIC_TZ``): messages give times in it."""
    return _zone(get_settings().clinic_tz)


@lru_cache
def _zone(name: str) -> tzinfo:
    return UTC if name.upper() == "UTC" else ZoneInfo(name)
