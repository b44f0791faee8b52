"""The Dagster jobs on real Parquet and a real DuckDB file: build, prune, republish,
reproducibility, readers during a run, and one writer at a time."""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import os
import subprocess
import sys
import textwrap
import uuid
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from dagster import DagsterInstance, build_init_resource_context

from convtrack.core import raw_schema
from convtrack.core.settings import Settings
from orchestration.resources import ConvtrackSettings, WarehouseWriterLock, writer_lock_path
from orchestration.run import run_pipeline, run_prune
from tests.marts import data_marts

AS_OF = dt.date(2026, 3, 31)
OLD_DAY = AS_OF - dt.timedelta(days=50)  # past the default retention (31 days)
NEW_DAY = AS_OF - dt.timedelta(days=3)
REFUND_DAY = OLD_DAY + dt.timedelta(days=1)
LINK = "0190f1a2-0000-7000-8000-00000000000a"


def _write(raw: Path, stream: str, rows: list[dict], day: dt.date, name: str) -> None:
    d = raw_schema.partition_dir(raw, stream, day)
    d.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=raw_schema.SCHEMAS[stream]), d / name)


def make_raw(raw: Path) -> None:
    """A link; 3 clicks on an old day (2 converting) and 2 on a recent day (1 buying)."""
    t0 = dt.datetime.combine(OLD_DAY, dt.time(10))
    _write(
        raw,
        "campaign_links",
        [
            dict(
                campaign_link_id=LINK,
                short_code="a",
                destination_url="https://creator.example/a",
                campaign_name="A",
                youtube_video_id="vid",
                placement="description",
                created_at=t0,
                disabled_at=None,
                recorded_at=t0,
            )
        ],
        OLD_DAY,
        "w-1.parquet",
    )
    for day, n_clicks, buys in ((OLD_DAY, 3, ["12.00", "30.00"]), (NEW_DAY, 2, ["5.50"])):
        at = dt.datetime.combine(day, dt.time(12))
        tids = [str(uuid.uuid5(uuid.NAMESPACE_URL, f"{day}-{i}")) for i in range(n_clicks)]
        _write(
            raw,
            "clicks",
            [
                dict(
                    event_id=str(uuid.uuid5(uuid.NAMESPACE_DNS, t)),
                    tracking_id=t,
                    campaign_link_id=LINK,
                    clicked_at=at,
                    received_at=at,
                    ip_address="203.0.113.0",
                    user_agent="Mozilla/5.0",
                    referrer=None,
                    source="import",
                )
                for t in tids
            ],
            day,
            "w-2.parquet",
        )
        conv_at = at + dt.timedelta(hours=2)
        _write(
            raw,
            "conversions",
            [
                dict(
                    event_id=str(uuid.uuid5(uuid.NAMESPACE_OID, t)),
                    tracking_id=t,
                    campaign_link_id=LINK,
                    event_type="purchase",
                    revenue_amount=Decimal(v),
                    currency="USD",
                    order_id=f"o-{t}",
                    event_data="{}",
                    converted_at=conv_at,
                    received_at=conv_at,
                    source="import",
                )
                for t, v in zip(tids, buys, strict=False)
            ],
            day,
            "w-3.parquet",
        )
    # A refund of the first old purchase, a day later: past retention too, but refunds
    # hold no personal data and are never pruned.
    refunded = dt.datetime.combine(REFUND_DAY, dt.time(9))
    first_old = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{OLD_DAY}-0"))
    _write(
        raw,
        "refunds",
        [
            dict(
                event_id=str(uuid.uuid5(uuid.NAMESPACE_X500, first_old)),
                order_id=f"o-{first_old}",
                amount=Decimal("2.00"),
                currency="USD",
                reason="damaged",
                refunded_at=refunded,
                received_at=refunded,
                source="api",
            )
        ],
        REFUND_DAY,
        "w-4.parquet",
    )


def mart_digest(published: Path) -> str:
    """A hash of every mart's rows in a total order (the run-specific _meta left out)."""
    h = hashlib.sha256()
    with duckdb.connect(str(published), read_only=True) as con:
        for table in data_marts():
            rows = con.execute(f"select * from {table} order by all").fetchall()
            h.update(f"{table}:{rows!r}".encode())
    return h.hexdigest()


def _refunds(published: Path) -> list[tuple]:
    with duckdb.connect(str(published), read_only=True) as con:
        return con.execute(
            "select campaign_link_id, cast(converted_at as date), credited_amount "
            "from fct_refunds order by all"
        ).fetchall()


def _agg_totals(published: Path) -> list[tuple]:
    with duckdb.connect(str(published), read_only=True) as con:
        return con.execute(
            "select metric_date, event_type, sum(clicks), sum(conversions), sum(revenue) "
            "from agg_daily_link_metrics group by all order by all"
        ).fetchall()


@pytest.fixture
def settings(tmp_path: Path, monkeypatch) -> Settings:
    # dbt runs as a subprocess and finds the warehouse through this variable.
    monkeypatch.setenv("CONVTRACK_DATA_DIR", str(tmp_path / "data"))
    # Runs read their settings from the environment (only data_dir is passed down).
    monkeypatch.setenv("CONVTRACK_ARCHIVE_DIR", str(tmp_path / "archive"))
    s = Settings(data_dir=tmp_path / "data", archive_dir=tmp_path / "archive")
    make_raw(s.raw_dir)
    return s


def test_prune_removes_old_rows_and_files_but_keeps_every_daily_total(settings):
    instance = DagsterInstance.ephemeral()
    assert run_pipeline(settings, AS_OF, instance=instance).success
    before = _agg_totals(settings.published_path)
    assert sum(r[3] for r in before) == 3  # conversions on both days

    run = run_prune(settings, AS_OF, instance=instance)
    assert run.success
    # Old clicks and conversions left the warehouse and data/raw (archived, not lost) ...
    with duckdb.connect(str(settings.published_path), read_only=True) as con:
        days = con.execute("select distinct cast(clicked_at as date) from fct_clicks").fetchall()
    assert days == [(NEW_DAY,)]
    for stream in ("clicks", "conversions"):
        assert raw_schema.partition_days(settings.raw_dir, stream) == [NEW_DAY]
        assert raw_schema.partition_days(settings.archive_dir, stream) == [OLD_DAY]
    assert raw_schema.partition_days(settings.raw_dir, "campaign_links") == [OLD_DAY]
    # Raw refunds stay (docs/rules.md#retention), and the refund still counts against the
    # link and the day of its pruned purchase.
    assert raw_schema.partition_days(settings.raw_dir, "refunds") == [REFUND_DAY]
    assert raw_schema.partition_days(settings.archive_dir, "refunds") == []
    assert _refunds(settings.published_path) == [(LINK, OLD_DAY, Decimal("2.00"))]
    # ... and no daily total changed, not even after another build.
    assert _agg_totals(settings.published_path) == before
    assert run_pipeline(settings, AS_OF, instance=instance).success
    assert _agg_totals(settings.published_path) == before
    assert _refunds(settings.published_path) == [(LINK, OLD_DAY, Decimal("2.00"))]


def test_same_raw_files_and_as_of_give_identical_marts(settings, tmp_path, monkeypatch):
    assert run_pipeline(settings, AS_OF, instance=DagsterInstance.ephemeral()).success
    first = mart_digest(settings.published_path)
    # A second, fresh warehouse from the same files.
    other = Settings(data_dir=tmp_path / "again")
    monkeypatch.setenv("CONVTRACK_DATA_DIR", str(other.data_dir))
    (other.data_dir).mkdir()
    os.symlink(settings.raw_dir, other.raw_dir)
    assert run_pipeline(other, AS_OF, instance=DagsterInstance.ephemeral()).success
    assert mart_digest(other.published_path) == first


READER = textwrap.dedent(
    """
    import sys, duckdb, pathlib
    path, stop = sys.argv[1], pathlib.Path(sys.argv[2])
    reads = 0
    while not stop.exists():
        con = duckdb.connect(path, read_only=True)
        funnel = con.execute("select sum(conversions), sum(revenue) from mart_conversion_funnel").fetchone()
        facts = con.execute("select count(*), sum(revenue_amount) from fct_conversions").fetchone()
        con.close()
        if funnel != facts:
            print("PARTIAL", funnel, facts); sys.exit(1)
        reads += 1
    print(reads)
    """
)


def test_readers_in_another_process_never_fail_nor_see_a_partial_mart(settings, tmp_path):
    instance = DagsterInstance.ephemeral()
    assert run_pipeline(settings, NEW_DAY - dt.timedelta(days=1), instance=instance).success
    stop = tmp_path / "stop"
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, str(settings.published_path), str(stop)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert run_pipeline(settings, AS_OF, instance=instance).success
    finally:
        stop.touch()
        out, err = reader.communicate(timeout=60)
    assert reader.returncode == 0, out + err
    assert int(out) > 0


def test_a_second_writer_waits_for_the_first(tmp_path):
    convtrack = ConvtrackSettings(data_dir=str(tmp_path / "data"))
    path = writer_lock_path(convtrack.load())
    path.parent.mkdir(parents=True)
    holder = os.open(path, os.O_RDWR | os.O_CREAT)
    fcntl.flock(holder, fcntl.LOCK_EX)  # another run holds the warehouse
    lock = WarehouseWriterLock(convtrack=convtrack, wait_seconds=0.2)
    with (
        pytest.raises(TimeoutError, match="held the warehouse lock"),
        lock.yield_for_execution(build_init_resource_context()),
    ):
        pass
    os.close(holder)  # the first run ends
    with lock.yield_for_execution(build_init_resource_context()) as held:
        assert held is lock


def _run_range(settings: Settings, first: dt.date, last: dt.date, instance, **resources):
    """The pipeline job over [first, last], as the schedule and sensor start it."""
    from orchestration.build_range import build_run_config
    from orchestration.definitions import defs
    from orchestration.run import _resources

    return defs.resolve_job_def("pipeline").execute_in_process(
        instance=instance,
        resources={**_resources(settings), **resources},
        run_config=build_run_config(first, last),
        raise_on_error=False,
    )


def test_a_run_whose_build_failed_is_made_up_by_the_next_one(settings, tmp_path, monkeypatch):
    from orchestration.project import dbt_project
    from orchestration.resources import DbtCli

    instance = DagsterInstance.ephemeral()
    assert run_pipeline(settings, AS_OF, instance=instance).success
    # A late click on an old day arrives; its run loads it, then dbt fails (broken here).
    late_day = OLD_DAY + dt.timedelta(days=1)
    late = dict(
        event_id=str(uuid.uuid4()),
        tracking_id=str(uuid.uuid4()),
        campaign_link_id=LINK,
        clicked_at=dt.datetime.combine(late_day, dt.time(9)),
        received_at=dt.datetime.combine(AS_OF, dt.time(9)),
        ip_address="203.0.113.0",
        user_agent="Mozilla/5.0",
        referrer=None,
        source="import",
    )
    _write(settings.raw_dir, "clicks", [late], late_day, "w-late.parquet")
    broken = DbtCli(project_dir=dbt_project, dbt_executable="/bin/false")
    assert not _run_range(settings, late_day, AS_OF, instance, dbt=broken).success
    # The next run covers today only, as the hourly schedule does - and builds from the
    # late day, which the failed run loaded and never built.
    assert _run_range(settings, AS_OF, AS_OF, instance).success
    with duckdb.connect(str(settings.published_path), read_only=True) as con:
        assert con.execute(
            "select count(*) from fct_clicks where event_id = ?", [late["event_id"]]
        ).fetchone() == (1,)
    # Everything equals one build of the same files from scratch.
    other = Settings(data_dir=tmp_path / "again")
    monkeypatch.setenv("CONVTRACK_DATA_DIR", str(other.data_dir))
    other.data_dir.mkdir()
    os.symlink(settings.raw_dir, other.raw_dir)
    assert run_pipeline(other, AS_OF, instance=DagsterInstance.ephemeral()).success
    assert mart_digest(other.published_path) == mart_digest(settings.published_path)


def test_a_failing_dbt_test_fails_the_run_and_names_the_test(settings):
    instance = DagsterInstance.ephemeral()
    bad = dict(
        event_id=str(uuid.uuid4()),
        tracking_id=None,  # the collector never writes this; a hand-made file might
        campaign_link_id=LINK,
        clicked_at=dt.datetime.combine(NEW_DAY, dt.time(9)),
        received_at=dt.datetime.combine(NEW_DAY, dt.time(9)),
        ip_address=None,
        user_agent="Mozilla/5.0",
        referrer=None,
        source="import",
    )
    _write(settings.raw_dir, "clicks", [bad], NEW_DAY, "w-bad.parquet")
    run = run_pipeline(settings, AS_OF, instance=instance)
    assert not run.success
    failures = [
        e.dagster_event.step_failure_data.error.message
        for e in instance.all_logs(run.run_id)
        if e.dagster_event and e.dagster_event.event_type_value == "STEP_FAILURE"
    ]
    assert len(failures) == 1
    assert "source_not_null_collector_clicks_tracking_id" in failures[0]
    assert not settings.published_path.exists()  # nothing published from a failed build
