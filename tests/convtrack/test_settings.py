"""Settings: every CONVTRACK_* variable parsed from the environment, its default, and a
refusal at start that names the variable and says what would be right."""

from __future__ import annotations

import os
import zoneinfo
from pathlib import Path

import duckdb
import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from pydantic import ValidationError

from convtrack.core.rules import default_attribution_window_days, retention_floor_days
from convtrack.core.settings import (
    MAX_SPARK_MASTER_CHARS,
    MAX_SPARK_THRIFT_CHARS,
    Settings,
    configuration_problems,
    env_var,
)
from tests.collector.strategies import hostile_text


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No CONVTRACK_* variable from the machine running the tests."""
    for name in list(os.environ):
        if name.startswith("CONVTRACK_"):
            monkeypatch.delenv(name)


def refusal(**env: str) -> list[str]:
    """The problems `Settings()` reports with these variables set (none may be valid)."""
    with pytest.MonkeyPatch.context() as mp:
        for name, value in env.items():
            mp.setenv(name, value)
        with pytest.raises(ValidationError) as caught:
            Settings()
    return configuration_problems(caught.value)


def test_defaults() -> None:
    settings = Settings()
    assert settings.data_dir == Path("./data")
    assert settings.public_url == "http://127.0.0.1:8000"
    assert (settings.admin_token, settings.read_token) == (None, None)
    assert settings.cors_origins == []
    assert settings.attribution_window_days == default_attribution_window_days() == 30
    assert settings.retention_days == retention_floor_days(30) == 31
    assert settings.archive_dir is None
    assert settings.currency == "USD"
    assert settings.reporting_timezone == "UTC"
    assert settings.store_full_ip is False
    assert (settings.rate_limit_per_ip, settings.rate_limit_burst) == (50.0, 100)
    assert settings.trusted_proxies == []
    assert settings.log_segment_max_bytes == 32 * 1024 * 1024
    assert settings.log_segment_max_age_s == 60.0
    assert (settings.engine, settings.spark_master) == ("duckdb", "local[2]")
    assert settings.spark_thrift is settings.spark_thrift_address is None


def test_every_variable_is_read_from_the_environment(monkeypatch, tmp_path) -> None:
    env = {
        "DATA_DIR": str(tmp_path / "d"),
        "PUBLIC_URL": "https://go.example.com/",
        "ADMIN_TOKEN": "adm",
        "READ_TOKEN": "rd",
        "CORS_ORIGINS": "https://landing.example,http://localhost:3000",
        "ATTRIBUTION_WINDOW_DAYS": "7",
        "RETENTION_DAYS": "90",
        "ARCHIVE_DIR": str(tmp_path / "archive"),
        "CURRENCY": "eur",
        "REPORTING_TIMEZONE": "Europe/Berlin",
        "STORE_FULL_IP": "true",
        "RATE_LIMIT_PER_IP": "0",
        "RATE_LIMIT_BURST": "5",
        "FORWARDED_ALLOW_IPS": "10.0.0.1,10.1.0.0/16",
        "LOG_SEGMENT_MAX_BYTES": "1024",
        "LOG_SEGMENT_MAX_AGE_S": "0.5",
        "ENGINE": "Spark",
        "SPARK_MASTER": "spark://127.0.0.1:7077",
    }
    for name, value in env.items():
        monkeypatch.setenv(f"CONVTRACK_{name}", value)
    settings = Settings()
    assert settings.data_dir == tmp_path / "d"
    assert settings.raw_dir == tmp_path / "d" / "raw"
    assert settings.published_path == tmp_path / "d" / "warehouse" / "published.duckdb"
    assert settings.public_url == "https://go.example.com"
    assert settings.admin_token.get_secret_value() == "adm"
    assert settings.read_token.get_secret_value() == "rd"
    assert settings.cors_origins == ["https://landing.example", "http://localhost:3000"]
    assert (settings.attribution_window_days, settings.retention_days) == (7, 90)
    assert settings.archive_dir == tmp_path / "archive"
    assert settings.currency == "EUR"
    assert settings.reporting_timezone == "Europe/Berlin"
    assert settings.store_full_ip is True
    assert (settings.rate_limit_per_ip, settings.rate_limit_burst) == (0.0, 5)
    assert settings.trusted_proxies == ["10.0.0.1", "10.1.0.0/16"]
    assert (settings.log_segment_max_bytes, settings.log_segment_max_age_s) == (1024, 0.5)
    assert (settings.engine, settings.spark_master) == ("spark", "spark://127.0.0.1:7077")
    assert settings.spark_dir == tmp_path / "d" / "spark"


def test_env_var_names_the_variable_of_a_field() -> None:
    assert env_var("reporting_timezone") == "CONVTRACK_REPORTING_TIMEZONE"


# Retention: always a number of days once validated, never shorter than the window needs.


def test_retention_defaults_to_the_floor_of_the_configured_window(monkeypatch) -> None:
    monkeypatch.setenv("CONVTRACK_ATTRIBUTION_WINDOW_DAYS", "10")
    settings = Settings()
    assert settings.retention_days == retention_floor_days(10) == 11
    assert isinstance(settings.retention_days, int)


def test_retention_at_the_floor_is_accepted() -> None:
    assert Settings(attribution_window_days=10, retention_days=11).retention_days == 11


def test_retention_shorter_than_the_window_is_refused() -> None:
    (problem,) = refusal(CONVTRACK_ATTRIBUTION_WINDOW_DAYS="10", CONVTRACK_RETENTION_DAYS="10")
    assert problem.startswith("CONVTRACK_RETENTION_DAYS: 10 days is shorter than")
    assert "CONVTRACK_ATTRIBUTION_WINDOW_DAYS + 1 = 11" in problem
    assert "set 11 or more, or leave it unset" in problem


def test_a_bad_window_is_one_problem_not_two() -> None:
    # retention's default needs the window: its own failure is not reported besides.
    assert refusal(CONVTRACK_ATTRIBUTION_WINDOW_DAYS="0") == [
        "CONVTRACK_ATTRIBUTION_WINDOW_DAYS=0: input should be greater than or equal to 1"
    ]


# Time zone: a typo fails here, not inside a dbt run.


@pytest.mark.parametrize("name", ["UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata"])
def test_iana_time_zones_are_accepted(name: str) -> None:
    assert Settings(reporting_timezone=name).reporting_timezone == name


def test_a_misspelt_time_zone_is_refused_with_a_suggestion() -> None:
    (problem,) = refusal(CONVTRACK_REPORTING_TIMEZONE="Europe/Berln")
    assert problem.startswith(
        "CONVTRACK_REPORTING_TIMEZONE: 'Europe/Berln' is not an IANA time zone name"
    )
    assert "(did you mean 'Europe/Berlin'?)" in problem


def test_every_time_zone_accepted_is_one_duckdb_knows() -> None:
    known = {name for (name,) in duckdb.sql("select name from pg_timezone_names()").fetchall()}
    accepted = []
    for name in sorted(zoneinfo.available_timezones()):
        try:
            accepted.append(Settings(reporting_timezone=name).reporting_timezone)
        except ValidationError:
            continue
    assert len(accepted) > 300
    assert set(accepted) <= known


@pytest.mark.parametrize(
    "name", ["CET+1", "", "../../etc/passwd", "Mars/Olympus_Mons", "localtime"]
)
def test_what_is_no_time_zone_is_refused(name: str) -> None:
    (problem,) = refusal(CONVTRACK_REPORTING_TIMEZONE=name)
    assert problem.startswith(f"CONVTRACK_REPORTING_TIMEZONE: {name!r} is not an IANA")
    assert "such as UTC, Europe/Berlin or America/New_York" in problem


# Public URL: an absolute http(s) base the tracker and short links can name.


@pytest.mark.parametrize(
    ("value", "kept"),
    [
        ("https://go.example.com/", "https://go.example.com"),
        ("http://127.0.0.1:8000", "http://127.0.0.1:8000"),
        ("https://example.com/collector/", "https://example.com/collector"),
    ],
)
def test_public_url_is_kept_without_its_trailing_slash(value: str, kept: str) -> None:
    assert Settings(public_url=value).public_url == kept


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("go.example.com", "does not start with http:// or https://"),
        ("ftp://go.example.com", "does not start with http:// or https://"),
        ("https://", "names no host"),
        ("https://user:pw@go.example.com", "names a user or password"),
        ("https://go.example.com/?utm=x", "has a query or fragment"),
        ("https://go.example.com:99999", "cannot be read as a URL"),
    ],
)
def test_a_public_url_that_is_no_base_url_is_refused(value: str, why: str) -> None:
    (problem,) = refusal(CONVTRACK_PUBLIC_URL=value)
    assert problem.startswith(f"CONVTRACK_PUBLIC_URL: {value!r} {why}")
    assert "e.g. https://go.example.com" in problem


# CORS origins: comma-separated in the environment, a list of origins once read.


def test_cors_origins_are_serialised_as_browsers_send_them(monkeypatch) -> None:
    monkeypatch.setenv(
        "CONVTRACK_CORS_ORIGINS",
        " https://Landing.Example/ , http://localhost:3000,https://shop.example:443,"
        "https://bücher.example,,http://[::1]:9000",
    )
    assert Settings().cors_origins == [
        "https://landing.example",
        "http://localhost:3000",
        "https://shop.example",
        "https://xn--bcher-kva.example",
        "http://[::1]:9000",
    ]


def test_cors_origins_accept_any_and_a_list() -> None:
    assert Settings(cors_origins="*").cors_origins == ["*"]
    assert Settings(cors_origins=["https://A.example"]).cors_origins == ["https://a.example"]
    assert Settings(cors_origins="").cors_origins == []


@pytest.mark.parametrize(
    "entry",
    ["landing.example", "ftp://landing.example", "https://landing.example/page", "null"],
)
def test_what_is_no_origin_is_refused(entry: str) -> None:
    (problem,) = refusal(CONVTRACK_CORS_ORIGINS=f"https://ok.example,{entry}")
    assert problem.startswith(f"CONVTRACK_CORS_ORIGINS: {entry!r} is not an origin")
    assert "scheme://host[:port] without a path" in problem


# The rest: currency, proxies, numbers and booleans.


def test_currency_is_upper_cased_and_must_be_a_code() -> None:
    assert Settings(currency="eur").currency == "EUR"
    assert refusal(CONVTRACK_CURRENCY="EURO") == [
        "CONVTRACK_CURRENCY: 'EURO' is not a 3-letter ISO 4217 code such as USD or EUR"
    ]


def test_a_bad_proxy_entry_is_named() -> None:
    (problem,) = refusal(CONVTRACK_FORWARDED_ALLOW_IPS="10.0.0.1,proxy.internal")
    assert problem.startswith(
        "CONVTRACK_FORWARDED_ALLOW_IPS: 'proxy.internal' is not an IP address or network"
    )


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("CONVTRACK_RATE_LIMIT_BURST", "lots", "input should be a valid integer"),
        ("CONVTRACK_RATE_LIMIT_BURST", "0", "input should be greater than or equal to 1"),
        ("CONVTRACK_RATE_LIMIT_PER_IP", "-1", "input should be greater than or equal to 0"),
        ("CONVTRACK_STORE_FULL_IP", "maybe", "input should be a valid boolean"),
        ("CONVTRACK_LOG_SEGMENT_MAX_AGE_S", "0", "input should be greater than 0"),
    ],
)
def test_pydantics_own_checks_name_the_variable_and_its_value(name, value, expected) -> None:
    (problem,) = refusal(**{name: value})
    assert problem.startswith(f"{name}={value}: {expected}")


def test_every_problem_is_one_line_naming_its_variable() -> None:
    problems = refusal(
        CONVTRACK_PUBLIC_URL="localhost:8000",
        CONVTRACK_REPORTING_TIMEZONE="Europe/Pariss",
        CONVTRACK_CORS_ORIGINS="https://a.example/x",
        CONVTRACK_RATE_LIMIT_BURST="many",
    )
    assert [p.split(":")[0].split("=")[0] for p in problems] == [
        "CONVTRACK_PUBLIC_URL",
        "CONVTRACK_CORS_ORIGINS",
        "CONVTRACK_REPORTING_TIMEZONE",
        "CONVTRACK_RATE_LIMIT_BURST",
    ]
    for problem in problems:
        assert "\n" not in problem
        assert "errors.pydantic.dev" not in problem
        assert "Value error" not in problem


@pytest.mark.parametrize("value", ["3GB", "512MB", "1.5GiB", " 2 gb "])
def test_duckdb_memory_limit_takes_duckdb_sizes(value: str) -> None:
    assert Settings(duckdb_memory_limit=value).duckdb_memory_limit == value.strip()


@pytest.mark.parametrize("value", ["", "3", "lots", "3GB; drop table x", "-1GB"])
def test_what_is_no_memory_size_is_refused(value: str) -> None:
    with pytest.raises(ValidationError, match="CONVTRACK_DUCKDB_MEMORY_LIMIT"):
        Settings(duckdb_memory_limit=value)


# Memory sizes of every shape: DuckDB's own, numbers of any length and precision, any
# digits (other scripts' too), signs, exponents, spaces, units that are nearly right.
memory_sizes = st.one_of(
    hostile_text,
    st.builds(
        lambda sign, number, space, unit, binary, b: f"{sign}{number}{space}{unit}{binary}{b}",
        st.sampled_from(["", "-", "+"]),
        st.one_of(
            st.integers(min_value=0, max_value=10**30).map(str),
            st.floats(allow_nan=True, allow_infinity=True).map(str),
            st.text(st.characters(categories=["Nd"]), min_size=1, max_size=6),
        ),
        st.sampled_from(["", " ", "  ", "\t"]),
        st.sampled_from(["K", "M", "G", "T", "P", "k", "m", "g", "t", "", "X"]),
        st.sampled_from(["", "i", "I"]),
        st.sampled_from(["B", "b", "", "ytes"]),
    ),
)


@hypothesis_settings(max_examples=300, deadline=None)
@given(memory_sizes)
def test_a_memory_limit_is_refused_at_start_or_taken_by_duckdb(value: str) -> None:
    try:
        limit = Settings(duckdb_memory_limit=value).duckdb_memory_limit
    except ValidationError as exc:
        assert "CONVTRACK_DUCKDB_MEMORY_LIMIT" in str(exc)
        return
    # What the settings accept, every DuckDB of the pipeline accepts (connect_duckdb).
    duckdb.connect(config={"memory_limit": limit}).close()


# Engine: a typo fails at start, naming the variable, not inside a run.


@pytest.mark.parametrize(("value", "hint"), [("sprak", " (did you mean 'spark'?)"), ("", "")])
def test_an_unknown_engine_is_refused_with_the_choices(value: str, hint: str) -> None:
    assert refusal(CONVTRACK_ENGINE=value) == [
        f"CONVTRACK_ENGINE: {value!r} is not an engine; write duckdb or spark{hint}"
    ]


@pytest.mark.parametrize("value", ["local", "local[1]", "local[*]", "local[2,3]", "yarn"])
def test_spark_masters_are_accepted(value: str) -> None:
    assert Settings(spark_master=value).spark_master == value


@pytest.mark.parametrize("value", ["", "local[two]", "127.0.0.1:7077", "spark://"])
def test_what_is_no_spark_master_is_refused(value: str) -> None:
    (problem,) = refusal(CONVTRACK_SPARK_MASTER=value)
    assert problem.startswith(f"CONVTRACK_SPARK_MASTER: {value!r} is not a Spark master URL")


# Near-misses of every form, hostile text, huge counts and URLs, other scripts and controls.
spark_masters = st.one_of(
    hostile_text,
    st.builds(
        lambda form, count: form.format(count),
        st.sampled_from(["local[{}]", "local[{},3]", "local[2,{}]", "LOCAL[{}]", "local[{}"]),
        st.one_of(
            st.integers(min_value=-1, max_value=10**30).map(str),
            st.text(st.characters(categories=["Nd"]), min_size=1, max_size=8),
        ),
    ),
    st.builds(
        lambda scheme, rest: scheme + rest,
        st.sampled_from(["spark://", "k8s://", "mesos://", "yarn", "spark:/", "http://"]),
        st.one_of(st.text(max_size=40), st.text(st.characters(max_codepoint=126), min_size=3000)),
    ),
)


@hypothesis_settings(max_examples=300, deadline=None)
@given(
    engine=st.one_of(hostile_text, st.sampled_from(["duckdb", " Spark ", "sprak"])),
    master=spark_masters,
)
def test_an_engine_and_master_are_refused_at_start_or_fit_an_environment(
    engine: str, master: str
) -> None:
    for name, value in (("engine", engine), ("spark_master", master)):
        try:
            taken = getattr(Settings(**{name: value}), name)
        except ValidationError as exc:
            assert env_var(name) in str(exc)
            continue
        # Whatever the settings take travels to dbt and Spark as an environment variable.
        assert taken.isascii() and taken.isprintable() and len(taken) <= MAX_SPARK_MASTER_CHARS
        os.environ["CONVTRACK_PROPERTY_PROBE"] = taken
        del os.environ["CONVTRACK_PROPERTY_PROBE"]


# A Spark Thrift server: host:port, refused at start when it is not one.


@pytest.mark.parametrize(
    ("value", "kept", "address"),
    [
        ("127.0.0.1:10000", "127.0.0.1:10000", ("127.0.0.1", 10000)),
        (" Spark-Thrift.internal:1 ", "spark-thrift.internal:1", ("spark-thrift.internal", 1)),
        ("[::1]:65535", "[::1]:65535", ("::1", 65535)),
        ("", None, None),
    ],
)
def test_a_thrift_server_is_read_from_the_environment(
    monkeypatch, value: str, kept: str | None, address: tuple[str, int] | None
) -> None:
    monkeypatch.setenv("CONVTRACK_SPARK_THRIFT", value)
    settings = Settings()
    assert (settings.spark_thrift, settings.spark_thrift_address) == (kept, address)


@pytest.mark.parametrize(
    "value",
    ["thrift", "thrift:", ":10000", "host:0", "host:65536", "-host:1", "a..b:1", "[::g]:1",
     "::1:10000", "h\u00f6st:1", "host:1:2", "host:+1", "host :1", "a" * 300 + ":1"],
)  # fmt: skip
def test_what_is_no_thrift_server_is_refused(value: str) -> None:
    (problem,) = refusal(CONVTRACK_SPARK_THRIFT=value)
    assert problem.startswith(f"CONVTRACK_SPARK_THRIFT: {value!r} is not a Spark Thrift server")


def test_a_thrift_server_and_a_master_are_not_both_taken() -> None:
    assert refusal(CONVTRACK_SPARK_THRIFT="127.0.0.1:10000", CONVTRACK_SPARK_MASTER="local[1]") == [
        "CONVTRACK_SPARK_MASTER and CONVTRACK_SPARK_THRIFT are both set: a Thrift server "
        "runs on the master it was started with; unset one of them"
    ]


# Near-misses of host:port, hostile text, ports past the range, hosts past a name's length.
thrift_servers = st.one_of(
    hostile_text,
    st.builds(
        lambda host, sep, port: f"{host}{sep}{port}",
        st.one_of(
            st.sampled_from(["127.0.0.1", "[::1]", "spark", "", "[spark]", "-x", "x-"]),
            st.text(st.characters(max_codepoint=126), max_size=20),
            st.integers(min_value=1, max_value=400).map(lambda n: "a" * n),
            st.integers(min_value=1, max_value=70).map(lambda n: ".".join(["b" * 63] * n)),
        ),
        st.sampled_from([":", "", "::", " : "]),
        st.one_of(
            st.integers(min_value=-1, max_value=10**30).map(str),
            st.text(st.characters(categories=["Nd"]), min_size=1, max_size=6),
        ),
    ),
)


@hypothesis_settings(max_examples=300, deadline=None)
@given(server=thrift_servers)
def test_a_thrift_server_is_refused_at_start_or_fits_a_profile(server: str) -> None:
    try:
        settings = Settings(spark_thrift=server)
    except ValidationError as exc:
        assert "CONVTRACK_SPARK_THRIFT" in str(exc)
        return
    if settings.spark_thrift is None:  # blank: unset
        assert not server.strip()
        return
    # What the settings take travels to dbt's profile as environment variables: a host of
    # a name's length and a port dbt can read.
    taken, (host, port) = settings.spark_thrift, settings.spark_thrift_address
    assert taken.isascii() and taken.isprintable() and len(taken) <= MAX_SPARK_THRIFT_CHARS
    assert 1 <= port <= 65535 and 0 < len(host) <= 253 and host.isascii()
    assert taken.endswith(f":{port}") and " " not in taken
    os.environ["CONVTRACK_PROPERTY_PROBE"] = host
    del os.environ["CONVTRACK_PROPERTY_PROBE"]
