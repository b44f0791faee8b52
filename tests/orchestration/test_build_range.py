import datetime as dt
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from dagster import DagsterInvalidConfigError, validate_run_config
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from convtrack.core import raw_schema
from convtrack.core.settings import Settings
from orchestration.build_range import BuildRange, build_run_config, dbt_run_env
from orchestration.definitions import defs
from tests.collector.strategies import hostile_text


def _day_with_clicks(raw_dir, day: dt.date) -> None:
    d = raw_schema.partition_dir(raw_dir, "clicks", day)
    d.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist([], schema=raw_schema.CLICKS), d / "w-1.parquet")


def test_an_unset_range_runs_from_the_first_raw_day_to_today(tmp_path):
    settings = Settings(data_dir=tmp_path)
    today = dt.datetime.now(dt.UTC).date()
    assert BuildRange().days(settings) == (today, today)  # no raw data yet
    first = today - dt.timedelta(days=40)
    _day_with_clicks(settings.raw_dir, first)
    _day_with_clicks(settings.raw_dir, today - dt.timedelta(days=3))
    assert BuildRange().days(settings) == (first, today)
    assert BuildRange(last_day="2026-03-31").days(settings) == (
        dt.date(2026, 3, 31),
        dt.date(2026, 3, 31),
    )


def test_the_pipeline_job_accepts_the_range_its_starters_build():
    config = build_run_config(dt.date(2026, 3, 1), dt.date(2026, 3, 31), log_level="WARNING")
    resolved = validate_run_config(defs.resolve_job_def("pipeline"), config.to_config_dict())
    assert resolved["resources"]["build_range"]["config"] == {
        "first_day": "2026-03-01",
        "last_day": "2026-03-31",
    }


@pytest.mark.parametrize(
    ("first", "last", "message"),
    [
        ("2026-02-30", "2026-03-31", "'2026-02-30' is not a date"),
        ("2026-04-01", "2026-03-31", "first_day 2026-04-01 is after last_day 2026-03-31"),
    ],
)
def test_a_range_that_is_no_range_is_refused_with_its_reason(first, last, message):
    with pytest.raises(ValueError, match=message):
        BuildRange(first_day=first, last_day=last)
    run_config = {"resources": {"build_range": {"config": {"first_day": first, "last_day": 3}}}}
    with pytest.raises(DagsterInvalidConfigError):
        validate_run_config(defs.resolve_job_def("pipeline"), run_config)


def test_dbt_hears_the_run_through_the_environment_and_the_settings_always(tmp_path):
    settings = Settings(
        data_dir=tmp_path,
        attribution_window_days=14,
        reporting_timezone="Europe/Berlin",
        duckdb_memory_limit="1.5GiB",
    )
    assert dbt_run_env(
        settings, start_date=dt.date(2026, 3, 1), as_of=dt.date(2026, 3, 31), run_id="r1"
    ) == {
        "CONVTRACK_DBT_START_DATE": "2026-03-01",
        "CONVTRACK_DBT_AS_OF": "2026-03-31",
        "CONVTRACK_DBT_RUN_ID": "r1",
        "CONVTRACK_DBT_ATTRIBUTION_WINDOW_DAYS": "14",
        "CONVTRACK_DBT_LONGEST_WINDOW_DAYS": "14",
        "CONVTRACK_DBT_REPORTING_TIMEZONE": "Europe/Berlin",
        "CONVTRACK_DBT_DUCKDB_MEMORY_LIMIT": "1.5GiB",
        "CONVTRACK_DBT_TARGET": "duckdb",
    }
    # A prune tells only the settings: no range, no as-of build.
    assert set(dbt_run_env(settings)) == {
        "CONVTRACK_DBT_ATTRIBUTION_WINDOW_DAYS",
        "CONVTRACK_DBT_LONGEST_WINDOW_DAYS",
        "CONVTRACK_DBT_REPORTING_TIMEZONE",
        "CONVTRACK_DBT_DUCKDB_MEMORY_LIMIT",
        "CONVTRACK_DBT_TARGET",
    }


def test_on_spark_dbt_also_hears_the_master_and_the_raw_tables(tmp_path):
    settings = Settings(data_dir=tmp_path, engine="spark", spark_master="local[1]")
    sources = {"clicks": {"location": "/d/raw/clicks", "columns": [], "days": []}}
    env = dbt_run_env(settings, spark_raw_sources=sources)
    assert env["CONVTRACK_DBT_TARGET"] == "spark"
    assert env["CONVTRACK_DBT_SPARK_MASTER"] == "local[1]"
    assert json.loads(env["CONVTRACK_DBT_SPARK_RAW_SOURCES"]) == sources
    assert not [name for name in env if "THRIFT" in name]


def test_with_a_thrift_server_dbt_hears_its_host_and_port_and_no_master(tmp_path):
    settings = Settings(data_dir=tmp_path, engine="spark", spark_thrift="[::1]:10001")
    env = dbt_run_env(settings)
    assert env["CONVTRACK_DBT_TARGET"] == "spark_thrift"
    assert (env["CONVTRACK_DBT_SPARK_THRIFT_HOST"], env["CONVTRACK_DBT_SPARK_THRIFT_PORT"]) == (
        "::1",
        "10001",
    )
    assert "CONVTRACK_DBT_SPARK_MASTER" not in env
    # On DuckDB the Thrift server is no business of dbt's.
    duckdb_env = dbt_run_env(Settings(data_dir=tmp_path, spark_thrift="[::1]:10001"))
    assert duckdb_env["CONVTRACK_DBT_TARGET"] == "duckdb"
    assert not [name for name in duckdb_env if "SPARK" in name]


day_texts = st.one_of(
    hostile_text,
    st.dates().map(dt.date.isoformat),  # year 1 to 9999
    st.builds(
        "{}-{}-{}".format,
        st.integers(-99999, 99999),
        st.integers(-1, 13),
        st.integers(-1, 32),
    ),
)


@hypothesis_settings(max_examples=300, deadline=None)
@given(st.one_of(st.none(), day_texts), st.one_of(st.none(), day_texts))
def test_a_range_is_refused_with_a_reason_or_is_a_range(first, last):
    try:
        # No raw data here: an unset first day is the last day.
        build_range = BuildRange(first_day=first, last_day=last)
        first_day, last_day = build_range.days(Settings(data_dir=Path("/nonexistent/convtrack")))
    except ValueError as exc:  # pydantic's ValidationError too, naming the field
        assert "first_day" in str(exc) or "last_day" in str(exc)
        return
    assert first_day <= last_day
    assert (first is None or first_day.isoformat() == first) and (
        last is None or last_day.isoformat() == last
    )


def test_the_dbt_side_reads_the_variables_the_orchestration_sets():
    from convtrack.core.rules import DBT_PROJECT_DIR
    from orchestration.build_range import DBT_ENV_PREFIX, dbt_env_name

    # macros/run_var.sql builds the name from the var's; profiles.yml names its one.
    assert (
        f"'{DBT_ENV_PREFIX}' ~ (name | upper)"
        in (DBT_PROJECT_DIR / "macros" / "run_var.sql").read_text()
    )
    assert dbt_env_name("duckdb_memory_limit") in (DBT_PROJECT_DIR / "profiles.yml").read_text()
