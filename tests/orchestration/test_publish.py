import shutil
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from convtrack.core.settings import Settings
from orchestration.assets.publish import SNAPSHOT_ROW_GROUP_SIZE, local_path, publish_snapshot

DUCKDB_CLI = Path(sys.executable).with_name("duckdb")


def _data_dir(path: Path) -> tuple[Settings, Path, Path]:
    settings = Settings(data_dir=path)
    settings.warehouse_dir.mkdir(parents=True)
    return settings, settings.warehouse_path, settings.published_path


def _warehouse(path: Path, revenue: str) -> None:
    with duckdb.connect(str(path)) as con:
        con.execute("create schema marts")
        con.execute("create schema staging")
        con.execute(
            "create table marts.mart_revenue_by_type as select "
            f"'l1' as campaign_link_id, 'purchase' as event_type, 2 as conversions, "
            f"cast({revenue} as decimal(18,2)) as revenue"
        )
        con.execute("create table staging.stg_private as select 1 as x")


def test_snapshot_holds_the_marts_only_and_the_old_duckdb_cli_reads_it(tmp_path):
    settings, wh, pub = _data_dir(tmp_path)
    _warehouse(wh, "12.34")
    assert publish_snapshot(settings) == {"mart_revenue_by_type": 1}
    with duckdb.connect(str(pub), read_only=True) as con:
        assert con.execute("select revenue from mart_revenue_by_type").fetchall() == [
            (Decimal("12.34"),)
        ]
        tables = con.execute("select table_name from duckdb_tables()").fetchall()
        assert tables == [("mart_revenue_by_type",)]
    if not DUCKDB_CLI.exists():
        pytest.fail(f"the duckdb CLI that set-up installs is missing at {DUCKDB_CLI}")
    out = subprocess.run(
        [
            str(DUCKDB_CLI),
            "-readonly",
            "-csv",
            str(pub),
            "-c",
            "select revenue from mart_revenue_by_type",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.splitlines()[-1] == "12.34"


def test_republishing_swaps_the_file_while_an_open_reader_keeps_its_view(tmp_path):
    settings, wh, pub = _data_dir(tmp_path)
    _warehouse(wh, "1.00")
    publish_snapshot(settings)
    reader = duckdb.connect(str(pub), read_only=True)
    shutil.move(wh, tmp_path / "old.duckdb")
    _warehouse(wh, "2.00")
    publish_snapshot(settings)
    assert reader.execute("select revenue from mart_revenue_by_type").fetchone() == (
        Decimal("1.00"),
    )
    # DuckDB shares one instance per path within a process: close before reopening.
    reader.close()
    with duckdb.connect(str(pub), read_only=True) as fresh:
        assert fresh.execute("select revenue from mart_revenue_by_type").fetchone() == (
            Decimal("2.00"),
        )
    assert not list(settings.warehouse_dir.glob(".published*tmp"))


def test_a_data_directory_with_a_quote_in_its_name_publishes(tmp_path):
    # The paths reach DuckDB as parameters, not spliced into SQL.
    where = tmp_path / "creator's data"
    settings, wh, _ = _data_dir(where)
    _warehouse(wh, "1.00")
    assert publish_snapshot(settings) == {"mart_revenue_by_type": 1}


def test_the_snapshot_keeps_lookup_tables_in_their_lookup_order(tmp_path):
    # mart_attribution's dbt meta says publish_order: [tracking_id] (the read API's key).
    settings, wh, pub = _data_dir(tmp_path)
    _warehouse(wh, "1.00")
    with duckdb.connect(str(wh)) as con:
        con.execute(
            "create table marts.mart_attribution as select md5(i::varchar) as tracking_id, i "
            "from range(300000) as t(i)"
        )
    publish_snapshot(settings)
    with duckdb.connect(str(pub), read_only=True) as con:
        stored = [r[0] for r in con.execute("select tracking_id from mart_attribution").fetchall()]
        (blocks,) = con.execute(
            "select count(distinct row_group_id) from pragma_storage_info('mart_attribution')"
        ).fetchone()
    assert len(stored) == 300000
    assert stored == sorted(stored)
    # So the order is what lets a lookup skip blocks, and the block it reads is small.
    assert blocks >= 300000 / SNAPSHOT_ROW_GROUP_SIZE > 2


@pytest.mark.parametrize(
    ("location", "path"),
    [
        ("file:/srv/spark/warehouse/marts.db/t", "/srv/spark/warehouse/marts.db/t"),
        ("file:///srv/it's here/t", "/srv/it's here/t"),
        ("file://localhost/srv/t", "/srv/t"),
        ("/srv/t", "/srv/t"),
    ],
)
def test_a_thrift_servers_table_location_is_a_path_here(location, path):
    assert local_path(location, "marts.t") == Path(path)


@pytest.mark.parametrize(
    "location", ["hdfs://nn:8020/warehouse/t", "s3a://bucket/t", "file://other-host/srv/t", "t"]
)
def test_a_location_this_machine_cannot_read_is_refused(location):
    with pytest.raises(RuntimeError, match="a filesystem this machine mounts at the same path"):
        local_path(location, "marts.t")


# What a catalogue could answer: any text (NULs, lone surrogates and the separators
# often), and the forms above with such text after them.
ANY_TEXT = st.text(st.characters() | st.sampled_from(["\x00", "\ud800", "/", ":", "%", " "]))
LOCATIONS = ANY_TEXT | st.builds(
    str.__add__,
    st.sampled_from(["file:", "file://", "file:///", "file://localhost/", "/", "hdfs://"]),
    ANY_TEXT,
)


@given(LOCATIONS)
@example("file:/srv/a\x00b")  # the extremes, whatever the draw: a NUL, a lone surrogate
@example("/srv/\ud800/t")
@example("file://")
def test_any_location_is_a_path_here_or_refused_naming_the_table(location):
    try:
        path = local_path(location, "marts.t")
    except RuntimeError as refused:
        assert "marts.t" in str(refused)
    else:
        assert path.is_absolute() and "\x00" not in str(path)
