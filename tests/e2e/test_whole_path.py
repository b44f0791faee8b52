"""The whole path on real parts: HTTP to a real uvicorn, Parquet, Dagster, dbt, DuckDB.

Every expected number below is worked out by hand from the traffic the test sends.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import uuid
from decimal import Decimal
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import duckdb
import pytest
from dagster import DagsterInstance

from convtrack.core.settings import Settings
from orchestration.run import run_pipeline
from tests.conftest import start_collector, stop_collector

HUMAN = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36"
BOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"


def _iso(ts: dt.datetime) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Send the traffic, run the pipeline once; the tests read what it built."""
    tmp = tmp_path_factory.mktemp("e2e")
    data_dir = tmp / "data"
    # One worker: the admin flush below flushes the log of the worker that answers it.
    world = {"collector": start_collector(data_dir, tmp / "collector.log", workers=1)}
    try:
        world.update(_drive(world, data_dir))
        yield world
    finally:
        stop_collector(world["collector"])  # the one running now, even if _drive failed


def _click(client, code: str, agent: str = HUMAN) -> tuple[str, str]:
    resp = client.get(f"/c/{code}", headers={"User-Agent": agent})
    assert resp.status_code == 302, resp.text
    q = parse_qs(urlparse(resp.headers["location"]).query)
    return q["ct_tracking_id"][0], q["ct_campaign_link_id"][0]


def _convert(client, tracking_id, link_id, event_type, revenue=None, **extra):
    body = {"tracking_id": tracking_id, "campaign_link_id": link_id, "event_type": event_type}
    if revenue is not None:
        body["revenue_amount"] = revenue
    body.update(extra)
    resp = client.post("/api/conversions", json=body)
    assert resp.status_code == 202, resp.text
    return resp.json()["event_id"]


def _drive(world: dict, data_dir: Path) -> dict:
    collector = world["collector"]
    today = dt.datetime.now(dt.UTC).date()
    with collector.admin() as admin:
        links = {}
        for code, video in (("a", "vidAAAAAAAA"), ("b", "vidBBBBBBBB")):
            resp = admin.post(
                "/api/campaign-links",
                json={
                    "short_code": code,
                    "destination_url": f"https://creator.example/{code}?x=1#top",
                    "campaign_name": f"video {code}",
                    "youtube_video_id": video,
                    "placement": "description",
                },
            )
            assert resp.status_code == 201, resp.text
            links[code] = resp.json()["campaign_link_id"]

        # Live traffic: 4 human clicks and 1 bot on A, 2 human clicks on B.
        a = [_click(admin, "a") for _ in range(4)]
        _click(admin, "a", BOT)
        b = [_click(admin, "b") for _ in range(2)]
        order = f"order-{uuid.uuid4()}"
        first = _convert(admin, *a[0], "purchase", "10.00", order_id=order)
        # A retry of the same event (same event_id) and the same order sent again.
        assert _convert(admin, *a[0], "purchase", "10.00", order_id=order, event_id=first) == first
        dup_order = _convert(admin, *a[0], "purchase", "10.00", order_id=order)
        _convert(admin, *a[1], "newsletter_signup")
        _convert(admin, *a[2], "course_enrollment", "50.00")
        _convert(admin, *b[0], "purchase", "20.50")
        bad = admin.post(
            "/api/conversions",
            json={
                "tracking_id": a[3][0],
                "campaign_link_id": links["a"],
                "event_type": "purchase",
                "revenue_amount": "1.005",
            },
        )
        assert bad.status_code == 422

        # History, imported with its own timestamps: a click 40 days ago (old tracker,
        # UUIDv4) whose conversion came 35 days later: past the window.
        now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        old_tid = str(uuid.uuid4())
        no_click_tid = str(uuid.uuid4())
        resp = admin.post(
            "/api/admin/import",
            json={
                "clicks": [
                    {
                        "tracking_id": old_tid,
                        "campaign_link_id": links["b"],
                        "clicked_at": _iso(now - dt.timedelta(days=40)),
                        "user_agent": HUMAN,
                    },
                ],
                "conversions": [
                    {
                        "tracking_id": old_tid,
                        "campaign_link_id": links["b"],
                        "event_type": "newsletter_signup",
                        "converted_at": _iso(now - dt.timedelta(days=5)),
                    },
                    {
                        "tracking_id": no_click_tid,
                        "campaign_link_id": links["b"],
                        "event_type": "newsletter_signup",
                        "converted_at": _iso(now - dt.timedelta(days=1)),
                    },
                ],
            },
        )
        assert resp.status_code == 200, resp.text

        # Accepted events wait in the collector's append log until a segment rotates;
        # the admin flush turns them into Parquet now, with the collector still running.
        assert admin.post("/api/admin/flush").status_code == 200

    settings = Settings(data_dir=data_dir)
    run = run_pipeline(settings, today, instance=DagsterInstance.ephemeral())
    assert run is not None and run.success
    return {
        "collector": collector,
        "settings": settings,
        "links": links,
        "a": a,
        "b": b,
        "dup_order": dup_order,
        "old_tid": old_tid,
        "no_click_tid": no_click_tid,
        "today": today,
        "run": run,
    }


def _snapshot(world):
    return duckdb.connect(str(world["settings"].published_path), read_only=True)


def test_funnel_per_link_matches_the_traffic_sent(world):
    with _snapshot(world) as con:
        rows = con.execute(
            "select short_code, clicks, bot_clicks, converting_clicks, conversions, "
            "newsletter_signups, course_enrollments, purchases, revenue "
            "from mart_conversion_funnel order by short_code"
        ).fetchall()
    assert rows == [
        ("a", 4, 1, 3, 3, 1, 1, 1, Decimal("60.00")),
        # B: 2 live human clicks + 1 imported (40 days ago) human click; one purchase.
        ("b", 3, 0, 1, 1, 0, 0, 1, Decimal("20.50")),
    ]


def test_revenue_by_type(world):
    with _snapshot(world) as con:
        rows = con.execute(
            "select l.short_code, r.event_type, r.conversions, r.revenue, r.avg_revenue "
            "from mart_revenue_by_type r join dim_campaign_links l using (campaign_link_id) "
            "order by 1, 2"
        ).fetchall()
    assert rows == [
        ("a", "course_enrollment", 1, Decimal("50.00"), Decimal("50.00")),
        ("a", "newsletter_signup", 1, Decimal("0.00"), Decimal("0.00")),
        ("a", "purchase", 1, Decimal("10.00"), Decimal("10.00")),
        ("b", "purchase", 1, Decimal("20.50"), Decimal("20.50")),
    ]


def test_every_conversion_not_credited_is_in_the_ledger_with_its_reason(world):
    with _snapshot(world) as con:
        rows = dict(
            con.execute("select tracking_id, reason from fct_unattributed_conversions").fetchall()
        )
        dup = con.execute(
            "select reason from fct_unattributed_conversions where event_id = ?",
            [world["dup_order"]],
        ).fetchone()
    assert rows == {
        world["a"][0][0]: "duplicate_order",
        world["old_tid"]: "window_expired",
        world["no_click_tid"]: "no_click",
    }
    assert dup == ("duplicate_order",)


def test_meta_records_the_run(world):
    with _snapshot(world) as con:
        as_of, run_id = con.execute("select as_of, run_id from _meta").fetchone()
    assert as_of == world["today"]
    assert run_id == world["run"].run_id


def test_read_api_serves_the_snapshot(world):
    tid, link = world["a"][0]
    with world["collector"].reader() as reader:
        att = reader.get(f"/api/conversions/attribution/{tid}")
        assert att.status_code == 200, att.text
        body = att.json()
        assert body["as_of"] == world["today"].isoformat()
        assert body["campaign_link_id"] == link
        assert body["is_window_open"] is True
        assert body["conversions"] == 1
        assert [c["event_type"] for c in body["events"]] == ["purchase"]
        assert Decimal(body["revenue"]) == Decimal("10.00")

        funnel = reader.get(f"/api/conversions/funnel/{link}")
        assert funnel.status_code == 200, funnel.text
        f = funnel.json()
        assert (f["clicks"], f["converting_clicks"], f["purchases"]) == (4, 3, 1)
        assert f["click_to_conversion_rate"] == pytest.approx(3 / 4)

        types = reader.get(f"/api/conversions/types/{link}")
        assert types.status_code == 200, types.text
        by_type = {t["event_type"]: Decimal(t["revenue"]) for t in types.json()["types"]}
        assert by_type == {
            "course_enrollment": Decimal("50.00"),
            "newsletter_signup": Decimal("0.00"),
            "purchase": Decimal("10.00"),
        }
        assert reader.get(f"/api/conversions/attribution/{uuid.uuid4()}").status_code == 404
    with world["collector"].admin() as wrong_token:
        assert wrong_token.get(f"/api/conversions/funnel/{link}").status_code == 403


def test_the_duckdb_cli_that_setup_installs_reads_the_snapshot(world):
    cli = Path(sys.executable).with_name("duckdb")
    out = subprocess.run(
        [
            str(cli),
            "-readonly",
            "-csv",
            str(world["settings"].published_path),
            "-c",
            "select count(*) from mart_revenue_by_type",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.splitlines()[-1] == "4"
