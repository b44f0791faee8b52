"""Runtime configuration: `CONVTRACK_*` environment variables, read once into `Settings`.

Nothing reads the environment at import time: callers build a `Settings()` when they
start (the CLI, the app factory, a Dagster run) and pass it down. Every value is checked
then, so a typo fails at start with a message naming its variable, never later inside the
collector or dbt. The variables are listed in docs/operations.md.
"""

from __future__ import annotations

import difflib
import ipaddress
import re
import zoneinfo
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from convtrack.core.origins import DEFAULT_PORTS, is_bare_origin, origin_of
from convtrack.core.raw_log import DEFAULT_MAX_SEGMENT_AGE_S, DEFAULT_MAX_SEGMENT_BYTES
from convtrack.core.rules import (
    default_attribution_window_days,
    longest_window_days,
    own_link_windows,
    retention_floor_days,
    retention_shortfall,
)

ENV_PREFIX = "CONVTRACK_"

# The engines that can build the warehouse (docs/operations.md#engines).
Engine = Literal["duckdb", "spark"]
ENGINES: tuple[Engine, ...] = ("duckdb", "spark")
# Spark master URLs: a session in this process's own JVM (`local`, `local[N]`, `local[*]`,
# `local[N,F]`, counts Spark reads as an int) or a cluster manager's URL, printable ASCII
# and of a URL's length: it travels through an environment variable to Spark.
MAX_SPARK_MASTER_CHARS = 2048
_SPARK_MASTER = re.compile(
    r"local(\[(\d{1,6}|\*)(,\d{1,6})?\])?|(spark|k8s|mesos)://[!-~]+|yarn", re.ASCII
)

# A Spark Thrift server (docs/operations.md#engines): `host:port`, the host a DNS name, an
# IPv4 address or a bracketed IPv6 one - ASCII of a host name's length, as it travels
# through an environment variable to dbt's profile.
MAX_SPARK_THRIFT_CHARS = 253 + len(":65535")
_SPARK_THRIFT = re.compile(r"(?P<host>\[[0-9a-f:.]+\]|[a-z0-9.-]+):(?P<port>\d{1,5})", re.ASCII)
_HOST_LABEL = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?", re.ASCII)


def thrift_address(server: str) -> tuple[str, int] | None:
    """The host (without brackets) and port a Spark Thrift server's `host:port` names, or
    None when it names none."""
    match = _SPARK_THRIFT.fullmatch(server.strip().lower())
    if match is None or len(server.strip()) > MAX_SPARK_THRIFT_CHARS:
        return None
    host, port = match["host"], int(match["port"])
    if host.startswith("["):
        try:
            host = str(ipaddress.IPv6Address(host[1:-1]))
        except ValueError:
            return None
    elif not all(_HOST_LABEL.fullmatch(label) for label in host.removesuffix(".").split(".")):
        return None
    return (host, port) if 1 <= port <= 65535 else None


def env_var(field_name: str) -> str:
    """The environment variable that sets a `Settings` field."""
    return f"{ENV_PREFIX}{field_name.upper()}"


# DuckDB's memory sizes: a number and a unit (decimal or binary). ASCII digits only: DuckDB
# reads no others.
_MEMORY_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*([KMGT])(i?)B", re.IGNORECASE | re.ASCII)
# A pipeline's DuckDB needs some room to work at all, and DuckDB refuses sizes past its
# own range: both ends are refused at start, not inside a run.
MIN_DUCKDB_MEMORY_BYTES = 64 * 2**20
MAX_DUCKDB_MEMORY_BYTES = 2**50


def memory_size_bytes(text: str) -> float | None:
    """The bytes a DuckDB memory size means, or None when it is no such size."""
    match = _MEMORY_SIZE.fullmatch(text.strip())
    if match is None:
        return None
    number, unit, binary = match.groups()
    base = 1024 if binary else 1000
    return float(number) * base ** ("KMGT".index(unit.upper()) + 1)


# prometheus_client's switch to multiprocess mode, where the workers of `convtrack serve
# --workers N` share their metrics (`Settings.metrics_dir`). The library reads it once,
# when first imported: `serve` sets or drops it before anything imports the library.
METRICS_SHARED_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"


class Settings(BaseSettings):
    """Every knob of convtrack, with its default (docs/operations.md).

    Validators raise messages that name the variable and say what would be right.
    """

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore")

    data_dir: Path = Path("./data")
    # Where the collector is reached from outside (the tracker script and short links name
    # it); never taken from a request's Host header. Kept without a trailing slash.
    public_url: str = "http://127.0.0.1:8000"
    admin_token: SecretStr | None = None
    read_token: SecretStr | None = None
    # The merchant's back office sends refunds with it (docs/api.md#refunds): a
    # server-to-server token that opens the refund intake and nothing else.
    refund_token: SecretStr | None = None
    # Comma-separated origins in the environment; empty means "the origins of registered
    # link destinations". Kept as browsers send them: lowercase host, no default port.
    cors_origins: Annotated[list[str], NoDecode] = []
    attribution_window_days: int = Field(default_factory=default_attribution_window_days, ge=1)
    # The floor, and the default: the longest attribution window in use (the default one,
    # or a link's own, read from data/raw at start) plus the days dbt's
    # `retention_beyond_window_days` adds (docs/rules.md#retention).
    retention_days: int = Field(
        default_factory=lambda data: retention_floor_days(
            longest_window_days(data["attribution_window_days"], data["data_dir"] / "raw")
        )
    )
    archive_dir: Path | None = None
    currency: str = "USD"
    # The days of agg_daily_link_metrics (docs/rules.md#time); an IANA name DuckDB knows.
    reporting_timezone: str = "UTC"
    store_full_ip: bool = False
    rate_limit_per_ip: float = Field(default=50.0, ge=0)
    rate_limit_burst: int = Field(default=100, ge=1)
    # Comma-separated addresses or networks of reverse proxies whose X-Forwarded-For is
    # believed ("*": any). Empty: none - the socket peer is the client, whatever it says.
    forwarded_allow_ips: str = ""
    # The collector's append log (docs/architecture.md): a segment becomes Parquet at this
    # size or age.
    log_segment_max_bytes: int = Field(default=DEFAULT_MAX_SEGMENT_BYTES, ge=1)
    log_segment_max_age_s: float = Field(default=DEFAULT_MAX_SEGMENT_AGE_S, gt=0)
    # What each DuckDB of the pipeline (dbt's, the raw load's, the publish's) may hold in
    # memory before it spills to data/warehouse: DuckDB's own default is 80 % of RAM.
    duckdb_memory_limit: str = "3GB"
    # What builds the warehouse: DuckDB, in the pipeline's own process, or Spark through
    # dbt-spark. Readers get the same DuckDB snapshot either way.
    engine: Engine = "duckdb"
    # The Spark master when the engine is spark: a local session by default, with as many
    # worker threads as cores it may take; a cluster's URL otherwise.
    spark_master: str = "local[2]"
    # A Spark Thrift server (host:port) when the engine is spark: dbt sends it the SQL
    # (dbt-spark's `thrift` method) and the server runs it on its own master and
    # executors; CONVTRACK_SPARK_MASTER is then not this process's to choose.
    spark_thrift: str | None = None

    @field_validator("engine", mode="before")
    @classmethod
    def _known_engine(cls, v: Any, info: ValidationInfo) -> Any:
        if isinstance(v, str) and v.strip().lower() in ENGINES:
            return v.strip().lower()
        close = difflib.get_close_matches(str(v).strip().lower(), ENGINES, n=1)
        raise ValueError(
            f"{env_var(info.field_name)}: {v!r} is not an engine; write "
            + " or ".join(ENGINES)
            + (f" (did you mean {close[0]!r}?)" if close else "")
        )

    @field_validator("spark_master")
    @classmethod
    def _spark_master_url(cls, v: str, info: ValidationInfo) -> str:
        if len(v) > MAX_SPARK_MASTER_CHARS or not _SPARK_MASTER.fullmatch(v.strip()):
            raise ValueError(
                f"{env_var(info.field_name)}: {v!r} is not a Spark master URL; write "
                "local[2] (a session on this machine with 2 threads), local[*], or a "
                "cluster's spark://host:7077"
            )
        return v.strip()

    @field_validator("spark_thrift", mode="before")
    @classmethod
    def _spark_thrift_server(cls, v: Any, info: ValidationInfo) -> Any:
        if v is None or (isinstance(v, str) and not v.strip()):
            return None  # unset: no Thrift server
        address = thrift_address(v) if isinstance(v, str) else None
        if address is None:
            raise ValueError(
                f"{env_var(info.field_name)}: {v!r} is not a Spark Thrift server; write "
                "host:port with a port from 1 to 65535, e.g. spark-thrift.internal:10000 "
                "or 127.0.0.1:10000"
            )
        host, port = address
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"

    @field_validator("duckdb_memory_limit")
    @classmethod
    def _memory_size(cls, v: str, info: ValidationInfo) -> str:
        size = memory_size_bytes(v)
        if size is None or not MIN_DUCKDB_MEMORY_BYTES <= size <= MAX_DUCKDB_MEMORY_BYTES:
            raise ValueError(
                f"{env_var(info.field_name)}: {v!r} is not a memory size from 64MiB to "
                "1PiB such as 3GB, 512MB or 1.5GiB"
            )
        return v.strip()

    @field_validator("currency")
    @classmethod
    def _currency_code(cls, v: str, info: ValidationInfo) -> str:
        if len(v) != 3 or not v.isalpha():
            raise ValueError(
                f"{env_var(info.field_name)}: {v!r} is not a 3-letter ISO 4217 code such as "
                "USD or EUR"
            )
        return v.upper()

    @field_validator("public_url")
    @classmethod
    def _absolute_http_url(cls, v: str, info: ValidationInfo) -> str:
        if (problem := _base_url_problem(v)) is not None:
            raise ValueError(
                f"{env_var(info.field_name)}: {v!r} {problem}; write the collector's absolute "
                "http(s) URL as seen from outside, e.g. https://go.example.com"
            )
        return v.rstrip("/")

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _origin_list(cls, v: Any, info: ValidationInfo) -> Any:
        if isinstance(v, str):
            v = v.split(",")
        if not isinstance(v, list | tuple) or not all(isinstance(e, str) for e in v):
            return v  # not text: pydantic says what is wrong with it
        origins = []
        for entry in (e.strip() for e in v):
            if entry == "":
                continue
            if entry != "*" and not is_bare_origin(entry):
                raise ValueError(
                    f"{env_var(info.field_name)}: {entry!r} is not an origin; write "
                    "comma-separated scheme://host[:port] without a path, e.g. "
                    "https://landing.example,http://localhost:3000 (or * for any)"
                )
            origins.append(entry if entry == "*" else origin_of(entry))
        return origins

    @field_validator("reporting_timezone")
    @classmethod
    def _known_time_zone(cls, v: str, info: ValidationInfo) -> str:
        if v not in _time_zones():
            close = difflib.get_close_matches(v, _time_zones(), n=1)
            raise ValueError(
                f"{env_var(info.field_name)}: {v!r} is not an IANA time zone name such as "
                "UTC, Europe/Berlin or America/New_York"
                + (f" (did you mean {close[0]!r}?)" if close else "")
            )
        return v

    @field_validator("forwarded_allow_ips")
    @classmethod
    def _proxies_are_addresses(cls, v: str, info: ValidationInfo) -> str:
        for entry in (e.strip() for e in v.split(",")):
            if not entry or entry == "*":
                continue
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(
                    f"{env_var(info.field_name)}: {entry!r} is not an IP address or network "
                    "(e.g. 10.0.0.1,10.1.0.0/16, or * for any)"
                ) from None
        return v

    @model_validator(mode="after")
    def _retention_at_least_window(self) -> Settings:
        floor = retention_floor_days(self.attribution_window_days)
        if self.retention_days < floor:
            raise ValueError(
                f"{env_var('retention_days')}: {self.retention_days} days is shorter than "
                f"{env_var('attribution_window_days')} + "
                f"{floor - self.attribution_window_days} = {floor}, so conversions could lose "
                f"their clicks; set {floor} or more, or leave it unset"
            )
        if "retention_days" not in self.model_fields_set:
            return self  # its default already follows the longest window in use
        shortfall = retention_shortfall(
            self.retention_days, self.attribution_window_days, own_link_windows(self.raw_dir)
        )
        if shortfall is not None:
            floor, what = shortfall
            raise ValueError(
                f"{env_var('retention_days')}: {self.retention_days} days is shorter than "
                f"the longest attribution window in use + {retention_floor_days(0)} = "
                f"{floor} ({what}), so its conversions could lose their clicks; set "
                f"{floor} or more, or leave it unset"
            )
        return self

    @property
    def configured_retention_days(self) -> int | None:
        """RETENTION_DAYS when it was set; None when it follows the longest window."""
        return self.retention_days if "retention_days" in self.model_fields_set else None

    @model_validator(mode="after")
    def _one_way_to_spark(self) -> Settings:
        if self.spark_thrift is not None and "spark_master" in self.model_fields_set:
            raise ValueError(
                f"{env_var('spark_master')} and {env_var('spark_thrift')} are both set: a "
                "Thrift server runs on the master it was started with; unset one of them"
            )
        return self

    @property
    def spark_thrift_address(self) -> tuple[str, int] | None:
        """The Thrift server's host and port, when one is set."""
        return None if self.spark_thrift is None else thrift_address(self.spark_thrift)

    @property
    def trusted_proxies(self) -> list[str]:
        return [e.strip() for e in self.forwarded_allow_ips.split(",") if e.strip()]

    # Locations inside the data directory (docs/architecture.md).
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
    def spark_dir(self) -> Path:
        """The Spark engine's warehouse (its tables' files) and metastore
        (dbt_project/profiles.yml builds the same paths)."""
        return self.data_dir / "spark"

    @property
    def dagster_home(self) -> Path:
        return self.data_dir / "dagster"

    @property
    def metrics_dir(self) -> Path:
        """Where the workers of `convtrack serve --workers N` keep their metrics, a
        folder per server (docs/operations.md#workers)."""
        return self.data_dir / "run" / "metrics"

    @property
    def cleanup_requests_dir(self) -> Path:
        """Where `POST /api/conversions/cleanup` leaves requests for the prune sensor."""
        return self.data_dir / "requests" / "cleanup"


def configuration_problems(error: ValidationError) -> list[str]:
    """One line per problem of a `Settings` that failed, each naming its variable."""
    lines = []
    for problem in error.errors(include_url=False):
        if problem["type"] == "default_factory_not_called":
            continue  # a consequence of another problem, which has its own line
        if problem["type"] == "value_error":
            # Raised by the validators above: it names the variable and what would be right.
            lines.append(str(problem["ctx"]["error"]))
            continue
        field = str(problem["loc"][0]) if problem["loc"] else ""
        # pydantic's own checks (numbers, booleans, bounds) say what they expected.
        value = "" if "token" in field else f"={problem['input']}"
        lines.append(f"{env_var(field)}{value}: {problem['msg'].lower()}")
    return lines


def _base_url_problem(url: str) -> str | None:
    """Why `url` cannot be the collector's public base URL, or None when it can."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a port that is not a number in range
    except ValueError:
        return "cannot be read as a URL"
    if parts.scheme not in DEFAULT_PORTS:
        return "does not start with http:// or https://"
    if not parts.hostname:
        return "names no host"
    if "@" in parts.netloc:
        return "names a user or password"
    if parts.query or parts.fragment:
        return "has a query or fragment"
    return None


@cache
def _time_zones() -> frozenset[str]:
    # The IANA names Python sees (the tzdata package when the system has none); DuckDB
    # knows them all. `localtime` is the machine's own file, not a name DuckDB knows.
    return frozenset(zoneinfo.available_timezones() - {"localtime"})
