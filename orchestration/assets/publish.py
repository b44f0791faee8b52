"""Publish: an atomic, read-only snapshot of the marts for analysts, the read API and reports."""

import contextlib
import json
import os
from functools import cache
from pathlib import Path

import duckdb
from dagster import AssetExecutionContext, AssetKey, MaterializeResult, asset

from convtrack.core.files import fsync_dir
from convtrack.core.settings import Settings
from orchestration.assets.transform import convtrack_dbt_models
from orchestration.project import dbt_project
from orchestration.resources import ConvtrackSettings, WarehouseWriterLock, connect_duckdb

# Analysts' tools lag the engine: the duckdb CLI on PyPI (1.5) reads this storage
# version, not DuckDB 2.0's own (docs/schemas.md#warehouse).
SNAPSHOT_STORAGE_VERSION = "v1.2.0"
# Readers look single rows up by key. DuckDB skips row groups by their min and max and
# reads the one it keeps: 16K rows rather than its default 123K. On the 10M-click
# snapshot the read API's lookup went from p99 ~21 to ~13 ms (bench/README.md, issue 10).
SNAPSHOT_ROW_GROUP_SIZE = 16_384
MARTS_SCHEMA = "marts"
# Everything dbt builds in the marts schema, and nothing else, is published.
MART_ASSET_KEYS = [key for key in convtrack_dbt_models.keys if key.path[0] == MARTS_SCHEMA]


@cache
def publish_order() -> dict[str, list[str]]:
    """Per mart, the columns the snapshot keeps its rows sorted by: a model's
    `meta: {publish_order: [...]}`. DuckDB keeps each column's min and max per block of
    rows, so a reader looking rows up by those columns skips every other block: on a
    10M-row table, one block instead of all."""
    manifest = json.loads(dbt_project.manifest_path.read_text())
    return {
        node["name"]: list(node["config"]["meta"]["publish_order"])
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model" and node["config"].get("meta", {}).get("publish_order")
    }


def publish_snapshot(settings: Settings) -> dict[str, int]:
    """Copy every table of the `marts` schema into a new file and swap it in atomically.

    Readers holding the old snapshot keep reading it; new readers see the new one; nobody
    ever sees a half-written file, because the rename is the only visible step. Whichever
    engine built the marts, the snapshot is the same DuckDB file: same tables, columns
    and types.
    """
    published_path = settings.published_path
    tmp = published_path.with_name(f".{published_path.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    counts: dict[str, int] = {}
    with connect_duckdb(settings) as con:
        marts = (
            spark_marts(con, settings)
            if settings.engine == "spark"
            else duckdb_marts(con, settings)
        )
        if not marts:
            raise RuntimeError(f"no tables in schema {MARTS_SCHEMA!r} of {settings.warehouse_path}")
        con.execute(
            f"attach ? as snap (storage_version '{SNAPSHOT_STORAGE_VERSION}',"
            f" row_group_size {SNAPSHOT_ROW_GROUP_SIZE})",
            [str(tmp)],
        )
        for table, relation in marts.items():
            order = publish_order().get(table)
            con.execute(
                f'create table snap.main."{table}" as select * from {relation}'
                + (f" order by {', '.join(order)}" if order else "")
            )
            (counts[table],) = con.execute(f'select count(*) from snap.main."{table}"').fetchone()
        con.execute("detach snap")
    fsync_dir(tmp)  # the file's contents
    os.replace(tmp, published_path)
    fsync_dir(published_path.parent)
    return counts


def duckdb_marts(con: duckdb.DuckDBPyConnection, settings: Settings) -> dict[str, str]:
    """Every table of the warehouse's `marts` schema, by name: the relation to copy."""
    # Paths as parameters: a quote in a data directory's name is no SQL.
    con.execute("attach ? as wh (read_only)", [str(settings.warehouse_path)])
    tables = con.execute(
        "select table_name from duckdb_tables() where database_name = 'wh' "
        "and schema_name = ? order by table_name",
        [MARTS_SCHEMA],
    ).fetchall()
    return {name: f'wh.{MARTS_SCHEMA}."{name}"' for (name,) in tables}


def spark_table_dir(settings: Settings, schema: str, table: str) -> Path:
    """Where Spark in dbt's own process keeps a table's Parquet files: the warehouse
    directory the profile sets (dbt_project/profiles.yml), a folder per schema, one per
    table."""
    return settings.spark_dir / "warehouse" / f"{schema}.db" / table


def spark_table_files(directory: Path) -> list[Path]:
    """A Spark table's Parquet files: in its directory, or in its partitions' directories
    (`column=value/`). Not in a hidden one: an unfinished write's staging directory."""
    return sorted(directory.glob("*.parquet")) + sorted(directory.glob("[!._]*=*/*.parquet"))


# How publish introduces itself to a Thrift server (as dbt's profile does): a server with
# the default authentication takes any name.
THRIFT_USER = "convtrack"


def thrift_table_dirs(settings: Settings, schema: str, tables: list[str]) -> dict[str, Path]:
    """Where a Spark Thrift server keeps each table's files, as its catalogue says: the
    warehouse directory is the server's. This process reads them at that path, so it must
    see the server's filesystem where the server does (docs/operations.md#engines)."""
    from pyhive import hive  # the spark extra's: only a Thrift run needs it

    host, port = settings.spark_thrift_address
    directories = {}
    with contextlib.closing(hive.connect(host=host, port=port, username=THRIFT_USER)) as conn:
        cursor = conn.cursor()
        for table in tables:
            cursor.execute(f"describe table extended `{schema}`.`{table}`")
            locations = [str(value) for name, value, *_ in cursor.fetchall() if name == "Location"]
            if not locations:
                raise RuntimeError(
                    f"the Thrift server at {settings.spark_thrift} has no "
                    f"location for {schema}.{table}"
                )
            directories[table] = local_path(locations[0], f"{schema}.{table}")
    return directories


def local_path(location: str, table: str) -> Path:
    """The path on this machine of a table's `location` (`file:/...` or a bare path);
    refused for any other filesystem (hdfs:, s3a: ...), which DuckDB here cannot read."""
    path = location.removeprefix("file:")
    if path.startswith("//"):  # file://[authority]/path: only an empty authority is local
        authority, _, rest = path[2:].partition("/")
        path = "/" + rest if authority in ("", "localhost") else location
    if not path.startswith("/") or "\x00" in path:  # a NUL names no file anywhere
        raise RuntimeError(
            f"{table} lives at {location!r}: publish reads the marts' files from a filesystem "
            "this machine mounts at the same path (docs/operations.md#engines)"
        )
    return Path(path)


def spark_marts(con: duckdb.DuckDBPyConnection, settings: Settings) -> dict[str, str]:
    """Every mart Spark built, by name: a view over its Parquet files, typed as the
    DuckDB engine types it.

    The files are read directly: no second Spark (its metastore admits one process at a
    time, and a session takes seconds to start); with a Thrift server, its catalogue says
    where they are. An incremental mart's files are in one directory per day partition
    (`partition_day=YYYY-MM-DD/`); that column is Spark's alone, in the directory names
    only, and is left out: the files hold the model's columns, in its order, and so does
    the empty file in `_columns/` that stands in for them when there are none
    (dbt_project/macros/incremental/incremental_config.sql).
    Spark's timestamps are instants, which DuckDB reads as `timestamp with time zone`:
    they become UTC timestamps without zone, as everywhere in convtrack
    (docs/schemas.md#warehouse). Every other type Spark writes (string, bigint, int,
    double, boolean, date, decimal) reads as DuckDB's own."""
    tables = sorted(key.path[-1] for key in MART_ASSET_KEYS)
    directories = (
        thrift_table_dirs(settings, MARTS_SCHEMA, tables)
        if settings.spark_thrift is not None
        else {table: spark_table_dir(settings, MARTS_SCHEMA, table) for table in tables}
    )
    marts = {}
    for table, directory in directories.items():
        # A partitioned mart without rows has no data file: its columns file, empty.
        paths = spark_table_files(directory) or sorted(directory.glob("_columns/*.parquet"))
        if not paths:
            raise RuntimeError(f"Spark built no files for mart {table!r} in {directory}")
        files = f"[{', '.join(_sql_text(str(path)) for path in paths)}], hive_partitioning = false"
        columns = con.execute(f"describe select * from read_parquet({files})").fetchall()
        select = ", ".join(
            f'timezone(\'UTC\', "{name}") as "{name}"'
            if type_ == "TIMESTAMP WITH TIME ZONE"
            else f'"{name}"'
            for name, type_, *_ in columns
        )
        view = f"spark_{table}"
        con.execute(f'create temp view "{view}" as select {select} from read_parquet({files})')
        marts[table] = f'"{view}"'
    return marts


def _sql_text(text: str) -> str:
    """A DuckDB string literal: a quote in a data directory's name is no SQL."""
    return "'" + text.replace("'", "''") + "'"


@asset(
    key=AssetKey("published_snapshot"),
    group_name="publish",
    deps=MART_ASSET_KEYS,
    kinds={"duckdb"},
)
def published_snapshot(
    context: AssetExecutionContext,
    convtrack: ConvtrackSettings,
    warehouse_lock: WarehouseWriterLock,
) -> MaterializeResult:
    """data/warehouse/published.duckdb: the marts, replaced atomically after each run."""
    settings = convtrack.load()
    counts = publish_snapshot(settings)
    context.log.info(f"published {len(counts)} tables to {settings.published_path}")
    return MaterializeResult(metadata={"path": str(settings.published_path), **counts})
