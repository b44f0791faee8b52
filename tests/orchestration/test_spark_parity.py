"""The same raw files give the same published marts on DuckDB and on Spark.

The scenario of tests/dbt/test_dbt_incremental.py (two months of clicks and conversions,
every verdict, retries, duplicate orders, late events, a reporting zone west of UTC) is
written as Parquet in the data/raw layout, with what a real data directory also holds: a
day whose compaction was interrupted before it deleted its inputs, a day after the run's
as-of and a directory that is no day. Each engine builds it through the real pipeline
(`run_pipeline`: Dagster, dbt, publish) - DuckDB at once, Spark in two runs as the data
arrives, late events last, the second one incremental from the first day with new files
(as the raw-data sensor runs it); every published mart must hold the same rows both ways
(EXCEPT ALL), with the same columns and types, and the second Spark run must have
rewritten only the day partitions of its recompute range. Some conversions carry touch
paths (every reason to drop a touch, and raw text the collector could not have written):
the touch ledger and the attribution models' credits must be the same both ways too, and
so must refunds (partials, over-refunds, a cent split under the models, the ledger) and
their split. The dbt unit tests run on Spark too.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
import time
import zlib
from collections import defaultdict
from collections.abc import Iterator
from decimal import Decimal
from importlib.metadata import version
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from dagster import DagsterInstance

from convtrack.core import raw_schema
from convtrack.core.compaction import compact_partition
from convtrack.core.rules import DBT_PROJECT_DIR, default_attribution_window_days
from convtrack.core.settings import Settings
from orchestration.dbt_env import dbt_environment
from orchestration.project import dbt_executable
from orchestration.run import run_pipeline
from tests.dbt.test_dbt_incremental import (
    CLICKS,
    CONVERSIONS,
    D1,
    D2,
    FIRST_DAY,
    L1,
    L2,
    LATE,
    REPORTING_TZ,
)
from tests.marts import RUN_METADATA, mart_tables

# DuckDB once and Spark twice through the real pipeline: longer than the suite's usual limit.
pytestmark = [pytest.mark.spark, pytest.mark.slow, pytest.mark.timeout(1800)]

AS_OF = D2
# Columns of _meta that say which run and engine built the marts, not what they hold.
RUN_COLUMNS = ("run_id", "built_at", "engine", "engine_version")
# A day whose small files were compacted, and one of them is back: the compaction was
# interrupted after writing the merged file, before deleting its inputs.
COMPACTED_DAY = dt.date(2026, 1, 20)
# What Spark and Derby would leave in the working directory if not told where to go.
SPARK_LITTER = ("metastore_db", "derby.log", "spark-warehouse")
# The second Spark run starts at the first day with new files, as the raw-data sensor's
# run would: its recompute range starts there, or the lookback (window + 1 days) before.
SECOND_RUN_FIRST_DAY = D1 + dt.timedelta(days=1)
LOOKBACK = dt.timedelta(days=default_attribution_window_days() + 1)
# Spark's incremental tables: schema, and whether their recompute range has the lookback
# (dbt_project/macros/incremental/incremental_config.sql).
INCREMENTAL_TABLES = {
    "stg_collector__clicks": ("staging", False),
    "stg_collector__conversions": ("staging", False),
    "int_clicks_per_tracking_id": ("intermediate", False),
    "fct_clicks": ("marts", False),
    "fct_conversions": ("marts", True),
    "fct_unattributed_conversions": ("marts", True),
    "mart_attribution": ("marts", True),
    "agg_daily_link_metrics": ("marts", True),
}


def scenario_rows(*, later: bool) -> dict[str, list[tuple]]:
    """The scenario's raw rows, per stream, with their day last: the days up to D1 (the
    links too), or with `later` the days after D1 and the late events (some of them on
    days before D1)."""
    # link-2 carries its own window, shorter than the default (docs/rules.md#windows-per-link).
    links = [
        (link, code, "https://example.com", code, f"yt-{code}", "d",
         dt.datetime.combine(FIRST_DAY, dt.time()), None,
         dt.datetime.combine(FIRST_DAY, dt.time()), window, FIRST_DAY)
        for link, code, window in [("link-1", "one", None), ("link-2", "two", 7)]
    ]  # fmt: skip
    late = {stream: [row for s, row in LATE if s == stream] for stream in ("clicks", "conversions")}
    if later:
        return {
            "clicks": [r for r in CLICKS if r[-1] > D1] + late["clicks"],
            "conversions": [r for r in CONVERSIONS if r[-1] > D1] + late["conversions"],
            "refunds": [r for r in REFUNDS if r[-1] > D1],
        }
    return {
        "clicks": [r for r in CLICKS if r[-1] <= D1],
        "conversions": [r for r in CONVERSIONS if r[-1] <= D1],
        "campaign_links": links,
        "refunds": [r for r in REFUNDS if r[-1] <= D1],
    }


def refund(event_id: str, order: str, amount: str, when: dt.datetime, received=None) -> tuple:
    received = received or when + dt.timedelta(seconds=5)
    return (event_id, order, Decimal(amount), "USD", "returned", when, received, "api",
            when.date())  # fmt: skip


# Refunds of the scenario's orders (docs/rules.md#refunds), by refund day: partials that
# add up, a retried one, over-refunds, a cent, one stamped before its purchase, one of an
# order no purchase has, one near midnight UTC (the day before in REPORTING_TZ), and
# refunds of the purchases that arrive late (o-late; o-rescued's click comes late).
REFUNDS = [
    refund("rf-1", "o-2026-01-10-0", "2.00", dt.datetime(2026, 1, 15, 10)),
    refund("rf-2", "o-2026-01-10-0", "2.50", dt.datetime(2026, 1, 16, 10)),
    refund("rf-2", "o-2026-01-10-0", "2.50", dt.datetime(2026, 1, 16, 10),
           received=dt.datetime(2026, 1, 17, 10)),
    refund("rf-3", "o-2026-01-05-1", "1000.00", dt.datetime(2026, 1, 20, 10)),
    refund("rf-4", "o-2026-01-12-1", "0.01", dt.datetime(2026, 1, 21, 3)),
    refund("rf-5", "o-2026-01-12-0", "30.00", dt.datetime(2026, 1, 25, 8)),
    refund("rf-6", "o-2026-01-12-0", "80.00", dt.datetime(2026, 1, 26, 8)),
    refund("rf-7", "o-nobody", "5.00", dt.datetime(2026, 1, 3, 12)),
    refund("rf-8", "o-2026-02-10-0", "4.00", dt.datetime(2026, 2, 9, 12)),
    refund("rf-9", "o-2026-02-03-1", "6.00", dt.datetime(2026, 2, 20, 23, 30)),
    refund("rf-10", "o-late", "77.00", dt.datetime(2026, 2, 26, 9)),
    refund("rf-11", "o-rescued", "10.00", dt.datetime(2026, 2, 25, 9)),
]  # fmt: skip


def touches_of(conversion: tuple) -> str | None:
    """The raw `touches` of a scenario conversion, by its event id (retried copies carry
    the same): two in three carry none; the others a path through the scenario's clicks
    (t-<day>-<i>, on link-1 for odd i), its own click last - a click the day before; a
    click named with the other link, and a tracking id no click has; a click 40 days
    before (past the window) and one two days after the conversion - or raw text the
    collector could not have written, which is no touches."""
    event_id, tracking_id, link_id = conversion[:3]
    day = conversion[-1]

    def click(days: int, i: int, link: str | None = None) -> dict[str, str]:
        link = link or (L1 if i % 2 else L2)
        return {"tracking_id": f"t-{day + dt.timedelta(days=days)}-{i}", "campaign_link_id": link}

    own = {"tracking_id": tracking_id, "campaign_link_id": link_id}
    paths = [
        [click(-1, 0), own],
        [click(-2, 1), click(-1, 2, L1), {"tracking_id": "nobody", "campaign_link_id": L1}, own],
        [click(-40, 0), click(2, 1), click(-3, 3), own],
        # not ending with its own click; no JSON
        [own, click(-1, 0)],
        '[{"tracking_id": "t-2026-01-02-0", ',
    ]
    n = zlib.crc32(event_id.encode()) % (3 * len(paths))
    if n >= len(paths):
        return None
    return paths[n] if isinstance(paths[n], str) else raw_schema.touches_json(paths[n])


def write_raw(raw: Path, rows: dict[str, list[tuple]], name: str) -> None:
    """Rows as Parquet, one file `name` per stream and day; two on COMPACTED_DAY."""
    for stream, stream_rows in rows.items():
        schema = raw_schema.SCHEMAS[stream]
        # The scenario's rows have every column but touches, which touches_of gives.
        names = [n for n in schema.names if n != "touches"]
        by_day: dict[dt.date, list[dict]] = defaultdict(list)
        for row in stream_rows:
            fields = dict(zip(names, row[:-1], strict=True))
            if stream == "conversions":
                fields["touches"] = touches_of(row)
            by_day[row[-1]].append(fields)
        for day, day_rows in by_day.items():
            directory = raw_schema.partition_dir(raw, stream, day)
            directory.mkdir(parents=True, exist_ok=True)
            halves = [day_rows[::2], day_rows[1::2]] if day == COMPACTED_DAY else [day_rows]
            for n, half in enumerate(halves):
                table = pa.Table.from_pylist(half, schema=schema)
                pq.write_table(table, directory / f"{name}-{n}.parquet")


def leave_what_a_data_directory_holds(raw: Path) -> None:
    """An interrupted compaction on COMPACTED_DAY; a day after AS_OF and a directory that
    is no day, both set aside by both engines."""
    directory = raw_schema.partition_dir(raw, "clicks", COMPACTED_DAY)
    leftover = (directory / "w-0.parquet").read_bytes()
    merged = compact_partition(raw, "clicks", COMPACTED_DAY, segment_age_s=60)
    assert merged is not None and merged.name.startswith("compact-")
    (directory / "w-0.parquet").write_bytes(leftover)
    for name in (f"dt={AS_OF + dt.timedelta(days=3)}", "dt=garbage"):
        (raw / "clicks" / name).mkdir()
        shutil.copy(directory / "w-0.parquet", raw / "clicks" / name / "w-0.parquet")


def build(
    data_dir: Path, engine: str, as_of: dt.date = AS_OF, first_day: dt.date | None = None
) -> float:
    """One pipeline run on `engine` as of `as_of`, from `first_day` (default: the first
    day with raw data); the seconds it took."""
    with pytest.MonkeyPatch.context() as env:
        env.setenv("CONVTRACK_ENGINE", engine)
        env.setenv("CONVTRACK_REPORTING_TIMEZONE", REPORTING_TZ)
        settings = Settings(data_dir=data_dir)
        started = time.monotonic()
        run = run_pipeline(
            settings, as_of, instance=DagsterInstance.ephemeral(), first_day=first_day
        )
        assert run is not None and run.success, f"the {engine} run as of {as_of} failed"
        return time.monotonic() - started


def partition_files(data_dir: Path) -> dict[str, dict[str, int]]:
    """Per incremental Spark table, its partitions' Parquet files (`day=.../part-...`,
    named by the write that made them) and their modification times."""
    files = {}
    for table, (schema, _) in INCREMENTAL_TABLES.items():
        directory = Settings(data_dir=data_dir).spark_dir / "warehouse" / f"{schema}.db" / table
        files[table] = {
            path.relative_to(directory).as_posix(): path.stat().st_mtime_ns
            for path in directory.glob("*=*/*.parquet")
        }
    return files


def partition_day(name: str) -> dt.date:
    """The day of a partition file `column=YYYY-MM-DD/part-...`."""
    return dt.date.fromisoformat(name.split("/")[0].split("=")[1])


def mart_differences(left: Path, right: Path) -> list[str]:
    """What tells two published snapshots apart, one line each: a table only one holds,
    a column's name or type, rows one holds more often than the other (EXCEPT ALL, both
    ways). The run's own columns of _meta are left out."""
    con = duckdb.connect()
    con.execute("attach ? as l (read_only)", [str(left)])
    con.execute("attach ? as r (read_only)", [str(right)])

    def columns(db: str, table: str) -> list[tuple[str, str]]:
        return con.execute(
            "select column_name, data_type from duckdb_columns() "
            "where database_name = ? and table_name = ? order by column_index",
            [db, table],
        ).fetchall()

    def tables(db: str) -> set[str]:
        names = con.execute(
            "select table_name from duckdb_tables() where database_name = ?", [db]
        ).fetchall()
        return {name for (name,) in names}

    found = [f"{t}: only in {left}" for t in sorted(tables("l") - tables("r"))]
    found += [f"{t}: only in {right}" for t in sorted(tables("r") - tables("l"))]
    for table in sorted(tables("l") & tables("r")):
        if columns("l", table) != columns("r", table):
            found.append(f"{table}: columns {columns('l', table)} != {columns('r', table)}")
            continue
        kept = [f'"{c}"' for c, _ in columns("l", table) if c not in RUN_COLUMNS]
        select = f"select {', '.join(kept)} from"
        for a, b in (("l", "r"), ("r", "l")):
            (n,) = con.execute(
                f'select count(*) from ({select} {a}."{table}" except all {select} {b}."{table}")'
            ).fetchone()
            if n:
                found.append(f"{table}: {n} rows of {a} not in {b}")
    con.close()
    return found


@pytest.fixture(scope="module")
def snapshots(tmp_path_factory) -> Iterator[dict]:
    """The scenario built on DuckDB in one run, and on Spark as it arrives: the first
    month as of D1, then the rest with the late events as of AS_OF - so Spark's raw
    tables take in the days and files that came between its runs."""
    built = {}
    for engine in ("duckdb", "spark"):
        data_dir = built[f"{engine}_dir"] = tmp_path_factory.mktemp(engine)
        write_raw(data_dir / "raw", scenario_rows(later=False), "w")
        leave_what_a_data_directory_holds(data_dir / "raw")
        if engine == "spark":
            built["spark_first_seconds"] = build(data_dir, engine, D1)
            built["spark_files_before"] = partition_files(data_dir)
        write_raw(data_dir / "raw", scenario_rows(later=True), "later")
        first_day = SECOND_RUN_FIRST_DAY if engine == "spark" else None
        built[f"{engine}_seconds"] = build(data_dir, engine, first_day=first_day)
        built[engine] = Settings(data_dir=data_dir).published_path
    built["spark_files_after"] = partition_files(built["spark_dir"])
    print(
        f"\npipeline runs: duckdb {built['duckdb_seconds']:.0f} s, spark "
        f"{built['spark_first_seconds']:.0f} s then {built['spark_seconds']:.0f} s"
    )
    yield built


def test_every_published_mart_is_the_same_on_both_engines(snapshots):
    assert mart_differences(snapshots["duckdb"], snapshots["spark"]) == []
    with duckdb.connect(str(snapshots["spark"]), read_only=True) as con:
        tables = sorted(name for (name,) in con.execute("show tables").fetchall())
        assert tables == mart_tables()
        counts = {t: con.execute(f'select count(*) from "{t}"').fetchone()[0] for t in tables}
    # Every mart holds rows, the ledger of every reason too: the comparison compared.
    assert all(counts.values()), counts
    assert counts["fct_unattributed_conversions"] > 10
    assert counts["fct_refunds"] >= 5 and counts["fct_unattributed_refunds"] >= 3


# The models of touches, attribution models and refunds, not published: compared as built.
TOUCH_MODELS = (
    "int_conversion_touches",
    "int_attribution_credits",
    "int_refunds_judged",
    "int_refund_credits",
)


def intermediate_differences(snapshots: dict, table: str) -> tuple[list[int], int]:
    """Rows of `table` DuckDB holds that Spark does not and the other way round (EXCEPT
    ALL), and its row count: DuckDB's warehouse table against Spark's Parquet files."""
    duck = Settings(data_dir=snapshots["duckdb_dir"]).warehouse_path
    spark = Settings(data_dir=snapshots["spark_dir"]).spark_dir / "warehouse" / "intermediate.db"
    with duckdb.connect() as con:
        con.execute("attach ? as d (read_only)", [str(duck)])
        con.execute(f"create view s as select * from read_parquet('{spark / table}/*.parquet')")
        columns = ", ".join(
            name
            for (name,) in con.execute(
                "select column_name from duckdb_columns() where database_name = 'd' "
                "and schema_name = 'intermediate' and table_name = ?",
                [table],
            ).fetchall()
        )
        assert columns, table
        d, s = f"select {columns} from d.intermediate.{table}", f"select {columns} from s"
        differences = [
            con.execute(f"select count(*) from ({a} except all {b})").fetchone()[0]
            for a, b in ((d, s), (s, d))
        ]
        return differences, con.execute(f"select count(*) from ({d})").fetchone()[0]


def test_touches_and_attribution_credits_are_the_same_on_both_engines(snapshots):
    for table in TOUCH_MODELS:
        differences, n = intermediate_differences(snapshots, table)
        assert differences == [0, 0] and n > 0, table
    duck = Settings(data_dir=snapshots["duckdb_dir"]).warehouse_path
    with duckdb.connect(str(duck), read_only=True) as con:
        statuses = dict(
            con.execute(
                "select touch_status, count(*) from intermediate.int_conversion_touches group by 1"
            ).fetchall()
        )
        (shared,) = con.execute(
            "select count(distinct event_id) from intermediate.int_attribution_credits "
            "where attribution_model = 'linear' and credited_conversions < 1"
        ).fetchone()
    # The comparison compared: every verdict, and conversions shared among several clicks.
    assert set(statuses) == {
        "verified", "no_click", "link_mismatch", "window_expired", "before_click"
    }, statuses  # fmt: skip
    assert shared > 10


def test_the_second_spark_run_rewrites_only_its_recompute_range(snapshots):
    # The late conversion (20 days after its click) and the late click that rescues a
    # no_click conversion came in this run: the marts agreeing above is the late data
    # judged as on DuckDB. Here: the days before the range kept their files, untouched.
    for table, (_, lookback) in INCREMENTAL_TABLES.items():
        first = SECOND_RUN_FIRST_DAY - (LOOKBACK if lookback else dt.timedelta())
        before = snapshots["spark_files_before"][table]
        after = snapshots["spark_files_after"][table]
        kept = {name: mtime for name, mtime in before.items() if partition_day(name) < first}
        assert kept, f"{table}: no partition before {first}: nothing to keep"
        assert {n: m for n, m in after.items() if partition_day(n) < first} == kept, table
        rewritten = {name for name in after if partition_day(name) >= first}
        assert rewritten and not rewritten & before.keys(), table
    # The build finished: nothing is pending for the next run.
    assert not (Settings(data_dir=snapshots["spark_dir"]).spark_dir / "pending_build").exists()


def test_each_partitioned_mart_keeps_a_file_of_its_columns(snapshots):
    # A mart without rows (the ledger before the first conversion) has no data file when
    # Spark partitions it by day: publish then reads the empty file of its columns, which
    # must be the columns and types of the data files.
    directory = Settings(data_dir=snapshots["spark_dir"]).spark_dir / "warehouse" / "marts.db"
    with duckdb.connect() as con:
        for table, (schema, _) in INCREMENTAL_TABLES.items():
            if schema != "marts":
                continue

            def columns(files: str) -> list[tuple]:
                return con.execute(
                    f"describe select * from read_parquet('{files}', hive_partitioning = false)"
                ).fetchall()

            empty = directory / table / "_columns" / "*.parquet"
            assert con.execute(f"select count(*) from '{empty}'").fetchone() == (0,)
            assert columns(str(empty)) == columns(str(directory / table / "*=*" / "*.parquet"))


def test_the_comparison_sees_a_single_changed_value(snapshots, tmp_path):
    changed = tmp_path / "changed.duckdb"
    shutil.copy(snapshots["duckdb"], changed)
    with duckdb.connect(str(changed)) as con:
        con.execute(
            "update mart_revenue_by_type set revenue = revenue + 0.01 "
            "where rowid = (select min(rowid) from mart_revenue_by_type)"
        )
    assert mart_differences(snapshots["duckdb"], changed) == [
        "mart_revenue_by_type: 1 rows of l not in r",
        "mart_revenue_by_type: 1 rows of r not in l",
    ]


def test_meta_says_which_engine_built_the_marts(snapshots):
    for engine, engine_version in (("duckdb", duckdb.__version__), ("spark", version("pyspark"))):
        with duckdb.connect(str(snapshots[engine]), read_only=True) as con:
            assert con.execute(f"select engine, engine_version from {RUN_METADATA}").fetchall() == [
                (engine, engine_version)
            ]


def test_spark_reads_each_raw_row_once_and_leaves_the_raw_files_be(snapshots):
    # _meta counts raw rows before dedup: equal on both (compared above) and to the files.
    raw = snapshots["spark_dir"] / "raw"
    with duckdb.connect(str(snapshots["spark"]), read_only=True) as con:
        (raw_clicks,) = con.execute(f"select raw_clicks from {RUN_METADATA}").fetchone()
    assert raw_clicks == len(CLICKS) + sum(1 for s, _ in LATE if s == "clicks")
    # The interrupted compaction was finished (its leftover input deleted); nothing else
    # in data/raw changed: the set-aside directories are still there.
    compacted = raw_schema.partition_dir(raw, "clicks", COMPACTED_DAY)
    assert [f.name[:8] for f in compacted.glob("*.parquet")] == ["compact-"]
    assert (raw / "clicks" / "dt=garbage" / "w-0.parquet").exists()


def test_spark_leaves_nothing_where_it_runs(snapshots):
    for directory in (DBT_PROJECT_DIR, Path.cwd()):
        assert not [name for name in SPARK_LITTER if (directory / name).exists()], directory
    spark_dir = snapshots["spark_dir"] / "spark"
    assert (spark_dir / "metastore_db").is_dir() and (spark_dir / "warehouse").is_dir()


def test_the_dbt_unit_tests_pass_on_spark(snapshots, tmp_path):
    # The models' own unit tests (window edges, dedup, bots ...), on the built warehouse
    # whose relations give their inputs' columns; `make test` runs them on DuckDB too.
    # Not the run's environment: its settings would override the vars the tests set.
    settings = Settings(data_dir=snapshots["spark_dir"], engine="spark")
    with dbt_environment(settings):
        result = subprocess.run(
            [
                dbt_executable(), "test", "--select", "test_type:unit", "--target", "spark",
                "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR),
                "--target-path", str(tmp_path), "--log-path", str(tmp_path),
            ],
            capture_output=True,
            text=True,
        )  # fmt: skip
    assert result.returncode == 0, result.stdout[-5000:]
    run_results = json.loads((tmp_path / "run_results.json").read_text())
    unit_tests = [r for r in run_results["results"] if r["unique_id"].startswith("unit_test.")]
    assert len(unit_tests) >= 8 and {r["status"] for r in unit_tests} == {"pass"}
