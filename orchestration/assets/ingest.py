"""Load assets: each raw Parquet stream's day partitions into the DuckDB `raw` schema; on
Spark, where the raw tables read data/raw in place, what those tables are to read."""

import datetime as dt
from pathlib import Path

import duckdb
import pyarrow as pa
from dagster import AssetExecutionContext, AssetKey, AssetsDefinition, MaterializeResult, asset

from convtrack.core import raw_schema
from convtrack.core.compaction import drop_merged_inputs, live_files
from convtrack.core.raw_partitions import scan_raw_partitions
from orchestration.build_range import BuildRange
from orchestration.resources import ConvtrackSettings, WarehouseWriterLock, connect_duckdb

# Raw days a run loaded whose dbt build has not succeeded yet (`pending_build_since`).
PENDING_BUILD = "raw._pending_build"


def duckdb_type(t: pa.DataType) -> str:
    if pa.types.is_int32(t):
        return "integer"
    if pa.types.is_string(t):
        return "varchar"
    if pa.types.is_timestamp(t):
        return "timestamp"
    if pa.types.is_decimal(t):
        return f"decimal({t.precision},{t.scale})"
    raise TypeError(f"no DuckDB type for {t}")


def spark_type(t: pa.DataType) -> str:
    if pa.types.is_int32(t):
        return "int"
    if pa.types.is_string(t):
        return "string"
    if pa.types.is_timestamp(t):
        return "timestamp"  # read in the session's zone, UTC (dbt_project/profiles.yml)
    if pa.types.is_decimal(t):
        return f"decimal({t.precision},{t.scale})"
    raise TypeError(f"no Spark type for {t}")


def raw_table_ddl(stream: str) -> list[str]:
    """raw.<stream> as the raw schema has it: created, and given the columns added to the
    schema since a warehouse's table was created (null in the rows loaded before)."""
    cols = [f"{f.name} {duckdb_type(f.type)}" for f in raw_schema.SCHEMAS[stream]]
    return [
        f"create table if not exists raw.{stream} ({', '.join([*cols, 'dt date'])})",
        *(f"alter table raw.{stream} add column if not exists {col}" for col in cols),
    ]


def _file_columns(con: duckdb.DuckDBPyConnection, stream: str, files: list[str]) -> str:
    """The select list of raw.<stream>'s columns from `files`: a column that no file has
    (written before it was added to the raw schema) is read as a typed null."""
    present = {
        d[0]
        for d in con.execute(
            "select * from read_parquet(?, union_by_name = true) limit 0", [files]
        ).description
    }
    return ", ".join(
        f.name if f.name in present else f"cast(null as {duckdb_type(f.type)}) as {f.name}"
        for f in raw_schema.SCHEMAS[stream]
    )


def partition_files(raw_dir: Path, stream: str, first: dt.date, last: dt.date) -> list[str]:
    """Every visible Parquet file of `stream` whose day lies in [first, last]."""
    days = scan_raw_partitions(raw_dir, last, [stream]).stream_days(stream)
    # live_files: a file already merged into a compacted one is left out.
    return [str(f) for day, d in sorted(days.items()) if day >= first for f in live_files(d)]


def day_ranges(days: list[dt.date]) -> list[tuple[str, str]]:
    """Consecutive days as (first, last) ISO pairs: years of days in a few pairs."""
    ranges: list[list[dt.date]] = []
    for day in sorted(days):
        if ranges and day - ranges[-1][1] == dt.timedelta(days=1):
            ranges[-1][1] = day
        else:
            ranges.append([day, day])
    return [(first.isoformat(), last.isoformat()) for first, last in ranges]


def spark_raw_sources(raw_dir: Path, last: dt.date) -> dict[str, dict]:
    """What the Spark engine registers as raw.<stream> (an external table over
    data/raw/<stream>, dbt_project/macros/raw/register_raw_tables.sql): its location,
    columns, and the day directories the DuckDB load reads up to `last`, as day ranges.
    A directory set aside is no partition, so it is never read."""
    scan = scan_raw_partitions(raw_dir, last)
    return {
        stream: {
            "location": str((Path(raw_dir) / stream).resolve()),
            "columns": [[f.name, spark_type(f.type)] for f in raw_schema.SCHEMAS[stream]],
            "days": day_ranges(list(scan.stream_days(stream))),
        }
        for stream in raw_schema.STREAMS
    }


def prepare_stream_for_spark(raw_dir: Path, stream: str, last: dt.date) -> int:
    """Make every day directory of `stream` up to `last` hold each row once; its files.

    A Spark table reads a day's directory whole, with no way to leave a file out; the
    DuckDB load reads `live_files`, without the inputs a compacted file already holds.
    Such inputs are left only by a compaction interrupted before its last step, which
    the next compaction would finish; it is finished here instead, so both engines
    read the same rows (docs/operations.md#engines). A stream nothing was written to yet
    (refunds, before the first) gets its empty directory: the table's location."""
    (Path(raw_dir) / stream).mkdir(parents=True, exist_ok=True)
    days = scan_raw_partitions(raw_dir, last, [stream]).stream_days(stream)
    for directory in days.values():
        drop_merged_inputs(directory)
    return sum(len(live_files(d)) for d in days.values())


def load_stream(
    con: duckdb.DuckDBPyConnection, raw_dir: Path, stream: str, first: dt.date, last: dt.date
) -> int:
    """Replace the days [first, last] of raw.<stream> with the Parquet files of those days.

    The day comes from the file's `dt=` directory, so reloading a day replaces exactly
    the files of that day, whatever they contain.
    """
    files = partition_files(raw_dir, stream, first, last)
    con.execute("create schema if not exists raw")
    for statement in raw_table_ddl(stream):
        con.execute(statement)
    con.execute("begin transaction")
    try:
        con.execute(f"delete from raw.{stream} where dt between ? and ?", [first, last])
        if files:
            # By name: a table that gained a column has it after `dt`.
            names = ", ".join([*raw_schema.SCHEMAS[stream].names, "dt"])
            columns = _file_columns(con, stream, files)
            con.execute(
                f"insert into raw.{stream} ({names}) select {columns}, cast(dt as date) "
                "from read_parquet(?, hive_partitioning = true, union_by_name = true)",
                [files],
            )
        con.execute(f"insert into {_pending_build(con)} values (?)", [first])
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
    return len(files)


def _pending_build(con: duckdb.DuckDBPyConnection) -> str:
    con.execute("create schema if not exists raw")
    con.execute(f"create table if not exists {PENDING_BUILD} (first_day date)")
    return PENDING_BUILD


def pending_build_since(con: duckdb.DuckDBPyConnection) -> dt.date | None:
    """The first raw day loaded by a run whose dbt build has not succeeded since.

    A run that loads old days and then fails in dbt leaves them loaded but not built; the
    next run may cover only today. It starts its incremental build from here instead,
    so no loaded day is ever skipped."""
    (first,) = con.execute(f"select min(first_day) from {_pending_build(con)}").fetchone()
    return first


def clear_pending_build(con: duckdb.DuckDBPyConnection) -> None:
    """A build from the earliest pending day (or before) succeeded: nothing is pending."""
    con.execute(f"delete from {_pending_build(con)}")


# The same on Spark, which has no DuckDB warehouse: a file in data/spark holding that day.
SPARK_PENDING_BUILD = "pending_build"


def spark_pending_build_since(spark_dir: Path) -> dt.date | None:
    """On Spark, the first raw day of a run whose dbt build has not succeeded since
    (`pending_build_since`): Spark's incremental models rewrite the day partitions from
    a run's first day on, so a later run must start no later than a failed one."""
    path = Path(spark_dir) / SPARK_PENDING_BUILD
    if not path.exists():
        return None
    text = path.read_text().strip()
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise RuntimeError(
            f"{path} should hold the first day of an unfinished build (YYYY-MM-DD), "
            f"not {text[:40]!r}: delete it to build from the run's own first day"
        ) from None


def mark_spark_pending_build(spark_dir: Path, first: dt.date) -> dt.date:
    """Before a Spark build from `first`: record it unless an earlier day is pending; the
    day the build must start from."""
    pending = spark_pending_build_since(spark_dir)
    start = min(first, pending or first)
    path = Path(spark_dir) / SPARK_PENDING_BUILD
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(f"{start.isoformat()}\n")
    tmp.replace(path)
    return start


def clear_spark_pending_build(spark_dir: Path) -> None:
    """A Spark build from the earliest pending day (or before) succeeded."""
    (Path(spark_dir) / SPARK_PENDING_BUILD).unlink(missing_ok=True)


def build_load_asset(stream: str) -> AssetsDefinition:
    @asset(
        key=AssetKey(["raw", stream]),
        group_name="raw",
        description=f"Raw `{stream}` events of the run's days, loaded from data/raw into DuckDB.",
        kinds={"parquet", "duckdb"},
    )
    def _load(
        context: AssetExecutionContext,
        convtrack: ConvtrackSettings,
        warehouse_lock: WarehouseWriterLock,
        build_range: BuildRange,
    ) -> MaterializeResult:
        settings = convtrack.load()
        first, last = build_range.days(settings)
        set_aside = scan_raw_partitions(settings.raw_dir, last, [stream]).set_aside
        for entry in set_aside:
            context.log.warning(f"raw.{stream}: set aside, not loaded: {entry}")
        if settings.engine == "spark":
            # Nothing to load: dbt's Spark tables read data/raw where it lies.
            n_files = prepare_stream_for_spark(settings.raw_dir, stream, last)
            context.log.info(f"raw.{stream}: {n_files} files up to {last}, read in place by Spark")
            return MaterializeResult(
                metadata={"files": n_files, "last_day": str(last), "set_aside": len(set_aside)}
            )
        settings.warehouse_dir.mkdir(parents=True, exist_ok=True)
        with connect_duckdb(settings, settings.warehouse_path) as con:
            n_files = load_stream(con, settings.raw_dir, stream, first, last)
            (rows,) = con.execute(
                f"select count(*) from raw.{stream} where dt between ? and ?", [first, last]
            ).fetchone()
        context.log.info(f"raw.{stream}: {rows} rows from {n_files} files, {first} .. {last}")
        return MaterializeResult(
            metadata={
                "rows": rows,
                "files": n_files,
                "first_day": str(first),
                "last_day": str(last),
                "set_aside": len(set_aside),
            }
        )

    return _load


raw_assets = [build_load_asset(stream) for stream in raw_schema.STREAMS]
