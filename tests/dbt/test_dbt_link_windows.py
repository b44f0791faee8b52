"""`dbt build` for real with links that carry their own attribution window
(docs/rules.md#windows-per-link): the verdict, mart_attribution's window end,
dim_campaign_links and mart_window_sensitivity, worked out by hand below; and the prune
refusing a retention shorter than the longest window in use."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from tests.dbt.runner import Dbt
from tests.dbt.test_dbt_build import RAW_DDL, rows, second_later, ts

AS_OF = "2026-03-01"
WEEK, PLAIN = "link-week", "link-plain"

# (link, short_code, recorded_at, own window): `week` had 7 days, then 14 from 01-20.
LINK_VERSIONS = [
    (WEEK, "week", "2026-01-01 00:00:00", 7),
    (WEEK, "week", "2026-01-20 00:00:00", 14),
    (PLAIN, "plain", "2026-01-01 00:00:00", None),
]
# (tracking_id, link, clicked_at)
CLICKS = [
    ("t1", WEEK, "2026-01-05 00:00:00"),  # judged by the 7-day version
    ("t2", WEEK, "2026-01-25 00:00:00"),  # judged by the 14-day version
    ("t3", PLAIN, "2026-01-05 00:00:00"),  # the default, 30 days
]
# (event_id, tracking_id, link, event_type, revenue, order_id, converted_at)
CONVERSIONS = [
    ("c1", "t1", WEEK, "newsletter_signup", None, None, "2026-01-12 00:00:00"),  # 7 d: in
    ("c2", "t1", WEEK, "newsletter_signup", None, None, "2026-01-13 00:00:00"),  # 8 d: out
    ("c3", "t2", WEEK, "newsletter_signup", None, None, "2026-02-08 00:00:00"),  # 14 d: in
    ("c4", "t2", WEEK, "purchase", "20.00", "o1", "2026-02-09 00:00:00"),  # 15 d: out
    ("c5", "t3", PLAIN, "newsletter_signup", None, None, "2026-01-13 00:00:00"),  # 8 d: in
]


def load(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(RAW_DDL)
    con.executemany(
        "insert into raw.campaign_links values "
        "(?, ?, 'https://example.com/', null, null, null, ?, null, ?, ?, ?)",
        [
            (link, code, ts(LINK_VERSIONS[0][2]), ts(at), ts(at).date(), days)
            for link, code, at, days in LINK_VERSIONS
        ],
    )
    con.executemany(
        "insert into raw.clicks values "
        "(?, ?, ?, ?, ?, '203.0.113.0', 'Mozilla/5.0 Chrome/130.0', null, 'redirect', ?)",
        [
            (f"k-{tracking}", tracking, link, ts(at), second_later(ts(at)), ts(at).date())
            for tracking, link, at in CLICKS
        ],
    )
    con.executemany(
        "insert into raw.conversions values "
        "(?, ?, ?, ?, cast(? as decimal(10, 2)), 'USD', ?, '{}', ?, ?, 'api', ?, null)",
        [
            (event_id, tracking, link, kind, revenue, order, ts(at), second_later(ts(at)),
             ts(at).date())
            for event_id, tracking, link, kind, revenue, order, at in CONVERSIONS
        ],
    )  # fmt: skip


@pytest.fixture(scope="module")
def built(dbt: Dbt, tmp_path_factory) -> Path:
    data_dir = tmp_path_factory.mktemp("link_windows")
    warehouse = data_dir / "warehouse" / "warehouse.duckdb"
    warehouse.parent.mkdir(parents=True)
    with duckdb.connect(str(warehouse)) as con:
        load(con)
    dbt.build(data_dir, {"as_of": AS_OF, "run_id": "windows", "reporting_timezone": "UTC"})
    return data_dir


@pytest.fixture(scope="module")
def warehouse(built: Path):
    with duckdb.connect(str(built / "warehouse" / "warehouse.duckdb"), read_only=True) as con:
        yield con


def test_each_click_is_judged_by_its_links_window_at_the_click(warehouse):
    credited = rows(warehouse, "select event_id from marts.fct_conversions order by 1")
    assert [r["event_id"] for r in credited] == ["c1", "c3", "c5"]
    ledger = rows(
        warehouse, "select event_id, reason from marts.fct_unattributed_conversions order by 1"
    )
    assert ledger == [
        {"event_id": "c2", "reason": "window_expired"},
        {"event_id": "c4", "reason": "window_expired"},
    ]


def test_the_window_ends_by_the_links_window(warehouse):
    ends = {
        r["tracking_id"]: r["window_ends_at"]
        for r in rows(warehouse, "select tracking_id, window_ends_at from marts.mart_attribution")
    }
    assert ends == {
        "t1": ts("2026-01-13 00:00:00"),  # + 7 + 1 days
        "t2": ts("2026-02-09 00:00:00"),  # + 14 + 1
        "t3": ts("2026-02-05 00:00:00"),  # + 30 + 1
    }


def test_the_dimension_carries_the_current_window(warehouse):
    windows = rows(
        warehouse,
        "select campaign_link_id, attribution_window_days from marts.dim_campaign_links order by 1",
    )
    assert windows == [
        {"campaign_link_id": PLAIN, "attribution_window_days": None},
        {"campaign_link_id": WEEK, "attribution_window_days": 14},
    ]


def test_window_sensitivity_counts_each_window(warehouse):
    got = {
        (r["campaign_link_id"], r["window_days"]): (
            r["is_link_window"],
            r["conversions"],
            r["revenue"],
        )
        for r in rows(warehouse, "select * from marts.mart_window_sensitivity")
    }
    zero = Decimal("0.00")
    assert got == {
        # c1 7 d, c2 8 d, c3 14 d, c4 15 d (20.00)
        (WEEK, 1): (False, 0, zero),
        (WEEK, 7): (False, 1, zero),
        (WEEK, 14): (True, 3, zero),
        (WEEK, 30): (False, 4, Decimal("20.00")),
        # c5 8 d
        (PLAIN, 1): (False, 0, zero),
        (PLAIN, 7): (False, 0, zero),
        (PLAIN, 14): (False, 1, zero),
        (PLAIN, 30): (True, 1, zero),
    }


def test_the_prune_refuses_a_retention_shorter_than_the_longest_window(
    dbt: Dbt, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    # What the orchestration passes when a link has a 60-day window; refused before
    # anything is read or removed.
    (tmp_path / "warehouse").mkdir()
    monkeypatch.setenv("CONVTRACK_DBT_LONGEST_WINDOW_DAYS", "60")
    result = dbt.prune(tmp_path, as_of=AS_OF, retention_days=31, timezone="UTC")
    assert not result.success
    message = str(result.exception) + dbt.log_tail()
    assert "retention_days=31 is less than the longest window in use (60 days) + 1 = 61" in message
    monkeypatch.setenv("CONVTRACK_DBT_LONGEST_WINDOW_DAYS", "30")
    assert dbt.prune(tmp_path, as_of=AS_OF, retention_days=31, timezone="UTC").success
