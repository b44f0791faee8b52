"""A prune stopped after any of its steps, then run again, ends exactly where an
uninterrupted prune ends: on DuckDB and on Spark, every retention table and every
published mart hold the same rows (EXCEPT ALL, both ways), nothing recorded twice.

The warehouse is built through the real pipeline from the scenario of
test_retention_keeps_answers (clicks and conversions on both sides of the horizon). The
prune then runs as the prune job runs it (dbt's run-operation), in this process so that
Spark starts once: first uninterrupted, which names its steps in its log, then, from the
same built warehouse each time, stopped after each step in turn (on Spark, after a
chosen one of each kind: SPARK_STEPS) and run again.

How it is stopped: the macro's `fail_after` argument raises right after the named step
(dbt_project/macros/retention/rewrite_rows.sql, prune_checkpoint). Nothing else is
deterministic here: CI runs as root, so no file permission makes a write fail, and
killing the process at a moment would hit a different statement on every run. A raise
is what a crash leaves on Spark, where every statement stands on its own; on DuckDB the
prune is one transaction, which the raise rolls back, as a crash would. Inside a Spark
rewrite, `<step>:overwriting` also empties the table first, as a crash inside
`insert overwrite` (old files deleted, new ones not written) would.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import time
from pathlib import Path

import duckdb
import pytest
from dagster import DagsterInstance
from dbt.cli.main import dbtRunner

from convtrack.core.rules import DBT_PROJECT_DIR
from convtrack.core.settings import Settings
from orchestration.assets.publish import publish_snapshot, spark_table_dir
from orchestration.build_range import dbt_run_env
from orchestration.dbt_env import dbt_environment
from orchestration.run import run_pipeline
from tests.marts import lifetime_marts
from tests.orchestration.test_retention_keeps_answers import AS_OF, scenario, write_raw
from tests.orchestration.test_spark_parity import mart_differences

pytestmark = pytest.mark.slow

RETENTION_DAYS = 31
RETENTION_TABLES = (
    "pruned_tracking_ids",
    "pruned_daily_link_metrics",
    "pruned_converting_clicks",
    "pruned_conversion_ids",
    "pruned_order_ids",
    "pruned_attribution_credits",
    "pruned_touch_verification",
    "pruned_credited_event_ids",
    "pruned_window_sensitivity",
    "pruned_window_order_ids",
    "pruned_order_facts",
    "pruned_purchase_credits",
    "prune_log",
    "prune_started",
)
STEP_DONE = re.compile(r"prune_row_level_data: step done: (\S.*)$")
# A later day: a prune stopped as of AS_OF, then one as of this day.
LATER = AS_OF + dt.timedelta(days=3)


class InProcessDbt:
    """dbt in this process on one engine's data directory: Spark starts once."""

    def __init__(self, settings: Settings, work_dir: Path):
        self.settings = settings
        self.work_dir = work_dir
        self.manifest = None
        self.manifest = self.invoke(["parse"])[0].result
        if settings.engine == "spark":
            # Starts dbt's Spark session (its catalogue, this data directory's), which
            # the test then shares; a step of every prune, harmless on its own.
            assert self.invoke(["run-operation", "finish_interrupted_rewrites"])[0].success

    def invoke(self, args: list[str]) -> tuple:
        logged: list[str] = []

        def keep(event) -> None:
            if event.info.name == "JinjaLogInfo" or event.info.level == "error":
                logged.append(event.info.msg)

        try:
            with dbt_environment(self.settings, dbt_run_env(self.settings)):
                result = dbtRunner(manifest=self.manifest, callbacks=[keep]).invoke(
                    [
                        *args,
                        "--project-dir", str(DBT_PROJECT_DIR),
                        "--profiles-dir", str(DBT_PROJECT_DIR),
                        "--target-path", str(self.work_dir / "target"),
                        "--log-path", str(self.work_dir / "logs"),
                        "--quiet",
                    ]
                )  # fmt: skip
        finally:
            if self.settings.engine == "duckdb":
                # dbt-duckdb keeps the file open for the process's life; the test copies it.
                from dbt.adapters.duckdb.connections import DuckDBConnectionManager

                if DuckDBConnectionManager._ENV is not None:
                    DuckDBConnectionManager._ENV.close()
                    DuckDBConnectionManager._ENV = None
        return result, logged

    def prune(self, as_of: dt.date = AS_OF, fail_after: str | None = None) -> tuple:
        """The prune job's dbt step; (success, the steps it logged, its error)."""
        args = {"as_of": as_of.isoformat(), "retention_days": RETENTION_DAYS}
        if fail_after is not None:
            args["fail_after"] = fail_after
        result, logged = self.invoke(
            ["run-operation", "prune_row_level_data", "--args", json.dumps(args)]
        )
        steps = [m.group(1) for line in logged if (m := STEP_DONE.search(line))]
        return result.success, steps, "\n".join([str(result.exception or ""), *logged])


class Warehouse:
    """One engine's built warehouse, put back as built before each interrupted prune."""

    def __init__(self, engine: str, data_dir: Path, work_dir: Path):
        self.engine = engine
        self.settings = Settings(data_dir=data_dir, engine=engine)
        self.pristine = work_dir / "pristine"
        shutil.copytree(self.tables_dir, self.pristine)
        self.before = work_dir / "published-before.duckdb"
        shutil.copy(self.settings.published_path, self.before)
        self.dbt = InProcessDbt(self.settings, work_dir)

    @property
    def tables_dir(self) -> Path:
        """Where the engine keeps every table's rows."""
        if self.engine == "spark":
            return self.settings.spark_dir / "warehouse"
        return self.settings.warehouse_dir

    def restore(self) -> None:
        if self.engine == "duckdb":
            shutil.copy(self.pristine / "warehouse.duckdb", self.settings.warehouse_path)
            return
        from pyspark.sql import SparkSession

        spark = SparkSession.builder.getOrCreate()  # the one dbt started
        for schema_dir in self.tables_dir.glob("*.db"):
            schema = schema_dir.name.removesuffix(".db")
            for table_dir in schema_dir.iterdir():
                if not (self.pristine / schema_dir.name / table_dir.name).exists():
                    spark.sql(f"drop table if exists {schema}.{table_dir.name}")
        for schema_dir in self.pristine.glob("*.db"):
            schema = schema_dir.name.removesuffix(".db")
            for table_dir in schema_dir.iterdir():
                live = self.tables_dir / schema_dir.name / table_dir.name
                shutil.rmtree(live, ignore_errors=True)
                shutil.copytree(table_dir, live)
                name = f"{schema}.{table_dir.name}"
                if any(c.isPartition for c in spark.catalog.listColumns(name)):
                    # The catalogue lists a partitioned table's days: a rewrite that
                    # emptied one dropped it there, and the copied folder is unseen
                    # until the catalogue learns the table's days again.
                    spark.sql(f"msck repair table {name} sync partitions")
                spark.sql(f"refresh table {name}")

    def retention_relations(self, con: duckdb.DuckDBPyConnection) -> dict[str, str]:
        """Each retention table, as DuckDB reads it."""
        if self.engine == "duckdb":
            con.execute("attach ? as wh (read_only)", [str(self.settings.warehouse_path)])
            return {t: f"wh.retention.{t}" for t in RETENTION_TABLES}
        return {
            t: f"read_parquet('{spark_table_dir(self.settings, 'retention', t)}/*.parquet')"
            for t in RETENTION_TABLES
        }

    def leftover_work_tables(self) -> list[str]:
        return sorted(p.name for p in self.tables_dir.glob("*.db/*__rewrite"))

    def state(self, into: Path) -> dict[str, list[tuple]]:
        """Publish the marts to `into`; the retention tables' rows."""
        publish_snapshot(self.settings)
        shutil.copy(self.settings.published_path, into)
        with duckdb.connect() as con:
            relations = self.retention_relations(con)
            return {
                t: con.execute(f"select * from {relation} order by all").fetchall()
                for t, relation in relations.items()
            }


# On Spark a prune takes a minute or more (five under load), so not every step is
# interrupted there: every insert records the same way, and every removal is the same
# rewrite. These are: the first and a middle record, the mark, each step inside one
# rewrite (and a crash inside its overwrite), and the _meta rewrite's overwrite.
SPARK_STEPS = (
    "record retention.prune_started",
    "record retention.pruned_daily_link_metrics",
    "record retention.prune_log",
    "remove fct_clicks:staged",
    "remove fct_clicks:marked",
    "remove fct_clicks:overwriting",
    "remove fct_clicks",
    "record retained_since:overwriting",
)


def interrupted_steps(engine: str, steps: list[str]) -> list[str]:
    """Every step of the prune on DuckDB; SPARK_STEPS on Spark, each a step it took."""
    if engine == "duckdb":
        return steps
    # A crash inside an overwrite comes after its rewrite's work table was marked.
    inside = {
        s.removesuffix(":overwriting") + ":marked"
        for s in SPARK_STEPS
        if s.endswith(":overwriting")
    }
    assert {s for s in SPARK_STEPS if not s.endswith(":overwriting")} | inside <= set(steps)
    return list(SPARK_STEPS)


def retention_differences(left: dict, right: dict) -> list[str]:
    """Rows one side holds more often than the other, per retention table (EXCEPT ALL,
    both ways: a row recorded twice is a difference)."""
    found = []
    for table in RETENTION_TABLES:
        for a, b, name in ((left, right, "interrupted"), (right, left, "uninterrupted")):
            extra = list(a[table])
            for row in b[table]:
                if row in extra:
                    extra.remove(row)
            if extra:
                found.append(f"{table}: {len(extra)} rows only after the {name} prune")
    return found


# A build and some twenty prunes on Spark: longer than the suite's usual limit.
SPARK = pytest.param("spark", marks=[pytest.mark.spark, pytest.mark.timeout(3600)])


@pytest.fixture(scope="module", params=["duckdb", SPARK])
def warehouse(request, tmp_path_factory) -> Warehouse:
    engine = request.param
    tmp = tmp_path_factory.mktemp(f"interrupted-{engine}")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("CONVTRACK_DATA_DIR", str(tmp / "data"))
        env.setenv("CONVTRACK_ENGINE", engine)
        settings = Settings(data_dir=tmp / "data")
        write_raw(settings.raw_dir, scenario())
        run = run_pipeline(settings, AS_OF, instance=DagsterInstance.ephemeral())
        assert run is not None and run.success
        yield Warehouse(engine, tmp / "data", tmp / "work")


@pytest.fixture(scope="module")
def uninterrupted(warehouse, tmp_path_factory) -> dict:
    """The state an uninterrupted prune as of AS_OF leaves, as of LATER too, and the
    steps it took."""
    tmp = tmp_path_factory.mktemp(f"uninterrupted-{warehouse.engine}")
    reference = {}
    for as_of in (AS_OF, LATER):
        warehouse.restore()
        started = time.monotonic()
        success, steps, error = warehouse.dbt.prune(as_of)
        seconds = time.monotonic() - started
        assert success, error
        published = tmp / f"published-{as_of}.duckdb"
        reference[as_of] = {"steps": steps, "seconds": seconds, "published": published,
                            "retention": warehouse.state(published)}  # fmt: skip
    print(f"\n{warehouse.engine}: a prune's dbt step took {reference[AS_OF]['seconds']:.1f} s")
    return reference


def test_the_prune_has_steps_to_interrupt_and_prunes(warehouse, uninterrupted):
    steps = uninterrupted[AS_OF]["steps"]
    assert len(steps) == len(set(steps)) >= 10, steps
    assert "record retention.prune_log" in steps
    retention = uninterrupted[AS_OF]["retention"]
    assert retention["pruned_tracking_ids"] and retention["pruned_daily_link_metrics"]
    assert retention["prune_log"] == [(AS_OF, RETENTION_DAYS, AS_OF - dt.timedelta(RETENTION_DAYS))]
    if warehouse.engine == "spark":  # a removal rewrites its table in steps
        assert {"remove fct_clicks:staged", "remove fct_clicks:marked"} <= set(steps)


def test_the_prune_changes_no_lifetime_mart(warehouse, uninterrupted):
    # Not the daily history, not the funnel, not revenue by type: on either engine.
    changed = mart_differences(warehouse.before, uninterrupted[AS_OF]["published"])
    assert [d for d in changed if d.split(":")[0] in lifetime_marts()] == []
    assert any(d.startswith("fct_clicks:") for d in changed)  # it did prune


def test_a_prune_stopped_after_any_step_then_run_again_ends_as_an_uninterrupted_one(
    warehouse, uninterrupted, tmp_path
):
    reference = uninterrupted[AS_OF]
    steps = interrupted_steps(warehouse.engine, reference["steps"])
    for n, step in enumerate(steps, 1):
        warehouse.restore()
        success, _, error = warehouse.dbt.prune(fail_after=step)
        assert not success and f"stopped after step '{step}'" in error, (step, error)
        success, _, error = warehouse.dbt.prune()
        assert success, (step, error)
        published = tmp_path / "published.duckdb"
        found = retention_differences(warehouse.state(published), reference["retention"])
        found += mart_differences(published, reference["published"])
        found += [f"left behind: {name}" for name in warehouse.leftover_work_tables()]
        assert found == [], f"stopped after {step!r}, then run again"
        print(f"{warehouse.engine}: {n}/{len(steps)} stopped after {step!r}, run again: the same")


@pytest.mark.parametrize(
    "step",
    [
        "record retention.pruned_daily_link_metrics",
        "record retention.pruned_order_ids",
        "record retention.pruned_attribution_credits",
    ],
)
def test_a_later_prune_after_an_unfinished_one_counts_nothing_of_it(
    warehouse, uninterrupted, tmp_path, step
):
    # Stopped while recording as of AS_OF; the next prune is as of LATER: it must end as
    # an uninterrupted prune as of LATER alone does.
    reference = uninterrupted[LATER]
    warehouse.restore()
    success, _, error = warehouse.dbt.prune(AS_OF, fail_after=step)
    assert not success and f"stopped after step '{step}'" in error, error
    success, _, error = warehouse.dbt.prune(LATER)
    assert success, error
    published = tmp_path / "published.duckdb"
    found = retention_differences(warehouse.state(published), reference["retention"])
    found += mart_differences(published, reference["published"])
    assert found == []


def test_a_step_that_does_not_exist_is_an_error(warehouse, uninterrupted):
    warehouse.restore()
    success, _, error = warehouse.dbt.prune(fail_after="no such step")
    assert not success and "names no step" in error, error
