"""Runtime configuration: `CONVTRACK_*` environment variables, read once into `Settings`.

Nothing reads the environment at import time: callers build a `Settings()` when they
start (the CLI, the app factory, a Dagster run) and pass it down.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from convtrack.core.rules import default_attribution_window_days, retention_floor_days


class Settings(BaseSettings):
    """Every knob of convtrack, with the defaults of SPEC §3.1."""

    model_config = SettingsConfigDict(env_prefix="CONVTRACK_", extra="ignore")

    data_dir: Path = Path("./data")
    public_url: str = "http://127.0.0.1:8000"
    admin_token: SecretStr | None = None
    read_token: SecretStr | None = None
    # Comma-separated origins; empty means "the origins of registered link destinations".
    cors_origins: str = ""
    attribution_window_days: int = Field(default_factory=default_attribution_window_days, ge=1)
    # Default: window + 1 days (see the validator); never less than that.
    retention_days: int | None = None
    archive_dir: Path | None = None
    currency: str = "USD"
    reporting_timezone: str = "UTC"
    store_full_ip: bool = False
    rate_limit_per_ip: float = Field(default=50.0, ge=0)
    rate_limit_burst: int = Field(default=100, ge=1)
    # Comma-separated addresses or networks of reverse proxies whose X-Forwarded-For is
    # believed ("*": any). Empty: none - the socket peer is the client, whatever it says.
    forwarded_allow_ips: str = ""
    # The collector's append log (SPEC §5): a segment becomes Parquet at this size or age.
    log_segment_max_bytes: int = Field(default=32 * 1024 * 1024, ge=1)
    log_segment_max_age_s: float = Field(default=60.0, gt=0)

    @field_validator("currency")
    @classmethod
    def _upper_currency(cls, v: str) -> str:
        if len(v) != 3 or not v.isalpha():
            raise ValueError(f"CONVTRACK_CURRENCY must be a 3-letter ISO code, got {v!r}")
        return v.upper()

    @field_validator("public_url")
    @classmethod
    def _strip_slash(cls, v: str) -> str:
        return v.rstrip("/")

    @field_validator("forwarded_allow_ips")
    @classmethod
    def _proxies_are_addresses(cls, v: str) -> str:
        for entry in (e.strip() for e in v.split(",")):
            if not entry or entry == "*":
                continue
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(
                    f"CONVTRACK_FORWARDED_ALLOW_IPS: {entry!r} is not an IP address or network "
                    "(e.g. 10.0.0.1,10.1.0.0/16, or * for any)"
                ) from None
        return v

    @model_validator(mode="after")
    def _retention_at_least_window(self) -> Settings:
        floor = retention_floor_days(self.attribution_window_days)
        if self.retention_days is None:
            self.retention_days = floor
        elif self.retention_days < floor:
            raise ValueError(
                f"CONVTRACK_RETENTION_DAYS={self.retention_days} is shorter than the "
                f"attribution window + 1 ({floor}): conversions could lose their clicks"
            )
        return self

    @property
    def trusted_proxies(self) -> list[str]:
        return [e.strip() for e in self.forwarded_allow_ips.split(",") if e.strip()]

    @property
    def cors_origin_list(self) -> list[str]:
        return [o.strip().rstrip("/") for o in self.cors_origins.split(",") if o.strip()]

    # Locations inside the data directory (SPEC §2).
    @property
    def raw_dir(self) -> Path:
        return self.data_dir / "raw"

    @property
    def warehouse_dir(self) -> Path:
        return self.data_dir / "warehouse"

    @property
    def warehouse_path(self) -> Path:
        return self.warehouse_dir / "warehouse.duckdb"

    @property
    def published_path(self) -> Path:
        return self.warehouse_dir / "published.duckdb"

    @property
    def dagster_home(self) -> Path:
        return self.data_dir / "dagster"

    @property
    def cleanup_requests_dir(self) -> Path:
        """Where `POST /api/conversions/cleanup` leaves requests for the prune sensor."""
        return self.data_dir / "requests" / "cleanup"

    @property
    def reports_dir(self) -> Path:
        return self.data_dir / "reports"
