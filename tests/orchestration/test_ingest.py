import datetime as dt

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from convtrack.core import raw_schema
from orchestration.assets.ingest import (
    SPARK_PENDING_BUILD,
    clear_spark_pending_build,
    load_stream,
    mark_spark_pending_build,
    prepare_stream_for_spark,
    spark_pending_build_since,
    spark_raw_sources,
)


def _write_clicks(raw_dir, day: dt.date, n: int, name: str) -> None:
    ts = dt.datetime.combine(day, dt.time(12))
    table = pa.Table.from_pylist(
        [
            {
                "event_id": f"00000000-0000-4000-8000-{day:%m%d}{i:08d}",
                "tracking_id": f"00000000-0000-4000-9000-{day:%m%d}{i:08d}",
                "campaign_link_id": "00000000-0000-4000-a000-000000000001",
                "clicked_at": ts,
                "received_at": ts,
                "ip_address": "203.0.113.0",
                "user_agent": "ua",
                "referrer": None,
                "source": "redirect",
            }
            for i in range(n)
        ],
        schema=raw_schema.CLICKS,
    )
    d = raw_schema.partition_dir(raw_dir, "clicks", day)
    d.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, d / name)


def test_load_replaces_exactly_the_days_of_the_run(tmp_path):
    raw = tmp_path / "raw"
    d1, d2 = dt.date(2026, 3, 1), dt.date(2026, 3, 2)
    _write_clicks(raw, d1, 3, "w1-1.parquet")
    _write_clicks(raw, d2, 5, "w1-2.parquet")
    con = duckdb.connect(str(tmp_path / "wh.duckdb"))
    assert load_stream(con, raw, "clicks", d1, d2) == 2
    assert con.execute("select dt, count(*) from raw.clicks group by 1 order by 1").fetchall() == [
        (d1, 3),
        (d2, 5),
    ]
    # Reloading day 2 alone, after a new file landed there, replaces day 2 and keeps day 1.
    _write_clicks(raw, d2, 2, "w2-1.parquet")
    load_stream(con, raw, "clicks", d2, d2)
    assert con.execute("select dt, count(*) from raw.clicks group by 1 order by 1").fetchall() == [
        (d1, 3),
        (d2, 7),
    ]
    # Reloading twice changes nothing.
    load_stream(con, raw, "clicks", d1, d2)
    assert con.execute("select count(*) from raw.clicks").fetchone() == (10,)


def test_load_of_a_day_without_files_creates_the_table_and_empties_the_day(tmp_path):
    con = duckdb.connect(str(tmp_path / "wh.duckdb"))
    assert (
        load_stream(con, tmp_path / "raw", "conversions", dt.date(2026, 1, 1), dt.date(2026, 1, 2))
        == 0
    )
    cols = [r[0] for r in con.execute("describe raw.conversions").fetchall()]
    assert cols == [*raw_schema.CONVERSIONS.names, "dt"]
    assert con.execute("select count(*) from raw.conversions").fetchone() == (0,)


def test_a_failed_spark_build_makes_the_next_start_no_later(tmp_path):
    spark_dir = tmp_path / "spark"
    d1, d2 = dt.date(2026, 3, 1), dt.date(2026, 3, 5)
    assert spark_pending_build_since(spark_dir) is None
    assert mark_spark_pending_build(spark_dir, d2) == d2
    # That build failed; the next run covers later days only, and starts at d2.
    assert mark_spark_pending_build(spark_dir, dt.date(2026, 3, 9)) == d2
    assert mark_spark_pending_build(spark_dir, d1) == d1
    assert spark_pending_build_since(spark_dir) == d1
    clear_spark_pending_build(spark_dir)
    assert spark_pending_build_since(spark_dir) is None
    clear_spark_pending_build(spark_dir)  # nothing pending: nothing to do
    assert [p.name for p in spark_dir.iterdir()] == []  # no temporary file left


def test_a_spark_pending_build_that_is_no_date_is_refused_naming_the_file(tmp_path):
    (tmp_path / SPARK_PENDING_BUILD).write_text("yesterday\n")
    with pytest.raises(RuntimeError, match=rf"{SPARK_PENDING_BUILD}.*'yesterday'.*delete it"):
        mark_spark_pending_build(tmp_path, dt.date(2026, 3, 1))


OLD_CONVERSIONS = pa.schema([f for f in raw_schema.CONVERSIONS if f.name != "touches"])
TOUCH = {
    "tracking_id": "00000000-0000-7000-8000-000000000001",
    "campaign_link_id": "00000000-0000-4000-a000-000000000001",
}


def _write_conversions(raw_dir, day: dt.date, name: str, schema: pa.Schema, touches) -> None:
    ts = dt.datetime.combine(day, dt.time(12))
    row = {
        "event_id": f"00000000-0000-4000-8000-{day:%m%d}{len(name):08d}",
        "tracking_id": "00000000-0000-7000-8000-000000000002",
        "campaign_link_id": "00000000-0000-4000-a000-000000000001",
        "event_type": "newsletter_signup",
        "converted_at": ts,
        "received_at": ts,
        "currency": "USD",
        "source": "api",
    }
    if "touches" in schema.names:
        row["touches"] = touches
    d = raw_schema.partition_dir(raw_dir, "conversions", day)
    d.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist([row], schema=schema), d / name)


def test_conversion_files_written_before_touches_existed_still_load(tmp_path):
    """Day 1 has only files without the column, day 2 one of each: every row loads, the
    old ones with null touches, the new one with its touches as written."""
    raw = tmp_path / "raw"
    d1, d2 = dt.date(2026, 3, 1), dt.date(2026, 3, 2)
    _write_conversions(raw, d1, "old-1.parquet", OLD_CONVERSIONS, None)
    _write_conversions(raw, d2, "old-22.parquet", OLD_CONVERSIONS, None)
    path = raw_schema.touches_json([TOUCH, TOUCH])
    _write_conversions(raw, d2, "new-333.parquet", raw_schema.CONVERSIONS, path)
    con = duckdb.connect(str(tmp_path / "wh.duckdb"))
    load_stream(con, raw, "conversions", d1, d1)  # no file of the run has the column
    load_stream(con, raw, "conversions", d2, d2)
    rows = con.execute(
        "select dt, touches from raw.conversions order by dt, 2 nulls first"
    ).fetchall()
    assert rows == [(d1, None), (d2, None), (d2, path)]


def test_a_raw_table_created_before_touches_existed_gains_the_column(tmp_path):
    raw = tmp_path / "raw"
    day = dt.date(2026, 3, 1)
    con = duckdb.connect(str(tmp_path / "wh.duckdb"))
    con.execute("create schema raw")
    old_columns = ", ".join(f"{f.name} varchar" for f in OLD_CONVERSIONS)
    con.execute(f"create table raw.conversions ({old_columns}, dt date)")
    path = raw_schema.touches_json([TOUCH])
    _write_conversions(raw, day, "new-1.parquet", raw_schema.CONVERSIONS, path)
    load_stream(con, raw, "conversions", day, day)
    assert con.execute("select touches from raw.conversions").fetchall() == [(path,)]


def test_spark_registers_touches_as_json_text(tmp_path):
    columns = dict(
        spark_raw_sources(tmp_path / "raw", dt.date(2026, 3, 1))["conversions"]["columns"]
    )
    assert columns["touches"] == "string"


def test_a_data_directory_without_any_refund_loads_on_both_engines(tmp_path):
    # No refund was ever written: DuckDB's load creates an empty raw.refunds; Spark's
    # table gets an empty directory to read, and no day.
    raw = tmp_path / "raw"
    con = duckdb.connect(str(tmp_path / "wh.duckdb"))
    assert load_stream(con, raw, "refunds", dt.date(2026, 1, 1), dt.date(2026, 1, 2)) == 0
    cols = [r[0] for r in con.execute("describe raw.refunds").fetchall()]
    assert cols == [*raw_schema.REFUNDS.names, "dt"]
    assert prepare_stream_for_spark(raw, "refunds", dt.date(2026, 1, 2)) == 0
    assert (raw / "refunds").is_dir() and not any((raw / "refunds").iterdir())
    source = spark_raw_sources(raw, dt.date(2026, 1, 2))["refunds"]
    assert source["location"] == str((raw / "refunds").resolve()) and source["days"] == []
