"""`dbt build` for real, on a hand-made scenario whose marts are worked out by hand below.

The raw tables are created the way the loader creates them (each raw stream's columns,
docs/schemas.md#raw-events, plus `dt`), dbt runs (in-process, tests/dbt/runner.py) against
a DuckDB file in a temp dir, and its unit and data tests must pass before any mart value
is checked.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from convtrack.core.raw_schema import touches_json
from tests.dbt.runner import Dbt
from tests.marts import mart_tables

AS_OF = "2026-03-01"
# A zone west of UTC, so that late-evening clicks land on the previous reporting day.
REPORTING_TZ = "America/New_York"

RAW_DDL = """
create schema raw;
create table raw.clicks (
    event_id varchar, tracking_id varchar, campaign_link_id varchar,
    clicked_at timestamp, received_at timestamp, ip_address varchar,
    user_agent varchar, referrer varchar, source varchar, dt date
);
create table raw.conversions (
    event_id varchar, tracking_id varchar, campaign_link_id varchar, event_type varchar,
    revenue_amount decimal(10, 2), currency varchar, order_id varchar, event_data varchar,
    converted_at timestamp, received_at timestamp, source varchar, dt date,
    -- last, as in a warehouse whose raw table gained it (orchestration/assets/ingest.py)
    touches varchar
);
create table raw.campaign_links (
    campaign_link_id varchar, short_code varchar, destination_url varchar,
    campaign_name varchar, youtube_video_id varchar, placement varchar,
    created_at timestamp, disabled_at timestamp, recorded_at timestamp, dt date,
    -- last, as in a warehouse whose raw table gained it; null: the default window
    attribution_window_days integer
);
create table raw.refunds (
    event_id varchar, order_id varchar, amount decimal(10, 2), currency varchar,
    reason varchar, refunded_at timestamp, received_at timestamp, source varchar, dt date
);
"""

BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/130.0 Safari/537.36"
PREVIEW = "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)"

L1, L2, L3 = "link-1", "link-2", "link-3"


def ts(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


def second_later(moment: dt.datetime) -> dt.datetime:
    return moment + dt.timedelta(seconds=1)


# (campaign_link_id, short_code, campaign_name, created_at, disabled_at, recorded_at)
LINK_VERSIONS = [
    (L1, "vid1", "launch", "2026-01-01 00:00:00", None, "2026-01-01 00:00:00"),
    # A later version renames the campaign: the latest recorded_at wins.
    (L1, "vid1", "launch (renamed)", "2026-01-01 00:00:00", None, "2026-02-01 00:00:00"),
    (L2, "vid2", "course", "2026-01-01 00:00:00", None, "2026-01-01 00:00:00"),
    (L2, "vid2", "course", "2026-01-01 00:00:00", "2026-02-20 00:00:00", "2026-02-20 00:00:00"),
    # Never clicked: still one funnel row, all zeros, rates null.
    (L3, "vid3", "quiet", "2026-01-01 00:00:00", None, "2026-01-01 00:00:00"),
]

# (event_id, tracking_id, campaign_link_id, clicked_at, user_agent)
CLICKS = [
    ("k01", "t01", L1, "2026-01-10 10:00:00", BROWSER),
    ("k02", "t02", L1, "2026-01-10 12:00:00", BROWSER),
    ("k03", "t03", L1, "2026-01-15 08:00:00", BROWSER),
    ("k04", "t04", L1, "2026-01-20 09:00:00", PREVIEW),
    ("k05", "t05", L2, "2026-01-12 23:30:00", BROWSER),
    ("k06", "t06", L2, "2026-02-03 02:00:00", BROWSER),  # 2026-02-02 21:00 in New York
    ("k07", "t07", L2, "2026-01-05 00:00:00", BROWSER),  # 2026-01-04 19:00 in New York
    ("k08", "t08", L1, "2026-02-27 15:30:00", BROWSER),  # window open at as_of
    ("k09", "t09", L2, "2026-01-30 00:00:00", BROWSER),  # window ends exactly at as_of's end
    ("k10", "t10", L2, "2026-01-30 00:00:00.000001", BROWSER),  # ... one microsecond later
    ("k11", "t11", L2, "2026-02-10 12:00:00", None),  # no user agent: a bot
]
# The same k01 event received again later, from a client that would count as a bot:
# if the later copy won, L1 would lose a human click.
CLICK_RETRY = ("k01", "t01", L1, "2026-01-10 10:00:00", "curl/8.5.0")

# (event_id, tracking_id, campaign_link_id, event_type, revenue, order_id, converted_at)
CONVERSIONS = [
    ("v01", "t01", L1, "newsletter_signup", None, None, "2026-01-10 10:05:00"),
    ("v02", "t01", L1, "purchase", "49.99", "o1", "2026-01-12 00:00:00"),
    ("v03", "t01", L1, "purchase", "49.99", "o1", "2026-01-12 00:00:30"),  # duplicate_order
    ("v04", "t01", L1, "course_enrollment", "199.00", None, "2026-01-20 00:00:00"),
    ("v05", "t03", L1, "purchase", "20.00", "o2", "2026-01-15 07:57:00"),  # 3 min early: day 0
    ("v06", "t03", L1, "newsletter_signup", None, None, "2026-01-15 07:50:00"),  # before_click
    ("v07", "t04", L1, "purchase", "10.00", "o3", "2026-01-21 00:00:00"),  # via the bot click
    ("v08", "t05", L2, "purchase", "30.00", "o4", "2026-01-13 00:00:00"),
    ("v09", "t05", L1, "newsletter_signup", None, None, "2026-01-13 00:00:00"),  # link_mismatch
    ("v10", "t99", L1, "newsletter_signup", None, None, "2026-01-14 00:00:00"),  # no_click
    ("v11", "t07", L2, "purchase", "15.00", "o5", "2026-02-05 00:00:01"),  # 31 d 1 s: expired
    ("v12", "t07", L2, "course_enrollment", "100.00", None, "2026-02-04 23:59:00"),  # 30 d 23:59
    ("v13", "t06", L2, "newsletter_signup", None, None, "2026-02-03 02:30:00"),  # NY: 02-02
    ("v14", "t08", L1, "purchase", "25.50", "o6", "2026-02-28 00:00:00"),
]
# Touch paths, oldest first, the conversion's own click last: v08 came through t01 (L1)
# and t03 (clicked after v08: dropped); v14 through t06 (L2) and t99 (no such click).
# Raw text the collector could not have written is no touches: v04's path does not end
# with its own click (its last touch lacks a link), v12's is no JSON; each has its own
# click as its one touch.
TOUCHES: dict[str, list[tuple[str, str]] | str] = {
    "v08": [("t01", L1), ("t03", L1), ("t05", L2)],
    "v14": [("t06", L2), ("t99", L1), ("t08", L1)],
    "v04": f'[{{"tracking_id":"t01","campaign_link_id":"{L1}"}},{{"tracking_id":"t03"}}]',
    "v12": '[{"tracking_id":"t07",',
}
# v02 retried by the tracker with the same event_id: counts once, as first received.
CONVERSION_RETRY = ("v02", "t01", L1, "purchase", "99.99", "o1", "2026-01-12 00:00:00")


def create_raw_schema(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(RAW_DDL)


def load_scenario(con: duckdb.DuckDBPyConnection) -> None:
    con.executemany(
        "insert into raw.campaign_links values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, null)",
        [
            (
                link_id, code, f"https://example.com/{code}", name, f"yt-{code}",
                "description", ts(created), ts(disabled) if disabled else None,
                ts(recorded), ts(recorded).date(),
            )
            for link_id, code, name, created, disabled, recorded in LINK_VERSIONS
        ],
    )  # fmt: skip
    click_rows = [
        (event_id, tracking, link, ts(at), second_later(ts(at)), "203.0.113.0", ua)
        for event_id, tracking, link, at, ua in CLICKS
    ]
    retry_id, retry_tracking, retry_link, retry_at, retry_ua = CLICK_RETRY
    click_rows.append(
        (retry_id, retry_tracking, retry_link, ts(retry_at), ts("2026-01-10 10:00:09"),
         "203.0.113.0", retry_ua)
    )  # fmt: skip
    con.executemany(
        "insert into raw.clicks values (?, ?, ?, ?, ?, ?, ?, 'https://youtube.com', ?, ?)",
        [(*row, "redirect", row[3].date()) for row in click_rows],
    )
    conversion_rows = [
        (event_id, tracking, link, kind, revenue, order, ts(at), second_later(ts(at)))
        for event_id, tracking, link, kind, revenue, order, at in CONVERSIONS
    ]
    *retry, retry_at = CONVERSION_RETRY
    conversion_rows.append((*retry, ts(retry_at), ts("2026-01-12 00:05:00")))
    con.executemany(
        "insert into raw.conversions values "
        "(?, ?, ?, ?, cast(? as decimal(10, 2)), 'USD', ?, '{}', ?, ?, 'api', ?, ?)",
        [(*row, row[6].date(), touch_path(row[0])) for row in conversion_rows],
    )


def touch_path(event_id: str) -> str | None:
    """The raw column `touches` of a conversion: its path as the collector writes it."""
    path = TOUCHES.get(event_id)
    if isinstance(path, str):
        return path
    return touches_json(path and [{"tracking_id": t, "campaign_link_id": link} for t, link in path])


def build_warehouse(dbt: Dbt, data_dir: Path, *, with_scenario: bool) -> Path:
    warehouse = data_dir / "warehouse" / "warehouse.duckdb"
    warehouse.parent.mkdir(parents=True)
    with duckdb.connect(str(warehouse)) as con:
        create_raw_schema(con)
        if with_scenario:
            load_scenario(con)
    dbt.build(data_dir, {"as_of": AS_OF, "run_id": "test-run", "reporting_timezone": REPORTING_TZ})
    return warehouse


@pytest.fixture(scope="module")
def warehouse(dbt, tmp_path_factory) -> duckdb.DuckDBPyConnection:
    path = build_warehouse(dbt, tmp_path_factory.mktemp("scenario"), with_scenario=True)
    with duckdb.connect(str(path), read_only=True) as con:
        yield con


def rows(con: duckdb.DuckDBPyConnection, query: str) -> list[dict]:
    cursor = con.execute(query)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, values, strict=True)) for values in cursor.fetchall()]


def by_key(con, table: str, key: str) -> dict:
    return {row[key]: row for row in rows(con, f"select * from marts.{table}")}


def test_funnel_counts_human_clicks_and_attributed_conversions(warehouse):
    funnel = by_key(warehouse, "mart_conversion_funnel", "campaign_link_id")
    assert set(funnel) == {L1, L2, L3}

    l1 = funnel[L1]
    assert l1["campaign_name"] == "launch (renamed)"
    # k01 (its curl retry ignored), k02, k03, k08; the preview fetcher k04 is a bot.
    assert (l1["clicks"], l1["bot_clicks"]) == (4, 1)
    # t01, t03, t08 converted; t04's purchase counts, but its click is not human.
    assert l1["converting_clicks"] == 3
    assert l1["conversions"] == 6
    assert (l1["newsletter_signups"], l1["course_enrollments"], l1["purchases"]) == (1, 1, 4)
    assert l1["revenue"] == Decimal("304.49")
    assert l1["click_to_conversion_rate"] == pytest.approx(0.75)
    assert l1["newsletter_signup_rate"] == pytest.approx(0.25)
    assert l1["course_enrollment_rate"] == pytest.approx(0.25)
    assert l1["purchase_rate"] == pytest.approx(1.0)

    l2 = funnel[L2]
    assert (l2["clicks"], l2["bot_clicks"]) == (5, 1)
    assert (l2["converting_clicks"], l2["conversions"]) == (3, 3)
    assert l2["revenue"] == Decimal("130.00")
    assert l2["click_to_conversion_rate"] == pytest.approx(0.6)

    l3 = funnel[L3]
    assert (l3["clicks"], l3["conversions"], l3["revenue"]) == (0, 0, Decimal("0.00"))
    assert l3["click_to_conversion_rate"] is None
    assert l3["purchase_rate"] is None


def test_revenue_by_type(warehouse):
    got = {
        (r["campaign_link_id"], r["event_type"]): (r["conversions"], r["revenue"], r["avg_revenue"])
        for r in rows(warehouse, "select * from marts.mart_revenue_by_type")
    }
    assert got == {
        (L1, "newsletter_signup"): (1, Decimal("0.00"), Decimal("0.00")),
        (L1, "course_enrollment"): (1, Decimal("199.00"), Decimal("199.00")),
        # 49.99 + 20.00 + 10.00 + 25.50 over 4 = 26.3725
        (L1, "purchase"): (4, Decimal("105.49"), Decimal("26.37")),
        (L2, "newsletter_signup"): (1, Decimal("0.00"), Decimal("0.00")),
        (L2, "course_enrollment"): (1, Decimal("100.00"), Decimal("100.00")),
        (L2, "purchase"): (1, Decimal("30.00"), Decimal("30.00")),
    }


def test_every_unattributed_conversion_has_its_reason(warehouse):
    reasons = {
        r["event_id"]: r["reason"]
        for r in rows(warehouse, "select * from marts.fct_unattributed_conversions")
    }
    assert reasons == {
        "v03": "duplicate_order",
        "v06": "before_click",
        "v09": "link_mismatch",
        "v10": "no_click",
        "v11": "window_expired",
    }
    no_click = by_key(warehouse, "fct_unattributed_conversions", "event_id")["v10"]
    assert no_click["clicked_at"] is None
    assert no_click["days_since_click"] is None


def test_attributed_conversions_are_deduplicated_and_aged(warehouse):
    facts = by_key(warehouse, "fct_conversions", "event_id")
    assert set(facts) == {"v01", "v02", "v04", "v05", "v07", "v08", "v12", "v13", "v14"}
    assert facts["v02"]["revenue_amount"] == Decimal("49.99")  # the first received copy
    assert facts["v05"]["days_since_click"] == 0  # 3 minutes before its click
    assert facts["v12"]["days_since_click"] == 30  # 30 d 23 h 59 m


def test_clicks_are_deduplicated_with_bots_flagged(warehouse):
    clicks = by_key(warehouse, "fct_clicks", "event_id")
    assert len(clicks) == len(CLICKS)
    assert clicks["k01"]["user_agent"] == BROWSER
    assert {k for k, c in clicks.items() if c["is_bot"]} == {"k04", "k11"}


def test_attribution_window_as_of_the_end_of_the_as_of_day(warehouse):
    attribution = by_key(warehouse, "mart_attribution", "tracking_id")
    assert len(attribution) == len(CLICKS)

    t01 = attribution["t01"]
    assert (t01["conversions"], t01["revenue"]) == (3, Decimal("248.99"))
    assert t01["first_converted_at"] == ts("2026-01-10 10:05:00")
    assert t01["last_converted_at"] == ts("2026-01-20 00:00:00")
    assert attribution["t02"]["revenue"] == Decimal("0.00")

    # window_ends_at = clicked_at + 31 days; open while it is after 2026-03-02 00:00.
    assert attribution["t08"]["window_ends_at"] == ts("2026-03-30 15:30:00")
    assert attribution["t08"]["is_window_open"] is True
    assert attribution["t09"]["window_ends_at"] == ts("2026-03-02 00:00:00")
    assert attribution["t09"]["is_window_open"] is False
    assert attribution["t10"]["is_window_open"] is True
    assert attribution["t01"]["is_window_open"] is False


def test_daily_metrics_use_reporting_days(warehouse):
    daily = {
        (r["metric_date"], r["campaign_link_id"], r["event_type"]): r
        for r in rows(warehouse, "select * from marts.agg_daily_link_metrics")
    }
    day = dt.date.fromisoformat
    # k06 at 02:00 UTC on 02-03 is 21:00 on 02-02 in New York; so is v13 at 02:30 UTC.
    assert daily[(day("2026-02-02"), L2, "click")]["clicks"] == 1
    assert (day("2026-02-03"), L2, "click") not in daily
    assert daily[(day("2026-02-02"), L2, "newsletter_signup")]["conversions"] == 1
    # k09 and k10, at midnight UTC, both fall on the evening before.
    assert daily[(day("2026-01-29"), L2, "click")]["clicks"] == 2
    assert daily[(day("2026-02-10"), L2, "click")]["bot_clicks"] == 1

    # v02 at midnight UTC on 01-12 is a purchase of 01-11 in New York.
    purchases = daily[(day("2026-01-11"), L1, "purchase")]
    assert (purchases["conversions"], purchases["revenue"]) == (1, Decimal("49.99"))
    assert (day("2026-01-12"), L1, "purchase") not in daily

    click_rows = [r for r in daily.values() if r["event_type"] == "click"]
    conversion_rows = [r for r in daily.values() if r["event_type"] != "click"]
    assert sum(r["clicks"] for r in click_rows) == 9
    assert sum(r["bot_clicks"] for r in click_rows) == 2
    assert all(r["conversions"] == 0 and r["revenue"] == 0 for r in click_rows)
    assert sum(r["conversions"] for r in conversion_rows) == 9
    assert sum(r["revenue"] for r in conversion_rows) == Decimal("434.49")
    assert all(r["clicks"] == 0 and r["bot_clicks"] == 0 for r in conversion_rows)


def test_meta_describes_the_run(warehouse):
    (meta,) = rows(warehouse, "select * from marts._meta")
    assert meta["as_of"] == dt.date.fromisoformat(AS_OF)
    assert meta["run_id"] == "test-run"
    assert isinstance(meta["built_at"], dt.datetime)
    assert (meta["raw_clicks"], meta["raw_conversions"], meta["raw_campaign_links"]) == (
        len(CLICKS) + 1,
        len(CONVERSIONS) + 1,
        len(LINK_VERSIONS),
    )
    assert (meta["attributed_conversions"], meta["unattributed_conversions"]) == (9, 5)
    assert meta["retained_since"] is None  # never pruned


def test_dim_campaign_links_keeps_the_current_version(warehouse):
    links = by_key(warehouse, "dim_campaign_links", "campaign_link_id")
    assert links[L1]["campaign_name"] == "launch (renamed)"
    assert links[L1]["is_active"] is True
    assert links[L2]["is_active"] is False
    assert links[L2]["disabled_at"] == ts("2026-02-20 00:00:00")


def test_every_model_builds_on_an_empty_raw_schema(dbt, tmp_path):
    path = build_warehouse(dbt, tmp_path, with_scenario=False)
    with duckdb.connect(str(path), read_only=True) as con:
        marts = {
            name
            for (name,) in con.execute(
                "select table_name from information_schema.tables where table_schema = 'marts'"
            ).fetchall()
        }
        assert marts == set(mart_tables())
        assert con.execute("select count(*) from marts.fct_clicks").fetchone() == (0,)
        (meta,) = rows(con, "select * from marts._meta")
        assert (meta["raw_clicks"], meta["attributed_conversions"]) == (0, 0)


def test_touches_are_verified_and_counted_by_reason(warehouse):
    statuses = rows(
        warehouse,
        "select event_id, touch_position, touch_status from intermediate.int_conversion_touches "
        "where event_id in ('v04', 'v08', 'v12', 'v14') order by all",
    )
    assert [(r["event_id"], r["touch_position"], r["touch_status"]) for r in statuses] == [
        ("v04", 1, "verified"),  # its own click only: the raw text is no path it could have
        ("v08", 1, "verified"),
        ("v08", 2, "before_click"),  # t03 clicked two days after v08
        ("v08", 3, "verified"),
        ("v12", 1, "verified"),  # its own click only: the raw text is no JSON
        ("v14", 1, "verified"),
        ("v14", 2, "no_click"),
        ("v14", 3, "verified"),
    ]
    (credited,) = warehouse.execute("select count(*) from marts.fct_conversions").fetchone()
    by_reason = dict(
        warehouse.execute(
            "select touch_status, count(*) from intermediate.int_conversion_touches group by 1"
        ).fetchall()
    )
    # Each credited conversion's own click, and t01 and t06.
    assert by_reason == {"verified": credited + 2, "before_click": 1, "no_click": 1}


def test_the_verification_mart_counts_touches_per_link_and_reason(warehouse):
    """mart_touch_verification: per link named and status, touches and conversions. The
    verified: each credited conversion's own click on its link, and t01 (L1, in v08's
    path) and t06 (L2, in v14's); dropped: t03 (L1, before v08) and t99 (named with L1,
    no click)."""
    credited = dict(
        warehouse.execute(
            "select campaign_link_id, count(*) from marts.fct_conversions group by 1"
        ).fetchall()
    )
    mart = {
        (r["campaign_link_id"], r["touch_status"]): (r["touches"], r["conversions"])
        for r in rows(warehouse, "select * from marts.mart_touch_verification")
    }
    extra = {L1: 1, L2: 1}
    expected = {
        (link, "verified"): (count + extra.get(link, 0),) * 2 for link, count in credited.items()
    }
    expected[(L1, "before_click")] = (1, 1)
    expected[(L1, "no_click")] = (1, 1)
    assert mart == expected


def test_last_click_credits_are_todays_attribution(warehouse):
    """Per link and event type, last_click credits what fct_conversions holds, to the cent."""
    credits = warehouse.execute(
        "select touch_campaign_link_id, event_type, sum(credited_conversions), "
        "sum(credited_revenue) from intermediate.int_attribution_credits "
        "where attribution_model = 'last_click' group by 1, 2 order by 1, 2"
    ).fetchall()
    today = warehouse.execute(
        "select campaign_link_id, event_type, count(*), sum(revenue_amount) "
        "from marts.fct_conversions group by 1, 2 order by 1, 2"
    ).fetchall()
    assert credits == today and len(today) > 2


def test_models_split_a_path_by_their_rules(warehouse):
    """v08, 30.00: its verified touches are t01 (L1, 2 d 14 h before) and its own t05 (L2,
    30 min before). time_decay weighs each 2^(-age / 7 days)."""
    got = {
        (r["attribution_model"], r["touch_tracking_id"]): (
            r["credited_conversions"],
            r["credited_revenue"],
        )
        for r in rows(
            warehouse,
            "select * from intermediate.int_attribution_credits where event_id = 'v08'",
        )
    }
    d = Decimal
    old = 2 ** -((dt.timedelta(days=2, hours=14) / dt.timedelta(days=1)) / 7)
    new = 2 ** -((dt.timedelta(minutes=30) / dt.timedelta(days=1)) / 7)
    old_cents = 3000 * old / (old + new)  # 1310.55...: 1310, and the cent left (.55 > .45)
    assert int(old_cents) == 1310 and old_cents % 1 > 0.5
    assert got == {
        ("last_click", "t01"): (d("0"), d("0.00")),
        ("last_click", "t05"): (d("1"), d("30.00")),
        ("first_click", "t01"): (d("1"), d("30.00")),
        ("first_click", "t05"): (d("0"), d("0.00")),
        ("linear", "t01"): (d("0.5"), d("15.00")),
        ("linear", "t05"): (d("0.5"), d("15.00")),
        ("position_based", "t01"): (d("0.5"), d("15.00")),
        ("position_based", "t05"): (d("0.5"), d("15.00")),
        ("time_decay", "t01"): (
            d(round(old / (old + new), 6)).quantize(d("0.000001")),
            d("13.11"),
        ),
        ("time_decay", "t05"): (
            d(1 - round(old / (old + new), 6)).quantize(d("0.000001")),
            d("16.89"),
        ),
    }


def test_the_models_mart_moves_credit_along_the_paths(warehouse):
    """mart_attribution_models, per link and type: last_click is today's attribution
    (mart_revenue_by_type); every model hands out the same total; linear moves half of
    v08 (30.00, touches L1 then L2) to L1 and half of v14 (25.50, L2 then L1) to L2."""
    models = {
        (r["campaign_link_id"], r["event_type"], r["attribution_model"]): (
            r["credited_conversions"],
            r["credited_revenue"],
        )
        for r in rows(warehouse, "select * from marts.mart_attribution_models")
    }
    today = {
        (r["campaign_link_id"], r["event_type"]): (r["conversions"], r["revenue"])
        for r in rows(warehouse, "select * from marts.mart_revenue_by_type")
    }
    assert {k[:2]: v for k, v in models.items() if k[2] == "last_click"} == today
    for model in ("first_click", "linear", "position_based", "time_decay"):
        for event_type in {t for _, t in today}:
            got = [v for k, v in models.items() if k[1:] == (event_type, model)]
            expected = [v for k, v in today.items() if k[1] == event_type]
            assert sum(c for c, _ in got) == sum(c for c, _ in expected), (model, event_type)
            assert sum(r for _, r in got) == sum(r for _, r in expected), (model, event_type)
    d = Decimal
    l1, l2 = today[(L1, "purchase")], today[(L2, "purchase")]
    assert models[(L1, "purchase", "linear")] == (l1[0] - d("0.5") + d("0.5"), l1[1] + d("2.25"))
    assert models[(L2, "purchase", "linear")] == (l2[0] + d("0.5") - d("0.5"), l2[1] - d("2.25"))


def test_the_comparison_mart_sums_the_models_per_video(warehouse):
    """mart_model_comparison: per video, each model's column is the sum over the video's
    links; the spread is the largest minus the smallest, relative to last_click."""
    comparison = {
        r["youtube_video_id"]: r
        for r in rows(warehouse, "select * from marts.mart_model_comparison")
    }
    videos = dict(
        warehouse.execute(
            "select campaign_link_id, youtube_video_id from marts.dim_campaign_links"
        ).fetchall()
    )
    assert set(comparison) == set(videos.values())
    credits = rows(warehouse, "select * from marts.mart_attribution_models")
    models = ("last_click", "first_click", "linear", "position_based", "time_decay")
    for video, row in comparison.items():
        mine = [r for r in credits if videos[r["campaign_link_id"]] == video]
        revenue = {}
        for model in models:
            of_model = [r for r in mine if r["attribution_model"] == model]
            revenue[model] = sum((r["credited_revenue"] for r in of_model), Decimal("0"))
            assert row[f"{model}_revenue"] == revenue[model], (video, model)
            assert row[f"{model}_conversions"] == sum(
                (r["credited_conversions"] for r in of_model), Decimal("0")
            ), (video, model)
        spread = max(revenue.values()) - min(revenue.values())
        assert row["revenue_spread"] == spread
        if revenue["last_click"]:
            assert row["revenue_spread_vs_last_click"] == pytest.approx(
                float(spread / revenue["last_click"])
            )
        else:
            assert row["revenue_spread_vs_last_click"] is None
    # The scenario's paths cross L1 and L2, two videos: the models disagree on both.
    assert comparison[videos[L1]]["revenue_spread"] == comparison[videos[L2]]["revenue_spread"] > 0
