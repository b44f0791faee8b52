"""Load assets: each raw Parquet stream's day partitions into the DuckDB `raw` schema."""

import datetime as dt
from pathlib import Path

import duckdb
import pyarrow as pa
from dagster import AssetExecutionContext, AssetKey, AssetsDefinition, MaterializeResult, asset

from convtrack.core import raw_schema
from convtrack.core.compaction import live_files
from convtrack.core.raw_partitions import scan_raw_partitions
from orchestration.build_range import BuildRange
from orchestration.resources import ConvtrackSettings, WarehouseWriterLock, connect_duckdb

# Raw days a run loaded whose dbt build has not succeeded yet (`pending_build_since`).
PENDING_BUILD = "raw._pending_build"


def duckdb_type(t: pa.DataType) -> str:
    if pa.types.is_string(t):
        return "varchar"
    if pa.types.is_timestamp(t):
        return "timestamp"
    if pa.types.is_decimal(t):
        return f"decimal({t.precision},{t.scale})"
    raise TypeError(f"no DuckDB type for {t}")


def raw_table_ddl(stream: str) -> str:
    cols = [f"{f.name} {duckdb_type(f.type)}" for f in raw_schema.SCHEMAS[stream]]
    return f"create table if not exists raw.{stream} ({', '.join([*cols, 'dt date'])})"


def partition_files(raw_dir: Path, stream: str, first: dt.date, last: dt.date) -> list[str]:
    """Every visible Parquet file of `stream` whose day lies in [first, last]."""
    days = scan_raw_partitions(raw_dir, last, [stream]).stream_days(stream)
    # live_files: a file already merged into a compacted one is left out.
    return [str(f) for day, d in sorted(days.items()) if day >= first for f in live_files(d)]


def load_stream(
    con: duckdb.DuckDBPyConnection, raw_dir: Path, stream: str, first: dt.date, last: dt.date
) -> int:
    """Replace the days [first, last] of raw.<stream> with the Parquet files of those days.

    The day comes from the file's `dt=` directory, so reloading a day replaces exactly
    the files of that day, whatever they contain.
    """
    columns = ", ".join(raw_schema.SCHEMAS[stream].names)
    files = partition_files(raw_dir, stream, first, last)
    con.execute("create schema if not exists raw")
    con.execute(raw_table_ddl(stream))
    con.execute("begin transaction")
    try:
        con.execute(f"delete from raw.{stream} where dt between ? and ?", [first, last])
        if files:
            con.execute(
                f"insert into raw.{stream} select {columns}, cast(dt as date) "
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
