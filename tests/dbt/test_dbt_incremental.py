"""Incremental builds, late data, re-runs and retention, with real dbt on real DuckDB files.

Two warehouses get the same raw rows. One is built the way the pipeline builds it - day
ranges as they arrive, then late events (an imported conversion 20 days after its click,
a late click that rescues a `no_click` conversion, an earlier imported click that turns
attributed conversions into `link_mismatch`) - the other from scratch in one build. Their
marts must be identical row for row; so must two builds of the same inputs. Then the
incremental one is pruned, and the daily history must not move.

dbt runs in-process with one parsed manifest (tests/dbt/runner.py).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
import shutil
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from tests.dbt.runner import Dbt
from tests.dbt.test_dbt_build import BROWSER, PREVIEW, RAW_DDL, rows
from tests.marts import data_marts, lifetime_marts

pytestmark = pytest.mark.slow

L1, L2 = "link-1", "link-2"
FIRST_DAY = dt.date(2026, 1, 1)
D1 = dt.date(2026, 2, 1)  # the first build's as_of
D2 = dt.date(2026, 3, 1)  # the second build's as_of, and the prune date
REPORTING_TZ = "America/New_York"
MARTS = data_marts()

# Late events, loaded after the build of D2 (their dt is their event day, in the past).
LATE_CLICK_T20 = dict(day=dt.date(2026, 1, 31), tracking="late-20")  # click, loaded on time
LATE_CONVERSION = "late-conv-20d"  # 20 days after that click, arrives after D2's build
RESCUED = "rescued"  # a conversion with no click until its click is imported late
MISMATCHED = "t-2026-02-16-1"  # an on-time click whose tracking id an import repeats earlier


def vars_for(as_of: dt.date, start_date: dt.date | None) -> dict[str, str]:
    """The vars the pipeline passes: as_of, run id, zone and the first day it loaded."""
    dbt_vars = {"as_of": str(as_of), "run_id": f"r-{as_of}", "reporting_timezone": REPORTING_TZ}
    if start_date is not None:
        dbt_vars["start_date"] = str(start_date)
    return dbt_vars


def at(day: dt.date, hours: float) -> dt.datetime:
    return dt.datetime.combine(day, dt.time()) + dt.timedelta(hours=hours)


def scenario() -> tuple[list[tuple], list[tuple], list[tuple]]:
    """Two months of clicks and conversions, every reason, retries; then the late events.

    Rows are (event fields..., dt); clicks and conversions as raw.* columns.
    """
    rng = random.Random(5)
    clicks, conversions = [], []

    def click(event_id, tracking, link, when, ua=BROWSER, received=None):
        received = received or when + dt.timedelta(seconds=1)
        return (event_id, tracking, link, when, received, "203.0.113.0", ua,
                "https://youtube.com", "redirect", when.date())  # fmt: skip

    def conversion(event_id, tracking, link, kind, revenue, order, when, received=None):
        received = received or when + dt.timedelta(seconds=2)
        return (event_id, tracking, link, kind, revenue, "USD", order, "{}", when, received,
                "api", when.date())  # fmt: skip

    day = FIRST_DAY
    while day <= D2:
        for i in range(4):
            tracking = f"t-{day}-{i}"
            link = L1 if i % 2 else L2
            clicked_at = at(day, i * 6 + 1 + rng.random())
            clicks.append(click(f"k-{day}-{i}", tracking, link, clicked_at,
                                PREVIEW if i == 3 else BROWSER))  # fmt: skip
            offers = [
                ("newsletter_signup", None, None, dt.timedelta(days=rng.randint(0, 3))),
                # up to 33 days: some window_expired
                ("purchase", Decimal(f"{rng.randint(5, 90)}.99"), f"o-{day}-{i % 2}",
                 dt.timedelta(days=rng.randint(0, 33), hours=rng.randint(0, 23))),
                # the last minute of the window
                ("course_enrollment", Decimal("99.00"), None, dt.timedelta(days=30, hours=22)),
            ]  # fmt: skip
            for n, (kind, revenue, order, delay) in enumerate(offers[: 3 - i % 2]):
                when = clicked_at + delay
                if when.date() <= D2:
                    conversions.append(conversion(f"c-{day}-{i}-{n}", tracking, link, kind,
                                                  revenue, order, when))  # fmt: skip
        # the same order twice on the same day: one duplicate_order
        conversions.append(conversion(f"c-{day}-dup", f"t-{day}-1", L1, "purchase",
                                      Decimal("5.00"), f"o-{day}-1", at(day, 23.5)))  # fmt: skip
        # a retried conversion, received again later (first received wins)
        first = conversions[-2]
        conversions.append((*first[:9], first[9] + dt.timedelta(hours=1), *first[10:]))
        # no click at all
        conversions.append(conversion(f"c-{day}-none", f"nobody-{day}", L2, "newsletter_signup",
                                      None, None, at(day, 12)))  # fmt: skip
        day += dt.timedelta(days=1)

    # On time: the click whose conversion arrives late, and the conversion that is rescued
    # by a late click (no_click until then).
    late_click_at = at(LATE_CLICK_T20["day"], 12)
    clicks.append(click("k-late-20", LATE_CLICK_T20["tracking"], L1, late_click_at))
    rescued_at = at(dt.date(2026, 2, 22), 15)
    conversions.append(conversion("c-rescued", RESCUED, L2, "purchase", Decimal("42.00"),
                                  "o-rescued", rescued_at))  # fmt: skip

    late = [
        ("conversions", conversion(LATE_CONVERSION, LATE_CLICK_T20["tracking"], L1, "purchase",
                                   Decimal("77.00"), "o-late",
                                   late_click_at + dt.timedelta(days=20, hours=3),
                                   received=at(D2, 22))),
        ("clicks", click("k-rescuer", RESCUED, L2, rescued_at - dt.timedelta(hours=30),
                         received=at(D2, 22))),
        # imported history repeats MISMATCHED's tracking id, earlier and on the other link
        ("clicks", click("k-earlier", MISMATCHED, L2, at(dt.date(2026, 2, 14), 9),
                         received=at(D2, 22))),
    ]  # fmt: skip
    return clicks, conversions, late


CLICKS, CONVERSIONS, LATE = scenario()
LATE_START = min(row[-1] for _, row in LATE)  # the earliest day the late rows were loaded into


def insert(con: duckdb.DuckDBPyConnection, table: str, batch: list[tuple]) -> None:
    if batch:
        marks = ", ".join("?" * len(batch[0]))
        # Conversions without touches: the column after dt is null (RAW_DDL).
        touches = ", null" if table == "conversions" else ""
        con.executemany(f"insert into raw.{table} values ({marks}{touches})", batch)


def new_warehouse(data_dir: Path, *, days: tuple[dt.date, dt.date], late: bool) -> Path:
    path = data_dir / "warehouse" / "warehouse.duckdb"
    path.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(path)) as con:
        con.execute(RAW_DDL)
        con.executemany(
            "insert into raw.campaign_links values (?, ?, 'https://example.com', ?, ?, 'd', ?, "
            "null, ?, ?, null)",
            [(link, code, code, f"yt-{code}", at(FIRST_DAY, 0), at(FIRST_DAY, 0), FIRST_DAY)
             for link, code in [(L1, "one"), (L2, "two")]],
        )  # fmt: skip
    add_days(path, days, late=late)
    return path


def add_days(path: Path, days: tuple[dt.date, dt.date], *, late: bool = False) -> None:
    first, last = days
    with duckdb.connect(str(path)) as con:
        insert(con, "clicks", [r for r in CLICKS if first <= r[-1] <= last])
        insert(con, "conversions", [r for r in CONVERSIONS if first <= r[-1] <= last])
        if late:
            for table, row in LATE:
                insert(con, table, [row])


def snapshot(path: Path, tables=MARTS) -> dict[str, list[tuple]]:
    with duckdb.connect(str(path), read_only=True) as con:
        marts = {t: con.execute(f"select * from marts.{t} order by all").fetchall() for t in tables}
        marts["_meta"] = con.execute(
            "select * exclude (built_at, run_id) from marts._meta"
        ).fetchall()
    return marts


def digest(marts: dict[str, list[tuple]]) -> str:
    return hashlib.sha256(repr(sorted(marts.items())).encode()).hexdigest()


@pytest.fixture(scope="module")
def built(dbt: Dbt, tmp_path_factory) -> Iterator[dict[str, Path]]:
    """The incremental warehouse (day ranges, then late data) and the from-scratch one."""
    incremental_dir = tmp_path_factory.mktemp("incremental")
    incremental = new_warehouse(incremental_dir, days=(FIRST_DAY, D1), late=False)
    dbt.build(incremental_dir, vars_for(D1, None))
    add_days(incremental, (D1 + dt.timedelta(days=1), D2))
    dbt.build(incremental_dir, vars_for(D2, D1 + dt.timedelta(days=1)))
    before_late = snapshot(incremental)
    with duckdb.connect(str(incremental)) as con:
        for table, row in LATE:
            insert(con, table, [row])
    dbt.build(incremental_dir, vars_for(D2, LATE_START))

    scratch_dir = tmp_path_factory.mktemp("scratch")
    scratch = new_warehouse(scratch_dir, days=(FIRST_DAY, D2), late=True)
    dbt.build(scratch_dir, vars_for(D2, None))
    yield {
        "incremental": incremental,
        "incremental_dir": incremental_dir,
        "scratch": scratch,
        "scratch_dir": scratch_dir,
        "before_late": before_late,
    }


def test_incremental_builds_equal_one_build_from_scratch(built):
    incremental, scratch = snapshot(built["incremental"]), snapshot(built["scratch"])
    for table in [*MARTS, "_meta"]:
        assert incremental[table] == scratch[table], f"{table} differs"
    assert digest(incremental) == digest(scratch)


def test_late_events_are_judged_as_if_on_time(built):
    before = {t: {r[0]: r for r in rows_} for t, rows_ in built["before_late"].items()
              if t.startswith("fct_")}  # fmt: skip
    with duckdb.connect(str(built["incremental"]), read_only=True) as con:
        facts = {r["event_id"]: r for r in rows(con, "select * from marts.fct_conversions")}
        ledger = {
            r["event_id"]: r for r in rows(con, "select * from marts.fct_unattributed_conversions")
        }
    # 20 days 3 hours after its click, imported after the day's build: attributed.
    assert LATE_CONVERSION not in before["fct_conversions"]
    assert facts[LATE_CONVERSION]["days_since_click"] == 20
    assert facts[LATE_CONVERSION]["revenue_amount"] == Decimal("77.00")
    # The late click moves its conversion from the ledger into the facts ...
    assert before["fct_unattributed_conversions"]["c-rescued"][-1] == "no_click"
    assert "c-rescued" in facts and "c-rescued" not in ledger
    # ... and an earlier imported click on the other link moves conversions the other way.
    moved = [e for e, r in before["fct_conversions"].items() if r[1] == MISMATCHED]
    assert moved
    for event_id in moved:
        assert event_id not in facts
        assert ledger[event_id]["reason"] == "link_mismatch"


def test_the_same_inputs_give_identical_marts(dbt, built):
    first = snapshot(built["scratch"])
    # Re-run everything, then re-run one partition: nothing changes.
    dbt.build(built["scratch_dir"], vars_for(D2, None))
    assert digest(snapshot(built["scratch"])) == digest(first)
    dbt.build(built["scratch_dir"], vars_for(D2, D2))
    assert digest(snapshot(built["scratch"])) == digest(first)


def test_a_warehouse_built_before_touches_builds_on_and_gains_them(dbt, built, tmp_path):
    """Staging's conversions lost `touches` (as built before the column existed): the next
    incremental run keeps the old rows, adds the column, and changes no mart."""
    data_dir = tmp_path / "older"
    shutil.copytree(built["incremental_dir"], data_dir)
    path = data_dir / "warehouse" / "warehouse.duckdb"
    before = snapshot(path)
    count = "select count(*) from staging.stg_collector__conversions"
    with duckdb.connect(str(path)) as con:
        (rows_before,) = con.execute(count).fetchone()
        con.execute("alter table staging.stg_collector__conversions drop column touches")
    dbt.build(data_dir, vars_for(D2, D2))
    assert digest(snapshot(path)) == digest(before)
    with duckdb.connect(str(path), read_only=True) as con:
        assert con.execute(count).fetchone() == (rows_before,)
        assert con.execute(
            "select count(touches) from staging.stg_collector__conversions"
        ).fetchone() == (0,)


def agg_by_day(path: Path, before: dt.date) -> list[tuple]:
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute(
            "select * from marts.agg_daily_link_metrics where metric_date < ? order by all",
            [before],
        ).fetchall()


def test_pruning_never_changes_the_daily_history(dbt, built, tmp_path):
    data_dir = tmp_path / "pruned"
    shutil.copytree(built["incremental_dir"], data_dir)
    path = data_dir / "warehouse" / "warehouse.duckdb"
    history = agg_by_day(path, D2 + dt.timedelta(days=1))
    horizon = dt.datetime.combine(D2 - dt.timedelta(days=31), dt.time())

    # Retention is at least the window + retention_beyond_window_days, and always given.
    refused = dbt.prune(data_dir, as_of=D2, retention_days=30, timezone=REPORTING_TZ)
    assert not refused.success
    assert "less than the longest window in use (30 days) + 1 = 31" in dbt.log_tail()
    refused = dbt.prune(data_dir, as_of=D2, retention_days=None, timezone=REPORTING_TZ)
    assert not refused.success
    assert "retention_days is required" in dbt.log_tail()
    with duckdb.connect(str(path), read_only=True) as con:
        (oldest,) = con.execute("select min(clicked_at) from raw.clicks").fetchone()
    assert oldest < horizon  # a refused prune removed nothing

    assert dbt.prune(data_dir, as_of=D2, retention_days=31, timezone=REPORTING_TZ).success
    with duckdb.connect(str(path), read_only=True) as con:
        for table in ["raw.clicks", "marts.fct_clicks"]:
            (oldest,) = con.execute(f"select min(clicked_at) from {table}").fetchone()
            assert oldest >= horizon, table
        (kept,) = con.execute(
            "select count(*) from marts.fct_conversions where clicked_at < ?", [horizon]
        ).fetchone()
        assert kept == 0
        (old_without_click,) = con.execute(
            "select count(*) from raw.conversions where converted_at < ? and tracking_id not in "
            "(select tracking_id from raw.clicks)",
            [horizon],
        ).fetchone()
        assert old_without_click == 0
        pruned_columns = {
            c for (c,) in con.execute(
                "select column_name from information_schema.columns "
                "where table_schema = 'retention'"
            ).fetchall()
        }  # fmt: skip
        assert not pruned_columns & {"ip_address", "user_agent", "event_data", "referrer"}
        (pruned_ids,) = con.execute("select count(*) from retention.pruned_tracking_ids").fetchone()
        assert pruned_ids > 0
    # Pruning twice changes nothing.
    assert dbt.prune(data_dir, as_of=D2, retention_days=31, timezone=REPORTING_TZ).success

    # A new day, a conversion for a click that is gone, and a click re-loaded from a stale
    # raw file: then a build that recomputes every day, pruned ones included.
    next_day = D2 + dt.timedelta(days=1)
    gone = "t-2026-01-10-0"
    with duckdb.connect(str(path)) as con:
        insert(con, "conversions", [
            ("c-for-gone", gone, L2, "purchase", Decimal("9.00"), "USD", "o-gone", "{}",
             at(next_day, 1), at(next_day, 1), "import", next_day),
        ])  # fmt: skip
        insert(con, "clicks", [r for r in CLICKS if r[1] == gone])
        insert(con, "clicks", [("k-new", "t-new", L1, at(next_day, 12), at(next_day, 12),
                                "203.0.113.0", BROWSER, None, "redirect", next_day)])  # fmt: skip
    dbt.build(data_dir, vars_for(next_day, FIRST_DAY))
    assert agg_by_day(path, next_day) == history
    with duckdb.connect(str(path), read_only=True) as con:
        (reason,) = con.execute(
            "select reason from marts.fct_unattributed_conversions where event_id = 'c-for-gone'"
        ).fetchone()
        assert reason == "click_pruned"
        (new_day,) = con.execute(
            "select clicks from marts.agg_daily_link_metrics where metric_date = ? "
            "and event_type = 'click'",
            [next_day],
        ).fetchone()
        assert new_day == 1
        assert con.execute(
            "select count(*) from marts.fct_clicks where tracking_id = ?", [gone]
        ).fetchone() == (0,)

    # A full refresh rebuilds the row-level marts but not the history: a row planted on a
    # day outside the recompute range survives, and every pruned day keeps its totals.
    with duckdb.connect(str(path)) as con:
        con.execute(
            "insert into marts.agg_daily_link_metrics values "
            "(date '2025-06-01', 'link-1', 'click', 7, 0, 0, 0)"
        )
    dbt.build(data_dir, vars_for(next_day, next_day), extra=["--full-refresh"])
    after = agg_by_day(path, next_day)
    assert [r for r in after if r[0] != dt.date(2025, 6, 1)] == history
    assert (dt.date(2025, 6, 1), L1, "click", 7, 0, 0, Decimal("0.00")) in after


LIFETIME_MARTS = lifetime_marts()
# What a warehouse pruned before pruning remembered converting clicks, conversion ids and
# its horizon lacks.
NEWER_RETENTION_TABLES = ["pruned_converting_clicks", "pruned_conversion_ids", "prune_log"]


def test_pruning_changes_no_lifetime_mart_even_on_an_older_warehouse(dbt, built, tmp_path):
    data_dir = tmp_path / "pruned"
    shutil.copytree(built["incremental_dir"], data_dir)
    path = data_dir / "warehouse" / "warehouse.duckdb"
    before = snapshot(path, LIFETIME_MARTS)
    with duckdb.connect(str(path)) as con:
        for table in NEWER_RETENTION_TABLES:
            con.execute(f"drop table if exists retention.{table}")
        con.execute("alter table marts._meta drop column if exists retained_since")

    assert dbt.prune(data_dir, as_of=D2, retention_days=31, timezone=REPORTING_TZ).success

    def retained(con) -> dict[str, object]:
        return {
            "converting": con.execute(
                "select count(*), count(distinct tracking_id) from retention.pruned_converting_clicks"
            ).fetchone(),
            "conversion_ids": con.execute(
                "select count(*), count(distinct event_id) from retention.pruned_conversion_ids"
            ).fetchone(),
            "metrics": con.execute(
                "select sum(clicks), sum(conversions), sum(revenue) "
                "from retention.pruned_daily_link_metrics"
            ).fetchall(),
            "log": con.execute("select * from retention.prune_log").fetchall(),
        }

    with duckdb.connect(str(path), read_only=True) as con:
        first = retained(con)
        ledger = con.execute("select * from marts.fct_unattributed_conversions order by all")
        ledger = ledger.fetchall()
    assert first["converting"][0] == first["converting"][1] > 0
    assert first["conversion_ids"][0] == first["conversion_ids"][1] > 0
    horizon = D2 - dt.timedelta(days=31)
    assert first["log"] == [(D2, 31, horizon)]
    # A second prune records nothing twice.
    assert dbt.prune(data_dir, as_of=D2, retention_days=31, timezone=REPORTING_TZ).success
    with duckdb.connect(str(path), read_only=True) as con:
        assert retained(con) == first
    # Pruned conversions in day partitions retention keeps are loaded again, as the next
    # run does from data/raw: they stay out rather than coming back as click_pruned.
    with duckdb.connect(str(path)) as con:
        ids = con.execute("select tracking_id from retention.pruned_tracking_ids").fetchall()
        pruned = {t for (t,) in ids}
        reloaded = [r for r in CONVERSIONS if r[1] in pruned and r[-1] >= horizon]
        assert reloaded
        insert(con, "conversions", reloaded)

    # A pipeline run (from the last day) and a hand-run build of everything.
    for start_date in (D2, None):
        dbt.build(data_dir, vars_for(D2, start_date))
        after = snapshot(path, LIFETIME_MARTS)
        for table in LIFETIME_MARTS:
            assert after[table] == before[table], f"{table} after a build from {start_date}"
        with duckdb.connect(str(path), read_only=True) as con:
            assert (
                con.execute(
                    "select * from marts.fct_unattributed_conversions order by all"
                ).fetchall()
            ) == ledger
            assert con.execute("select retained_since from marts._meta").fetchone() == (horizon,)
