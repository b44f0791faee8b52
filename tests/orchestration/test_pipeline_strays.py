"""A pipeline run (real Dagster, real dbt, real DuckDB) over raw data with stray
partitions: it builds the days it can, reports the rest in its log and on the command
line, and leaves them where they are."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pytest
from dagster import DagsterEventType, DagsterInstance
from typer.testing import CliRunner

from convtrack.cli import app
from convtrack.core import raw_schema
from convtrack.core.settings import Settings
from orchestration.run import run_pipeline
from tests.orchestration.test_jobs import AS_OF, OLD_DAY, make_raw
from tests.orchestration.test_raw_partitions import make_strays


@pytest.fixture
def settings(tmp_path: Path, monkeypatch) -> Settings:
    # dbt runs as a subprocess and finds the warehouse through this variable.
    monkeypatch.setenv("CONVTRACK_DATA_DIR", str(tmp_path / "data"))
    return Settings(data_dir=tmp_path / "data")


def test_a_run_builds_its_days_and_sets_stray_partitions_aside(settings):
    make_raw(settings.raw_dir)
    strays = make_strays(settings.raw_dir)
    instance = DagsterInstance.ephemeral()

    run = run_pipeline(settings, AS_OF, instance=instance, log_level="WARNING")

    assert run is not None and run.success
    assert (run.first_day, run.last_day) == (OLD_DAY, AS_OF)
    assert sorted(e.path.name for e in run.set_aside) == sorted(p.name for p in strays)
    with duckdb.connect(str(settings.published_path), read_only=True) as con:
        assert con.execute("select count(*) from fct_clicks").fetchone() == (5,)
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        assert con.execute("select min(dt), max(dt) from raw.clicks").fetchone() == (
            OLD_DAY,
            AS_OF - dt.timedelta(days=3),
        )
    assert all(p.exists() for p in strays)
    warnings = [
        e.message
        for e in instance.all_logs(run.run_id)
        if e.level == 30 and "set aside" in (e.message or "")
    ]
    for stray in strays:
        assert any(stray.name in w for w in warnings), stray
    materialized = instance.all_logs(run.run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION)
    loads = [
        e.asset_materialization.metadata
        for e in materialized
        if e.asset_materialization.asset_key.path[0] == "raw"
    ]
    assert len(loads) == len(raw_schema.STREAMS)  # one per stream, whatever the days
    for metadata in loads:
        assert (metadata["first_day"].value, metadata["last_day"].value) == (
            str(OLD_DAY),
            str(AS_OF),
        )


def test_the_command_line_reports_strays_even_with_nothing_to_build(settings):
    strays = make_strays(settings.raw_dir)
    result = CliRunner().invoke(app, ["pipeline", "run", "--as-of", str(AS_OF)])
    assert result.exit_code == 0, result.output
    assert "nothing to build" in result.output
    for stray in strays:
        assert f"warning: set aside, not built: {stray}" in result.output


@pytest.mark.parametrize("as_of", ["2019-12-31", "9999-12-31", "tomorrow"])
def test_the_command_line_refuses_a_day_no_partition_holds(settings, as_of):
    if as_of == "tomorrow":
        as_of = str(dt.datetime.now(dt.UTC).date() + dt.timedelta(days=1))
    result = CliRunner().invoke(app, ["pipeline", "run", "--as-of", as_of])
    assert result.exit_code == 2
    assert "must be between 2020-01-01 and today" in result.output
