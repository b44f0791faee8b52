"""Retention removes rows, never answers: build, prune, build again on a real pipeline
(Parquet files, Dagster runs, a DuckDB or a Spark warehouse, the published snapshot, the
read API), and every lifetime mart and every funnel and revenue answer stays what it was.

Only the row-level marts lose rows, exactly those of the pruned clicks (and of old
conversions without a click); an attribution lookup of a pruned click says retention
removed it.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from dagster import DagsterInstance
from fastapi.testclient import TestClient

from collector.app import create_app
from convtrack.core import raw_schema
from convtrack.core.settings import Settings
from orchestration.assets.publish import spark_table_dir, spark_table_files
from orchestration.run import run_pipeline, run_prune
from tests.collector.conftest import uuid7_at
from tests.marts import ROW_LEVEL_MARTS, RUN_METADATA, mart_tables
from tests.raw_files import write_streams

pytestmark = pytest.mark.slow

AS_OF = dt.date(2026, 3, 31)
RETENTION_DAYS = 31  # the default: window + 1
HORIZON = dt.datetime.combine(AS_OF - dt.timedelta(days=RETENTION_DAYS), dt.time())
LINK_A = "0190f1a2-0000-7000-8000-00000000000a"
LINK_B = "0190f1a2-0000-7000-8000-00000000000b"
QUIET = "0190f1a2-0000-7000-8000-00000000000c"  # never clicked
READ_TOKEN = "reader"
BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/130.0 Safari/537.36"
PREVIEW = "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)"


def day(days_before: int, hours: float = 12) -> dt.datetime:
    return dt.datetime.combine(AS_OF - dt.timedelta(days=days_before), dt.time()) + dt.timedelta(
        hours=hours
    )


class Scenario:
    """Clicks and conversions on both sides of the retention horizon."""

    def __init__(self) -> None:
        self.clicks: list[dict] = []
        self.conversions: list[dict] = []
        self.refunds: list[dict] = []
        self.pruned_tracking_ids: set[str] = set()
        self.kept_tracking_ids: set[str] = set()
        self.pruned_conversion_ids: set[str] = set()
        self.untimed_tracking_ids: set[str] = set()  # not UUIDv7: no click time inside
        # A path's first touch, retention removes its click; its conversion's own, kept.
        self.path_touch_pruned = ""
        self.path_own_kept = ""
        # A dropped touch (window_expired) of a conversion that stays; its click goes.
        self.expired_touch_pruned = ""

    def click(self, link: str, at: dt.datetime, *, ua: str | None = BROWSER, v7=True) -> str:
        tracking = uuid7_at(at) if v7 else str(uuid.uuid4())
        if not v7:
            self.untimed_tracking_ids.add(tracking)
        self.add_click(tracking, link, at, ua=ua)
        (self.pruned_tracking_ids if at < HORIZON else self.kept_tracking_ids).add(tracking)
        return tracking

    def add_click(self, tracking: str, link: str, at: dt.datetime, *, ua=BROWSER) -> None:
        self.clicks.append(
            dict(event_id=str(uuid.uuid4()), tracking_id=tracking, campaign_link_id=link,
                 clicked_at=at, received_at=at + dt.timedelta(seconds=1),
                 ip_address="203.0.113.0", user_agent=ua, referrer=None, source="import")
        )  # fmt: skip

    def convert(self, tracking, link, kind, at, revenue=None, order=None, received=None,
                touches=None):  # fmt: skip
        """`touches`: (tracking id, link) of the clicks before, oldest first; the
        conversion's own click is appended as the last."""
        event_id = str(uuid.uuid4())
        path = touches and [
            {"tracking_id": t, "campaign_link_id": k} for t, k in [*touches, (tracking, link)]
        ]
        self.conversions.append(
            dict(event_id=event_id, tracking_id=tracking, campaign_link_id=link,
                 event_type=kind, revenue_amount=None if revenue is None else Decimal(revenue),
                 currency="USD", order_id=order, event_data='{"page": "/thanks"}',
                 converted_at=at, received_at=received or at + dt.timedelta(seconds=2),
                 source="import", touches=raw_schema.touches_json(path))
        )  # fmt: skip
        return event_id

    def refund(self, order: str, amount: str, at: dt.datetime, *, event_id=None,
               received=None) -> str:  # fmt: skip
        event_id = event_id or str(uuid.uuid4())
        self.refunds.append(
            dict(event_id=event_id, order_id=order, amount=Decimal(amount), currency="USD",
                 reason="returned", refunded_at=at,
                 received_at=received or at + dt.timedelta(seconds=3), source="api")
        )  # fmt: skip
        return event_id


def scenario() -> Scenario:
    s = Scenario()
    # Old clicks (past retention), some converting in partitions retention keeps.
    a1 = s.click(LINK_A, day(50))
    s.convert(a1, LINK_A, "purchase", day(50, 14), "12.00", "o-a1")
    s.convert(a1, LINK_A, "newsletter_signup", day(49))
    a2 = s.click(LINK_A, day(40, 9))
    s.convert(a2, LINK_A, "course_enrollment", day(38), "99.00")
    s.convert(a2, LINK_A, "purchase", day(20), "30.00", "o-a2")  # a kept partition
    s.convert(a2, LINK_A, "purchase", day(5), "8.00", "o-a2-late")  # window_expired, kept day
    bot = s.click(LINK_A, day(40, 10), ua=PREVIEW)  # its purchase counts; no converting click
    s.convert(bot, LINK_A, "purchase", day(39), "7.00", "o-bot")
    s.click(LINK_A, day(45))  # no conversion
    b1 = s.click(LINK_B, day(45, 8))
    s.convert(b1, LINK_B, "newsletter_signup", day(20, 6))
    # One order twice in one import: the earlier conversion counts, the other is a duplicate.
    received = day(44, 18)
    s.convert(b1, LINK_B, "purchase", day(44, 9), "20.00", "o-b1", received=received)
    s.convert(b1, LINK_B, "purchase", day(44, 10), "20.00", "o-b1", received=received)
    b2 = s.click(LINK_B, day(33), v7=False)  # an imported id that carries no time
    s.convert(b2, LINK_B, "purchase", day(32), "41.50", "o-b2")
    s.add_click(b2, LINK_B, day(33, 13))  # the import repeats the tracking id
    s.pruned_conversion_ids.add(s.convert("no-click-old", LINK_B, "newsletter_signup", day(40)))
    # Just inside retention, and recent.
    edge = s.click(LINK_B, HORIZON + dt.timedelta(minutes=1))
    s.convert(edge, LINK_B, "purchase", day(25), "15.00", "o-edge")
    a5 = s.click(LINK_A, day(10))
    s.convert(a5, LINK_A, "purchase", day(9), "5.50", "o-a5")
    # Order o-a1 again, under a kept click: a duplicate, also once its counted copy is gone.
    s.convert(a5, LINK_A, "purchase", day(9, 14), "12.00", "o-a1")
    s.convert(a5, LINK_A, "newsletter_signup", day(9, 13))
    s.click(LINK_A, day(3), ua=None)  # no user agent: a bot
    mismatch = s.click(LINK_A, day(6))
    s.convert(mismatch, LINK_B, "purchase", day(6, 15), "3.00", "o-mismatch")
    s.convert("no-click-new", LINK_A, "newsletter_signup", day(2))
    # Touch paths across both links (docs/rules.md#touches): one that goes whole; one whose
    # conversion stays while its first touch's click goes (its credits must not move to
    # the touch left); one kept whole.
    p1 = s.click(LINK_B, day(48))
    p2 = s.click(LINK_A, day(46))
    s.convert(p2, LINK_A, "purchase", day(45), "18.00", "o-p", touches=[(p1, LINK_B)])
    s.path_touch_pruned = s.click(LINK_B, day(32))
    s.path_own_kept = s.click(LINK_A, day(30))
    s.convert(s.path_own_kept, LINK_A, "purchase", day(29), "60.00", "o-q",
              touches=[(s.path_touch_pruned, LINK_B)])  # fmt: skip
    # A conversion that stays, with a dropped touch whose click goes: 32 days before it,
    # past the window, the touch would read click_pruned once its click is pruned.
    s.expired_touch_pruned = s.click(LINK_B, day(59))
    own = s.click(LINK_A, day(28))
    s.convert(own, LINK_A, "purchase", day(27), "4.00", "o-r",
              touches=[(s.expired_touch_pruned, LINK_B)])  # fmt: skip
    # One order twice across the horizon (docs/rules.md#window-sensitivity): the pruned
    # copy, 10 days after its click, counts under 14 and 30; the kept one, received later
    # and 2 hours after its click, under 1 and 7 - after a prune as before.
    w1 = s.click(LINK_A, day(45))
    s.convert(w1, LINK_A, "purchase", day(35), "6.00", "o-w")
    w2 = s.click(LINK_B, day(20))
    s.convert(w2, LINK_B, "purchase", day(20, 14), "6.00", "o-w")
    k1 = s.click(LINK_B, day(12))
    s.convert(a5, LINK_A, "course_enrollment", day(8), "9.00", touches=[(k1, LINK_B)])
    # Refunds (docs/rules.md#refunds), never pruned. o-a1's purchase goes with its click:
    # two partials, the second crossing its 12.00; its copy under a5 is a duplicate_order.
    s.refund("o-a1", "5.00", day(10))
    s.refund("o-a1", "9.00", day(3))
    s.refund("o-p", "18.00", day(20))  # a path that goes whole, refunded in full
    s.refund("o-q", "0.01", day(5))  # its first touch's click goes: split as credited then
    retried = s.refund("o-a5", "2.50", day(8))
    s.refund("o-a5", "2.50", day(8), event_id=retried, received=day(7, 18))  # sent twice
    s.refund("o-b1", "4.00", day(30))  # the first copy of a duplicated order
    s.refund("o-edge", "1.00", day(25, 11))  # an hour before the purchase
    s.refund("o-a2-late", "8.00", day(4))  # its purchase was never credited
    s.refund("o-unknown", "3.00", day(2))
    return s


def link_row(link: str, code: str, at: dt.datetime) -> dict:
    return dict(campaign_link_id=link, short_code=code,
                destination_url=f"https://creator.example/{code}", campaign_name=code.upper(),
                youtube_video_id=f"vid-{code}", placement="description", created_at=at,
                disabled_at=None, recorded_at=at)  # fmt: skip


def write_raw(raw: Path, s: Scenario) -> None:
    """Each stream's rows into the day partition of their event time, as the collector does."""
    t0 = day(60)
    streams = {
        "campaign_links": [link_row(LINK_A, "a", t0), link_row(LINK_B, "b", t0),
                           link_row(QUIET, "q", t0)],
        "clicks": s.clicks,
        "conversions": s.conversions,
        "refunds": s.refunds,
    }  # fmt: skip
    write_streams(raw, streams)


def published_tables(settings: Settings) -> dict[str, tuple[list[tuple], list[tuple]]]:
    """Every table of the snapshot: its columns (name, type), its rows in a total order."""
    with duckdb.connect(str(settings.published_path), read_only=True) as con:
        names = [r[0] for r in con.execute("select table_name from duckdb_tables()").fetchall()]
        return {
            name: (
                [r[:2] for r in con.execute(f'describe "{name}"').fetchall()],
                con.execute(f'select * from "{name}" order by all').fetchall(),
            )
            for name in names
        }


STAGED = ("stg_collector__clicks", "stg_collector__conversions")


def staged_tracking_ids(settings: Settings) -> set[str]:
    """Every tracking id the warehouse's staging tables hold a row of, on either engine."""
    with duckdb.connect() as con:
        if settings.engine == "spark":
            tables = [
                "read_parquet(" + repr([str(f) for f in files]) + ")"
                for files in (
                    spark_table_files(spark_table_dir(settings, "staging", t)) for t in STAGED
                )
                if files
            ]
        else:
            con.execute("attach ? as wh (read_only)", [str(settings.warehouse_path)])
            tables = [f"wh.staging.{t}" for t in STAGED]
        return {
            tracking for table in tables
            for (tracking,) in con.execute(f"select distinct tracking_id from {table}").fetchall()
        }  # fmt: skip


def read_api(settings: Settings, tracking_ids: set[str]) -> dict[str, tuple[int, dict]]:
    """Every funnel and revenue-by-type answer for every link (all time, and over day
    ranges on both sides of the horizon), its attribution models, and the attribution
    lookup of every click."""
    cutoff = HORIZON.date()
    ranges = [
        (None, None),
        (None, cutoff - dt.timedelta(days=1)),
        (cutoff, None),
        (AS_OF - dt.timedelta(days=60), AS_OF),
        (AS_OF - dt.timedelta(days=45), AS_OF - dt.timedelta(days=20)),
        (AS_OF - dt.timedelta(days=9), AS_OF - dt.timedelta(days=9)),
    ]
    paths = []
    for link in (LINK_A, LINK_B, QUIET):
        for start, end in ranges:
            query = "&".join(
                f"{name}={value}" for name, value in (("from", start), ("to", end)) if value
            )
            for endpoint in ("funnel", "types"):
                paths.append(f"/api/conversions/{endpoint}/{link}?{query}")
    paths += [f"/api/conversions/models/{link}" for link in (LINK_A, LINK_B, QUIET)]
    paths += [f"/api/conversions/attribution/{t}" for t in sorted(tracking_ids)]
    headers = {"Authorization": f"Bearer {READ_TOKEN}"}
    answers = {}
    with TestClient(create_app(settings)) as client:
        for path in paths:
            response = client.get(path, headers=headers)
            answers[path] = (response.status_code, response.json())
    return answers


def without_pruned(columns: list[tuple], rows: list[tuple], s: Scenario) -> list[tuple]:
    """What retention leaves of a row-level mart: the rows of kept clicks, and no
    conversion without a click from before the horizon."""
    names = [name for name, _ in columns]
    tracking = names.index("tracking_id")
    event = names.index("event_id") if "event_id" in names else None
    return [
        r
        for r in rows
        if r[tracking] not in s.pruned_tracking_ids
        and (event is None or r[event] not in s.pruned_conversion_ids)
    ]


STEPS = ("prune", "build", "prune again", "build again")


# Five pipeline runs on Spark, each starting a JVM: longer than the suite's usual limit.
SPARK = pytest.param("spark", marks=[pytest.mark.spark, pytest.mark.timeout(3600)])


@pytest.fixture(scope="module", params=["duckdb", SPARK])
def runs(request, tmp_path_factory) -> dict:
    """The published tables and read-API answers after a build, then after each step, on
    each engine."""
    tmp = tmp_path_factory.mktemp(f"retention-{request.param}")
    s = scenario()
    with pytest.MonkeyPatch.context() as env:
        # dbt runs as a subprocess and finds the warehouse through this variable.
        env.setenv("CONVTRACK_DATA_DIR", str(tmp / "data"))
        env.setenv("CONVTRACK_ENGINE", request.param)
        env.setenv("CONVTRACK_ARCHIVE_DIR", str(tmp / "archive"))
        settings = Settings(
            data_dir=tmp / "data", archive_dir=tmp / "archive", read_token=READ_TOKEN
        )
        write_raw(settings.raw_dir, s)
        instance = DagsterInstance.ephemeral()
        every_click = s.pruned_tracking_ids | s.kept_tracking_ids
        states, staged, seconds = {}, {}, {}
        for step in ("first build", *STEPS):
            run = run_prune if step.startswith("prune") else run_pipeline
            started = time.monotonic()
            assert run(settings, AS_OF, instance=instance).success, f"{step} on {request.param}"
            seconds[step] = time.monotonic() - started
            states[step] = (published_tables(settings), read_api(settings, every_click))
            staged[step] = staged_tracking_ids(settings)
    print(f"\n{request.param}: " + ", ".join(f"{k} {v:.0f} s" for k, v in seconds.items()))
    return {
        "scenario": s, "before": states.pop("first build"), "after": states, "staged": staged,
    }  # fmt: skip


def test_the_scenario_reaches_both_sides_of_the_horizon(runs):
    s = runs["scenario"]
    tables, api = runs["before"]
    assert {status for status, _ in api.values()} == {200}
    columns, rows = tables["mart_conversion_funnel"]
    funnel = {r[0]: dict(zip([c for c, _ in columns], r, strict=True)) for r in rows}
    for link in (LINK_A, LINK_B):
        assert funnel[link]["converting_clicks"] > 0 and funnel[link]["revenue"] > 0
    assert s.pruned_tracking_ids and s.kept_tracking_ids and s.untimed_tracking_ids
    # The models share credit across links: linear is not last_click everywhere; and a
    # conversion that stays has a verified touch whose click retention removes.
    columns, rows = tables["mart_attribution_models"]
    names = [c for c, _ in columns]
    by_model = {
        (r[names.index("campaign_link_id")], r[names.index("event_type")],
         r[names.index("attribution_model")]): r[names.index("credited_revenue")]
        for r in rows
    }  # fmt: skip
    assert by_model[(LINK_B, "purchase", "linear")] != by_model[(LINK_B, "purchase", "last_click")]
    assert s.path_touch_pruned in s.pruned_tracking_ids
    assert s.path_own_kept in s.kept_tracking_ids
    # Refunds: o-a1's purchase (its click past retention) takes 5.00 and 7.00 of them on
    # LINK_A, charged to its day; the rest of them and three other refunds are ledger.
    columns, rows = tables["fct_refunds"]
    names = [c for c, _ in columns]
    refunds = sorted(
        (r[names.index("order_id")], r[names.index("campaign_link_id")],
         r[names.index("converted_at")].date(), r[names.index("credited_amount")])
        for r in rows
    )  # fmt: skip
    assert [r for r in refunds if r[0] == "o-a1"] == [
        ("o-a1", LINK_A, day(50).date(), Decimal("5.00")),
        ("o-a1", LINK_A, day(50).date(), Decimal("7.00")),
    ]
    assert len(refunds) == 6  # o-a1 twice, o-p, o-q, o-a5 once, o-b1
    columns, rows = tables["fct_unattributed_refunds"]
    names = [c for c, _ in columns]
    assert sorted((r[names.index("order_id")], r[names.index("reason")],
                   r[names.index("uncredited_amount")]) for r in rows) == [
        ("o-a1", "exceeds_order_revenue", Decimal("2.00")),
        ("o-a2-late", "order_not_credited", Decimal("8.00")),
        ("o-edge", "before_purchase", Decimal("1.00")),
        ("o-unknown", "order_not_credited", Decimal("3.00")),
    ]  # fmt: skip
    # Dropped touches are counted by reason, the expired one among them.
    columns, rows = tables["mart_touch_verification"]
    names = [c for c, _ in columns]
    statuses = {(r[names.index("campaign_link_id")], r[names.index("touch_status")]) for r in rows}
    assert (LINK_B, "window_expired") in statuses
    assert s.expired_touch_pruned in s.pruned_tracking_ids
    # LINK_B's last-click revenue per window: o-b1 20.00, b2 41.50 and o-w 6.00 within a
    # day; the edge click's 15.00 within 7; under 14 and 30, o-w is LINK_A's (its pruned
    # copy was received first), and b1's signup adds no revenue.
    columns, rows = tables["mart_window_sensitivity"]
    names = [c for c, _ in columns]
    revenue = {
        (r[names.index("campaign_link_id")], r[names.index("window_days")]):
        r[names.index("revenue")] for r in rows
    }  # fmt: skip
    assert [revenue[(LINK_B, w)] for w in (1, 7, 14, 30)] == [
        Decimal(v) for v in ("67.50", "82.50", "76.50", "76.50")
    ]
    # Retention did remove rows: the comparisons below are not between equal snapshots.
    pruned_tables, _ = runs["after"]["build again"]
    assert len(pruned_tables["fct_clicks"][1]) < len(tables["fct_clicks"][1])


@pytest.mark.parametrize("step", STEPS)
def test_retention_changes_no_mart_but_the_row_level_ones(runs, step):
    s = runs["scenario"]
    before, _ = runs["before"]
    after, _ = runs["after"][step]
    assert sorted(before) == sorted(after) == mart_tables()
    for table, (columns, rows) in after.items():
        if table == RUN_METADATA:
            continue
        expected = before[table]
        if table in ROW_LEVEL_MARTS:
            expected = (expected[0], without_pruned(*expected, s))
        assert (columns, rows) == expected, f"{table} after {step}"


@pytest.mark.parametrize("step", STEPS)
def test_no_staging_table_keeps_a_row_of_a_pruned_click(runs, step):
    # IP addresses and user agents included: on Spark the raw files of kept days are
    # read in place by every rebuild of their day, and must not bring them back.
    s = runs["scenario"]
    assert s.pruned_tracking_ids <= runs["staged"]["first build"]
    assert runs["staged"][step] & s.pruned_tracking_ids == set()


@pytest.mark.parametrize("step", STEPS)
def test_the_run_metadata_says_since_when_clicks_are_kept(runs, step):
    def meta(tables) -> dict:
        columns, (row,) = tables[RUN_METADATA]
        return dict(zip([c for c, _ in columns], row, strict=True))

    before, after = meta(runs["before"][0]), meta(runs["after"][step][0])
    assert before["retained_since"] is None
    assert after["retained_since"] == HORIZON.date()
    assert after["as_of"] == before["as_of"] == AS_OF


@pytest.mark.parametrize("step", STEPS)
def test_retention_changes_no_read_api_answer(runs, step):
    s = runs["scenario"]
    _, before = runs["before"]
    _, after = runs["after"][step]
    assert after.keys() == before.keys()
    for path, answer in after.items():
        if path.rsplit("/", 1)[-1] not in s.pruned_tracking_ids:
            assert answer == before[path], f"{path} after {step}"


@pytest.mark.parametrize("step", STEPS)
def test_a_pruned_click_is_said_to_be_removed_by_retention(runs, step):
    s = runs["scenario"]
    _, after = runs["after"][step]
    for tracking in s.pruned_tracking_ids:
        status, body = after[f"/api/conversions/attribution/{tracking}"]
        assert status == 404, body
        assert body["detail"]["field"] == "tracking_id"
        assert "retention" in body["detail"]["message"], body
        # A UUIDv7 dates its click: retention removed it. Another id might never have
        # existed: not found, with what retention removes told.
        code = "not_found" if tracking in s.untimed_tracking_ids else "click_pruned"
        assert body["detail"]["code"] == code, body
